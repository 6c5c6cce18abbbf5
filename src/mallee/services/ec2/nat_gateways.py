"""NAT gateways: rows only here. A new gateway stays `pending` until the VPC data path makes
it `available`. DeleteNatGateway makes a pending one `deleted` at once and an available one
`deleting`, which the data path makes `deleted` once it has taken the gateway down."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from mallee.api.context import RequestContext
from mallee.ids import is_id, new_id
from mallee.services.base import Operations, Params, Result, Runtime
from mallee.services.ec2 import cidrs, errors, interface_addresses
from mallee.services.ec2.filters import lookup, matches, parse_filters
from mallee.services.ec2.pagination import page
from mallee.services.ec2.tags import (
    apply_tag_specifications,
    register_resource_check,
    tags_for,
)
from mallee.services.ec2.vpc_rows import checked_id, now, owned, plan, subnet_cidr
from mallee.services.ec2.vpc_views import nat_out
from mallee.store.tables.network import Ec2Address, bump_network
from mallee.store.tables.vpc import Ec2NatGateway, Ec2Subnet
from mallee.store.tables.vpc import Ec2Route as VpcRoute

LIVE = ("pending", "available", "deleting", "failed")

FILTERS: dict[str, Callable[[Ec2NatGateway], Any]] = {
    "nat-gateway-id": lambda n: n.id,
    "state": lambda n: n.state,
    "subnet-id": lambda n: n.subnet_id,
    "vpc-id": lambda n: n.vpc_id,
}


def _check_nat(s: Session, account: str, nat_id: str) -> None:
    owned(s, Ec2NatGateway, account, nat_id, "nat")


register_resource_check("natgateway", _check_nat)


def _address(s: Session, account: str, allocation_id: str) -> Ec2Address:
    if not is_id(allocation_id, "eipalloc"):
        raise errors.malformed("elastic-ip", allocation_id, "eipalloc")
    # Locked as read: a concurrent ReleaseAddress either waits for this gateway or has
    # deleted the row when the lock is granted, and then it is not found.
    address = s.scalar(
        select(Ec2Address)
        .where(Ec2Address.allocation_id == allocation_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if address is None or address.account_id != account or not address.elastic:
        raise errors.not_found("elastic-ip", allocation_id)
    in_use = s.scalar(
        select(Ec2NatGateway.id)
        .where(Ec2NatGateway.allocation_id == allocation_id, Ec2NatGateway.state.in_(LIVE))
        .limit(1)
    )
    if address.instance_id is not None or in_use is not None:
        raise errors.address_taken(allocation_id)
    return address


def _private_ip(rt: Runtime, s: Session, subnet: Ec2Subnet) -> str:
    """The subnet's first address no interface, instance or NAT gateway holds: the same
    taken set network interfaces are given addresses from."""
    (found,) = interface_addresses.pick(rt, s, subnet, 1, set())
    return found


def create_nat_gateway(rt: Runtime, ctx: RequestContext, params: Params) -> Result:
    if str(params.get("ConnectivityType") or "public") != "public":
        raise errors.unsupported_operation("Private NAT gateways are not supported.")
    subnet_id = checked_id(params.get("SubnetId"), "subnet", "SubnetId")
    allocation_id = str(params.get("AllocationId") or "")
    if not allocation_id:
        raise errors.missing("AllocationId")
    account = ctx.principal.account_id
    with rt.store.session() as s:
        subnet = owned(s, Ec2Subnet, account, subnet_id, "subnet")
        address = _address(s, account, allocation_id)
        block = cidrs.parse(subnet_cidr(subnet, plan(rt, s)))
        if block is None:
            raise errors.invalid_value(f"Subnet {subnet.id} has no usable block")
        nat = Ec2NatGateway(
            id=new_id("nat"),
            account_id=account,
            vpc_id=subnet.vpc_id,
            subnet_id=subnet.id,
            allocation_id=allocation_id,
            public_ip=address.public_ip,
            private_ip=_private_ip(rt, s, subnet),
            network_interface_id=new_id("eni"),
            state="pending",
            created_at=now(),
        )
        s.add(nat)
        s.flush()
        specs = params.get("TagSpecifications")
        apply_tag_specifications(s, account, specs, {"natgateway": [nat.id]})
        tags = tags_for(s, account, [nat.id]).get(nat.id, {})
        bump_network(s)
        out: Result = {"NatGateway": nat_out(nat, subnet.zone, tags)}
    if params.get("ClientToken"):
        out["ClientToken"] = params["ClientToken"]
    return out


def delete_nat_gateway(rt: Runtime, ctx: RequestContext, params: Params) -> Result:
    nat_id = checked_id(params.get("NatGatewayId"), "nat", "NatGatewayId")
    with rt.store.session() as s:
        nat = owned(s, Ec2NatGateway, ctx.principal.account_id, nat_id, "nat")
        if nat.state == "deleted":
            raise errors.vpc_resource_not_found("nat", nat_id)
        # One the data path never brought up has nothing to take down: deleted at once. An
        # available one is `deleting` until the data path has removed it.
        s.execute(
            update(Ec2NatGateway)
            .where(Ec2NatGateway.id == nat.id, Ec2NatGateway.state.in_(("pending", "failed")))
            .values(state="deleted", deleted_at=now())
            .execution_options(synchronize_session=False)
        )
        s.execute(
            update(Ec2NatGateway)
            .where(Ec2NatGateway.id == nat.id, Ec2NatGateway.state == "available")
            .values(state="deleting")
            .execution_options(synchronize_session=False)
        )
        s.execute(
            update(VpcRoute)
            .where(VpcRoute.target_kind == "nat-gateway", VpcRoute.target_id == nat.id)
            .values(state="blackhole")
            .execution_options(synchronize_session=False)
        )
        bump_network(s)
    return {"NatGatewayId": nat_id}


def describe_nat_gateways(rt: Runtime, ctx: RequestContext, params: Params) -> Result:
    account = ctx.principal.account_id
    ids = [str(i) for i in params.get("NatGatewayIds") or []]
    for i in ids:
        if not is_id(i, "nat"):
            raise errors.vpc_resource_malformed("nat", i)
    with rt.store.read() as s:
        query = (
            select(Ec2NatGateway, Ec2Subnet.zone)
            .outerjoin(Ec2Subnet, Ec2Subnet.id == Ec2NatGateway.subnet_id)
            .where(Ec2NatGateway.account_id == account)
            .order_by(Ec2NatGateway.id)
        )
        if ids:
            query = query.where(Ec2NatGateway.id.in_(ids))
        rows = [(n, zone or "") for n, zone in s.execute(query).all()]
        tags = tags_for(s, account, [n.id for n, _ in rows], "natgateway")
    for i in ids:
        if i not in {n.id for n, _ in rows}:
            raise errors.vpc_resource_not_found("nat", i)
    filters = parse_filters(params.get("Filter"), FILTERS)
    chosen = [r for r in rows if matches(filters, lookup(FILTERS, r[0]), tags.get(r[0].id, {}))]
    items, token = page(chosen, params, key=lambda r: r[0].id)
    out: Result = {"NatGateways": [nat_out(n, zone, tags.get(n.id, {})) for n, zone in items]}
    if token:
        out["NextToken"] = token
    return out


OPERATIONS: Operations = {
    "CreateNatGateway": create_nat_gateway,
    "DeleteNatGateway": delete_nat_gateway,
    "DescribeNatGateways": describe_nat_gateways,
}
