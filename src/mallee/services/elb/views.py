"""LoadBalancerDescription: one load balancer and its listeners, policies, back ends and
instances, as DescribeLoadBalancers answers it."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from functools import lru_cache
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from mallee.api.protocol.frozen import Frozen
from mallee.identity.clock import aware
from mallee.services.elb import network
from mallee.services.elb.rows import names
from mallee.store.tables.elb import (
    ElbBackendPolicies,
    ElbInstance,
    ElbListener,
    ElbLoadBalancer,
    ElbPolicy,
)

APP_COOKIE = "AppCookieStickinessPolicyType"
LB_COOKIE = "LBCookieStickinessPolicyType"


@lru_cache(maxsize=16)
def hosted_zone_id(domain: str) -> str:
    """The (stable, made-up) id of the hosted zone the cloud's ELB names live in."""
    return "Z" + hashlib.sha1(domain.encode()).hexdigest()[:13].upper()


# The columns DescribeLoadBalancers reads (in this order: LbValues).
LB_COLUMNS = (
    ElbLoadBalancer.id,
    ElbLoadBalancer.name,
    ElbLoadBalancer.dns_name,
    ElbLoadBalancer.scheme,
    ElbLoadBalancer.created_at,
    ElbLoadBalancer.zones,
    ElbLoadBalancer.subnets,
    ElbLoadBalancer.security_groups,
    ElbLoadBalancer.vpc_id,
    ElbLoadBalancer.hc_target,
    ElbLoadBalancer.hc_interval,
    ElbLoadBalancer.hc_timeout,
    ElbLoadBalancer.hc_unhealthy,
    ElbLoadBalancer.hc_healthy,
)
LbValues = tuple[Any, ...]
# (lb_port, protocol, instance_protocol, instance_port, certificate, policy names JSON)
_LISTENER_COLUMNS = (
    ElbListener.lb_port,
    ElbListener.protocol,
    ElbListener.instance_protocol,
    ElbListener.instance_port,
    ElbListener.ssl_certificate_id,
    ElbListener.policy_names,
)


@lru_cache(maxsize=4096)
def _names(text: str) -> tuple[str, ...]:
    return tuple(names(text))


def _policies_out(policies: tuple[tuple[str, str, str], ...]) -> dict[str, Any]:
    app: list[dict[str, Any]] = []
    lb: list[dict[str, Any]] = []
    other: list[str] = []
    for name, type_name, attributes in policies:
        attrs = dict(json.loads(attributes or "[]"))
        if type_name == APP_COOKIE:
            app.append({"PolicyName": name, "CookieName": attrs.get("CookieName", "")})
        elif type_name == LB_COOKIE:
            item: dict[str, Any] = {"PolicyName": name}
            period = attrs.get("CookieExpirationPeriod")
            if period not in (None, ""):
                item["CookieExpirationPeriod"] = int(period)
            lb.append(item)
        else:
            other.append(name)
    return {
        "AppCookieStickinessPolicies": app,
        "LBCookieStickinessPolicies": lb,
        "OtherPolicies": other,
    }


def _source_group(groups_json: str, groups: dict[str, tuple[str, str]]) -> tuple[str, str]:
    ids = _names(groups_json)
    found = groups.get(ids[0]) if ids else None
    # EC2-Classic: AWS's own group, which instances' rules may name as the source.
    return found if found is not None else ("amazon-elb", "amazon-elb-sg")


def _by_lb(rows: Sequence[Any]) -> dict[str, list[tuple[Any, ...]]]:
    out: dict[str, list[tuple[Any, ...]]] = {}
    for lb_id, *rest in rows:
        out.setdefault(lb_id, []).append(tuple(rest))
    return out


def describe_many(
    s: Session, lbs: Sequence[LbValues], domain: str, ids: Select[Any]
) -> list[Frozen]:
    """LoadBalancerDescriptions of `lbs` (rows of LB_COLUMNS), in their order, `ids` the
    query of their ids: one query per child table, so a page of hundreds costs what a page of
    one does (by a subquery: 400 bound ids cost SQLAlchemy more than the database), and one
    description built (and, as a Frozen, rendered) per distinct set of values."""
    conn = s.connection()
    listeners = _by_lb(
        conn.execute(
            select(ElbListener.lb_id, *_LISTENER_COLUMNS)
            .where(ElbListener.lb_id.in_(ids))
            .order_by(ElbListener.lb_port)
        ).all()
    )
    policies = _by_lb(
        conn.execute(
            select(ElbPolicy.lb_id, ElbPolicy.name, ElbPolicy.type_name, ElbPolicy.attributes)
            .where(ElbPolicy.lb_id.in_(ids))
            .order_by(ElbPolicy.name)
        ).all()
    )
    backends = _by_lb(
        conn.execute(
            select(
                ElbBackendPolicies.lb_id,
                ElbBackendPolicies.instance_port,
                ElbBackendPolicies.policy_names,
            )
            .where(ElbBackendPolicies.lb_id.in_(ids))
            .order_by(ElbBackendPolicies.instance_port)
        ).all()
    )
    instances = _by_lb(
        conn.execute(
            select(ElbInstance.lb_id, ElbInstance.instance_id)
            .where(ElbInstance.lb_id.in_(ids), ElbInstance.drain_until.is_(None))
            .order_by(ElbInstance.registered_at, ElbInstance.instance_id)
        ).all()
    )
    first_groups = {_names(lb[7])[0] for lb in lbs if _names(lb[7])}
    groups = network.owners_and_names(s, sorted(first_groups))
    return [
        _one(
            tuple(lb),
            domain,
            tuple(listeners.get(lb[0], ())),
            tuple(policies.get(lb[0], ())),
            tuple(backends.get(lb[0], ())),
            tuple(i for (i,) in instances.get(lb[0], ())),
            _source_group(lb[7], groups),
        )
        for lb in lbs
    ]


@lru_cache(maxsize=4096)
def _one(
    lb: LbValues,
    domain: str,
    listeners: tuple[tuple[Any, ...], ...],
    policies: tuple[tuple[str, str, str], ...],
    backends: tuple[tuple[int, str], ...],
    instances: tuple[str, ...],
    source_group: tuple[str, str],
) -> Frozen:
    (_, name, dns_name, scheme, created_at, zones, subnets, groups, vpc_id,
     target, interval, timeout, unhealthy, healthy) = lb  # fmt: skip
    out: dict[str, Any] = {
        "LoadBalancerName": name,
        "DNSName": dns_name,
        "ListenerDescriptions": [
            {"Listener": _listener(row), "PolicyNames": list(_names(row[5]))} for row in listeners
        ],
        "Policies": _policies_out(policies),
        "BackendServerDescriptions": [
            {"InstancePort": port, "PolicyNames": list(_names(text))}
            for port, text in backends
            if _names(text)
        ],
        "AvailabilityZones": list(_names(zones)),
        "Subnets": list(_names(subnets)),
        "Instances": [{"InstanceId": i} for i in instances],
        "HealthCheck": {
            "Target": target,
            "Interval": interval,
            "Timeout": timeout,
            "UnhealthyThreshold": unhealthy,
            "HealthyThreshold": healthy,
        },
        "SourceSecurityGroup": {"OwnerAlias": source_group[0], "GroupName": source_group[1]},
        "SecurityGroups": list(_names(groups)),
        "CreatedTime": aware(created_at),
        "Scheme": scheme,
    }
    if vpc_id:
        out["VPCId"] = vpc_id
    if scheme != "internal":
        # AWS names no hosted zone for an internal load balancer's private addresses.
        out["CanonicalHostedZoneName"] = dns_name
        out["CanonicalHostedZoneNameID"] = hosted_zone_id(domain)
    return Frozen(out)


def _listener(row: tuple[Any, ...]) -> dict[str, Any]:
    port, protocol, instance_protocol, instance_port, certificate, _ = row
    out: dict[str, Any] = {
        "Protocol": protocol,
        "LoadBalancerPort": port,
        "InstanceProtocol": instance_protocol,
        "InstancePort": instance_port,
    }
    if certificate:
        out["SSLCertificateId"] = certificate
    return out
