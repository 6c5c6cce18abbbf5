"""Enable/DisableAvailabilityZonesForLoadBalancer (EDGE load balancers),
Attach/DetachLoadBalancerFromSubnets and ApplySecurityGroupsToLoadBalancer (load balancers in a
VPC). A change of zones moves the controller's workers: one per load balancer per zone."""

from __future__ import annotations

from sqlalchemy.orm import Session

from mallee.api.context import RequestContext
from mallee.services.base import Operations, Params, Result, Runtime
from mallee.services.elb import errors, interfaces, network, rows
from mallee.store.tables.elb import ElbLoadBalancer, bump_elb
from mallee.store.tables.vpc import Ec2Subnet


def _classic(lb: ElbLoadBalancer, operation: str) -> None:
    if lb.vpc_id:
        raise errors.invalid_configuration(
            f"{operation} is for load balancers outside a VPC; use "
            "AttachLoadBalancerToSubnets and DetachLoadBalancerFromSubnets"
        )


def _in_vpc(lb: ElbLoadBalancer, operation: str) -> None:
    if not lb.vpc_id:
        raise errors.invalid_configuration(f"{operation} is for load balancers in a VPC")


def enable_zones(rt: Runtime, ctx: RequestContext, params: Params) -> Result:
    wanted = [str(z) for z in params.get("AvailabilityZones") or []]
    with rt.store.session() as s:
        lb = rows.named(s, ctx, params)
        _classic(lb, "EnableAvailabilityZonesForLoadBalancer")
        added = rows.known_zones(rt, s, wanted)
        zones = list(dict.fromkeys([*rows.names(lb.zones), *added]))
        lb.zones = rows.dump(zones)
        bump_elb(s)
    return {"AvailabilityZones": zones}


def disable_zones(rt: Runtime, ctx: RequestContext, params: Params) -> Result:
    gone = {str(z) for z in params.get("AvailabilityZones") or []}
    with rt.store.session() as s:
        lb = rows.named(s, ctx, params)
        _classic(lb, "DisableAvailabilityZonesForLoadBalancer")
        zones = [z for z in rows.names(lb.zones) if z not in gone]
        if not zones:
            raise errors.validation("Cannot remove all Availability Zones from a load balancer")
        lb.zones = rows.dump(zones)
        bump_elb(s)
    return {"AvailabilityZones": zones}


def _set_subnets(s: Session, lb: ElbLoadBalancer, found: list[Ec2Subnet]) -> list[str]:
    ids = [r.id for r in found]
    lb.subnets = rows.dump(ids)
    lb.zones = rows.dump([r.zone for r in found])
    interfaces.sync(s, lb, found, rows.names(lb.security_groups))
    return ids


def attach_subnets(rt: Runtime, ctx: RequestContext, params: Params) -> Result:
    wanted = [str(i) for i in params.get("Subnets") or []]
    with rt.store.session() as s:
        lb = rows.named(s, ctx, params)
        _in_vpc(lb, "AttachLoadBalancerToSubnets")
        found = network.subnets(s, ctx.principal.account_id, [*rows.names(lb.subnets), *wanted])
        if found[0].vpc_id != lb.vpc_id:
            raise errors.invalid_configuration(
                f"The subnets must be in the load balancer's VPC {lb.vpc_id}"
            )
        ids = _set_subnets(s, lb, found)
        bump_elb(s)
    return {"Subnets": ids}


def detach_subnets(rt: Runtime, ctx: RequestContext, params: Params) -> Result:
    gone = {str(i) for i in params.get("Subnets") or []}
    with rt.store.session() as s:
        lb = rows.named(s, ctx, params)
        _in_vpc(lb, "DetachLoadBalancerFromSubnets")
        keep = [i for i in rows.names(lb.subnets) if i not in gone]
        if not keep:
            raise errors.invalid_configuration("Cannot detach every subnet from a load balancer")
        ids = _set_subnets(s, lb, network.subnets(s, ctx.principal.account_id, keep))
        bump_elb(s)
    return {"Subnets": ids}


def apply_security_groups(rt: Runtime, ctx: RequestContext, params: Params) -> Result:
    wanted = [str(g) for g in params.get("SecurityGroups") or []]
    with rt.store.session() as s:
        lb = rows.named(s, ctx, params)
        _in_vpc(lb, "ApplySecurityGroupsToLoadBalancer")
        if not wanted:
            raise errors.validation("SecurityGroups must name at least one security group")
        groups = network.security_groups(s, ctx.principal.account_id, str(lb.vpc_id), wanted)
        lb.security_groups = rows.dump(groups)
        found = network.subnets(s, ctx.principal.account_id, rows.names(lb.subnets))
        interfaces.sync(s, lb, found, groups)
        bump_elb(s)
    return {"SecurityGroups": groups}


OPERATIONS: Operations = {
    "EnableAvailabilityZonesForLoadBalancer": enable_zones,
    "DisableAvailabilityZonesForLoadBalancer": disable_zones,
    "AttachLoadBalancerToSubnets": attach_subnets,
    "DetachLoadBalancerFromSubnets": detach_subnets,
    "ApplySecurityGroupsToLoadBalancer": apply_security_groups,
}
