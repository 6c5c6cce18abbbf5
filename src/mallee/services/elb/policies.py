"""Load balancer policies: Create/Delete/DescribeLoadBalancerPolicies,
DescribeLoadBalancerPolicyTypes, the two stickiness shortcuts, and which policies a listener
(SetLoadBalancerPoliciesOfListener) or a back-end port (SetLoadBalancerPoliciesForBackendServer)
uses."""

from __future__ import annotations

import json
import re
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from mallee.api.context import RequestContext
from mallee.services.base import Operations, Params, Result, Runtime
from mallee.services.elb import checks, errors, rows
from mallee.services.elb import policy_types as pt
from mallee.store.tables.elb import (
    ElbBackendPolicies,
    ElbListener,
    ElbLoadBalancer,
    ElbPolicy,
    bump_elb,
)

MAX_POLICIES = 100
_NAME_RE = re.compile(r"^[A-Za-z0-9-]{1,255}$")
# The policy types a listener of each protocol may use, and those of a back-end port.
_LISTENER_TYPES = {
    "HTTP": {pt.LB_COOKIE, pt.APP_COOKIE},
    "HTTPS": {pt.LB_COOKIE, pt.APP_COOKIE, pt.SSL_NEGOTIATION},
    "TCP": set(),
    "SSL": {pt.SSL_NEGOTIATION},
}
_BACKEND_TYPES = {pt.PROXY_PROTOCOL, pt.BACKEND_AUTH}
_STICKY = {pt.LB_COOKIE, pt.APP_COOKIE}


def _policy_name(value: Any) -> str:
    if not isinstance(value, str) or not _NAME_RE.fullmatch(value):
        raise errors.validation("PolicyName must be 1 to 255 letters, digits and hyphens")
    return value


def _policies(s: Session, lb_id: str) -> dict[str, ElbPolicy]:
    return {p.name: p for p in s.scalars(select(ElbPolicy).where(ElbPolicy.lb_id == lb_id))}


def _add(
    s: Session, lb: ElbLoadBalancer, name: str, type_name: str, pairs: list[tuple[str, str]]
) -> None:
    have = _policies(s, lb.id)
    if name in have:
        raise errors.duplicate_policy(name)
    if len(have) >= MAX_POLICIES:
        raise errors.too_many_policies()
    pt.check_attributes(pt.BY_NAME[type_name], pairs, {n: p.type_name for n, p in have.items()})
    stored = json.dumps(_expanded(type_name, pairs))
    s.add(ElbPolicy(lb_id=lb.id, name=name, type_name=type_name, attributes=stored))
    bump_elb(s)


def create_load_balancer_policy(rt: Runtime, ctx: RequestContext, params: Params) -> Result:
    name = _policy_name(params.get("PolicyName"))
    type_name = str(params.get("PolicyTypeName") or "")
    if type_name not in pt.BY_NAME:
        raise errors.policy_type_not_found(type_name)
    pairs = [
        (str(a.get("AttributeName") or ""), str(a.get("AttributeValue") or ""))
        for a in params.get("PolicyAttributes") or []
    ]
    with rt.store.session() as s:
        _add(s, rows.named(s, ctx, params), name, type_name, pairs)
    return {}


def _expanded(type_name: str, pairs: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """A Reference-Security-Policy spelled out into the predefined policy's attributes, as
    AWS stores it, so what the worker applies is in the policy's own attributes."""
    reference = dict(pairs).get("Reference-Security-Policy")
    if type_name != pt.SSL_NEGOTIATION or reference not in pt.PREDEFINED:
        return pairs
    given = {n for n, _ in pairs}
    return pairs + [(n, v) for n, v in pt.PREDEFINED[reference] if n not in given]


def create_lb_cookie_stickiness_policy(rt: Runtime, ctx: RequestContext, params: Params) -> Result:
    name = _policy_name(params.get("PolicyName"))
    period = params.get("CookieExpirationPeriod")
    pairs = [] if period is None else [("CookieExpirationPeriod", str(period))]
    with rt.store.session() as s:
        _add(s, rows.named(s, ctx, params), name, pt.LB_COOKIE, pairs)
    return {}


def create_app_cookie_stickiness_policy(rt: Runtime, ctx: RequestContext, params: Params) -> Result:
    name = _policy_name(params.get("PolicyName"))
    pairs = [("CookieName", str(params.get("CookieName") or ""))]
    with rt.store.session() as s:
        _add(s, rows.named(s, ctx, params), name, pt.APP_COOKIE, pairs)
    return {}


def _in_use(s: Session, lb_id: str, name: str, policies: dict[str, ElbPolicy]) -> bool:
    lists = [
        *s.scalars(select(ElbListener.policy_names).where(ElbListener.lb_id == lb_id)),
        *s.scalars(
            select(ElbBackendPolicies.policy_names).where(ElbBackendPolicies.lb_id == lb_id)
        ),
    ]
    if any(name in rows.names(text) for text in lists):
        return True
    # A public key policy a back-end authentication policy names.
    return any(
        name == value
        for p in policies.values()
        if p.type_name == pt.BACKEND_AUTH
        for _, value in json.loads(p.attributes)
    )


def delete_load_balancer_policy(rt: Runtime, ctx: RequestContext, params: Params) -> Result:
    name = str(params.get("PolicyName") or "")
    with rt.store.session() as s:
        lb = rows.named(s, ctx, params)
        policies = _policies(s, lb.id)
        if name not in policies:
            return {}
        if _in_use(s, lb.id, name, policies):
            raise errors.invalid_configuration(
                f"Policy {name} is in use: remove it from its listeners and back ends first"
            )
        s.execute(delete(ElbPolicy).where(ElbPolicy.lb_id == lb.id, ElbPolicy.name == name))
        bump_elb(s)
    return {}


def _policy_out(name: str, type_name: str, pairs: list[tuple[str, str]]) -> dict[str, Any]:
    return {
        "PolicyName": name,
        "PolicyTypeName": type_name,
        "PolicyAttributeDescriptions": [
            {"AttributeName": k, "AttributeValue": v} for k, v in pairs
        ],
    }


def describe_load_balancer_policies(rt: Runtime, ctx: RequestContext, params: Params) -> Result:
    wanted = [str(n) for n in params.get("PolicyNames") or []]
    if params.get("LoadBalancerName") is None:
        # AWS: without a load balancer, its predefined policies.
        found = {n: _policy_out(n, pt.SSL_NEGOTIATION, pairs) for n, pairs in pt.PREDEFINED.items()}
    else:
        with rt.store.read() as s:
            lb = rows.named(s, ctx, params)
            found = {
                p.name: _policy_out(
                    p.name, p.type_name, [(str(k), str(v)) for k, v in json.loads(p.attributes)]
                )
                for p in sorted(_policies(s, lb.id).values(), key=lambda p: p.name)
            }
    missing = [n for n in wanted if n not in found]
    if missing:
        raise errors.policy_not_found(f"There is no policy with name {missing[0]}")
    chosen = [found[n] for n in wanted] if wanted else list(found.values())
    return {"PolicyDescriptions": chosen}


def describe_load_balancer_policy_types(rt: Runtime, ctx: RequestContext, params: Params) -> Result:
    wanted = [str(n) for n in params.get("PolicyTypeNames") or []]
    missing = [n for n in wanted if n not in pt.BY_NAME]
    if missing:
        raise errors.policy_type_not_found(missing[0])
    chosen = [pt.BY_NAME[n] for n in wanted] if wanted else list(pt.TYPES)
    out = []
    for t in chosen:
        attributes = []
        for a in t.attributes:
            item: dict[str, Any] = {
                "AttributeName": a.name,
                "AttributeType": a.kind,
                "Cardinality": a.cardinality,
            }
            if a.description:
                item["Description"] = a.description
            if a.default is not None:
                item["DefaultValue"] = a.default
            attributes.append(item)
        out.append(
            {
                "PolicyTypeName": t.name,
                "Description": t.description,
                "PolicyAttributeTypeDescriptions": attributes,
            }
        )
    return {"PolicyTypeDescriptions": out}


def _chosen(s: Session, lb_id: str, params: Params) -> list[ElbPolicy]:
    names = list(dict.fromkeys(str(n) for n in params.get("PolicyNames") or []))
    policies = _policies(s, lb_id)
    missing = [n for n in names if n not in policies]
    if missing:
        raise errors.policy_not_found(f"There is no policy with name {missing[0]}")
    return [policies[n] for n in names]


def set_policies_of_listener(rt: Runtime, ctx: RequestContext, params: Params) -> Result:
    port = checks.port(params.get("LoadBalancerPort"), "LoadBalancerPort")
    with rt.store.session() as s:
        lb = rows.named(s, ctx, params)
        listener = s.get(ElbListener, (lb.id, port))
        if listener is None:
            raise errors.listener_not_found(lb.name, port)
        chosen = _chosen(s, lb.id, params)
        allowed = _LISTENER_TYPES[listener.protocol]
        for p in chosen:
            if p.type_name not in allowed:
                raise errors.invalid_configuration(
                    f"{p.type_name} policies cannot be enabled on a {listener.protocol} listener"
                )
        if sum(p.type_name in _STICKY for p in chosen) > 1:
            raise errors.invalid_configuration("A listener may have one stickiness policy")
        if sum(p.type_name == pt.SSL_NEGOTIATION for p in chosen) > 1:
            raise errors.invalid_configuration("A listener may have one SSL negotiation policy")
        listener.policy_names = rows.dump([p.name for p in chosen])
        bump_elb(s)
    return {}


def set_policies_for_backend_server(rt: Runtime, ctx: RequestContext, params: Params) -> Result:
    port = checks.port(params.get("InstancePort"), "InstancePort")
    with rt.store.session() as s:
        lb = rows.named(s, ctx, params)
        chosen = _chosen(s, lb.id, params)
        for p in chosen:
            if p.type_name not in _BACKEND_TYPES:
                raise errors.invalid_configuration(
                    f"{p.type_name} policies cannot be enabled on a back-end server"
                )
            if p.type_name == pt.BACKEND_AUTH:
                # HAProxy verifies a back end against CA certificates, not against a pinned
                # public key: enabling it would promise an authentication nothing performs.
                raise errors.invalid_configuration(
                    "BackendServerAuthenticationPolicyType policies cannot be enabled in this"
                    " cloud: its load balancers cannot check a back end's public key"
                )
        row = s.get(ElbBackendPolicies, (lb.id, port))
        if not chosen:
            if row is not None:
                s.delete(row)
        elif row is None:
            s.add(
                ElbBackendPolicies(
                    lb_id=lb.id,
                    instance_port=port,
                    policy_names=rows.dump([p.name for p in chosen]),
                )
            )
        else:
            row.policy_names = rows.dump([p.name for p in chosen])
        bump_elb(s)
    return {}


OPERATIONS: Operations = {
    "CreateLoadBalancerPolicy": create_load_balancer_policy,
    "CreateLBCookieStickinessPolicy": create_lb_cookie_stickiness_policy,
    "CreateAppCookieStickinessPolicy": create_app_cookie_stickiness_policy,
    "DeleteLoadBalancerPolicy": delete_load_balancer_policy,
    "DescribeLoadBalancerPolicies": describe_load_balancer_policies,
    "DescribeLoadBalancerPolicyTypes": describe_load_balancer_policy_types,
    "SetLoadBalancerPoliciesOfListener": set_policies_of_listener,
    "SetLoadBalancerPoliciesForBackendServer": set_policies_for_backend_server,
}
