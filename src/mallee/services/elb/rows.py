"""The rows every ELB operation starts from: the caller's load balancer by name, its JSON list
columns, the cloud's zones, and the ARNs the operations are authorized on."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from mallee.api.context import RequestContext
from mallee.registry import dns_domains
from mallee.services.base import Runtime
from mallee.services.elb import errors
from mallee.store.tables.compute import NodeRow
from mallee.store.tables.elb import ElbLoadBalancer

# Operations that name one load balancer (LoadBalancerName) or several (LoadBalancerNames).
_MANY = frozenset({"DescribeLoadBalancers", "AddTags", "RemoveTags", "DescribeTags"})
_NONE = frozenset({"DescribeLoadBalancerPolicyTypes", "DescribeAccountLimits"})


def lb_arn(region: str, account_id: str, name: str) -> str:
    return f"arn:aws:elasticloadbalancing:{region}:{account_id}:loadbalancer/{name}"


def resources(ctx: RequestContext) -> list[str]:
    """The load balancers an operation touches, as IAM sees them ("*" when it names none)."""
    op, params, account = ctx.operation_name, ctx.params, ctx.principal.account_id
    if op in _NONE:
        return ["*"]
    if op in _MANY:
        names = [str(n) for n in params.get("LoadBalancerNames") or []]
        return [lb_arn(ctx.region, account, n) for n in names] or ["*"]
    name = params.get("LoadBalancerName")
    if name is None:
        return ["*"]
    return [lb_arn(ctx.region, account, str(name))]


def find(s: Session, account_id: str, name: str) -> ElbLoadBalancer | None:
    return s.scalars(
        select(ElbLoadBalancer).where(
            ElbLoadBalancer.account_id == account_id, ElbLoadBalancer.name == str(name)
        )
    ).first()


def named(s: Session, ctx: RequestContext, params: dict[str, Any]) -> ElbLoadBalancer:
    """The caller's load balancer LoadBalancerName names, or LoadBalancerNotFound."""
    name = str(params.get("LoadBalancerName") or "")
    found = find(s, ctx.principal.account_id, name)
    if found is None:
        raise errors.lb_not_found(name)
    return found


def names(text: str) -> list[str]:
    value = json.loads(text or "[]")
    return [str(v) for v in value] if isinstance(value, list) else []


def dump(values: Sequence[Any]) -> str:
    return json.dumps(list(values))


def cloud_zones(rt: Runtime, s: Session) -> list[str]:
    """The cloud's zones, as EC2's DescribeAvailabilityZones lists them (its nodes' zones and
    the cloud-in-a-box's own)."""
    return sorted(set(s.scalars(select(NodeRow.zone)).all()) | {rt.settings.zone})


def known_zones(rt: Runtime, s: Session, wanted: Sequence[str]) -> list[str]:
    zones = set(cloud_zones(rt, s))
    unknown = [z for z in wanted if z not in zones]
    if unknown:
        raise errors.validation(f"Invalid Availability Zone: {unknown[0]}")
    return list(dict.fromkeys(wanted))


def elb_domain(rt: Runtime) -> str:
    """<region>.elb.<the cloud's DNS domain> (mallee.dns_names): the domain load balancer
    names live under, which the nodes' DNS servers answer for."""
    return dns_domains.elb_domain(rt.store, rt.settings.region)
