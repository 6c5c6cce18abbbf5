"""Internet gateways: create, delete, describe, attach to a VPC and detach."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from mallee.api.context import RequestContext
from mallee.ids import new_id
from mallee.services.base import Operations, Params, Result, Runtime
from mallee.services.ec2 import errors
from mallee.services.ec2.default_vpc import default_vpc_ready
from mallee.services.ec2.filters import lookup, matches, parse_filters
from mallee.services.ec2.pagination import page
from mallee.services.ec2.tags import (
    apply_tag_specifications,
    delete_all_tags,
    register_resource_check,
    tags_for,
)
from mallee.services.ec2.vpc_rows import checked_id, gateway_of, ids_param, missing_ids, now, owned
from mallee.services.ec2.vpc_views import gateway_out
from mallee.store.tables.network import bump_network
from mallee.store.tables.vpc import Ec2InternetGateway, Ec2Route, Ec2RouteTable, Ec2Vpc

FILTERS: dict[str, Callable[[Ec2InternetGateway], Any]] = {
    "internet-gateway-id": lambda g: g.id,
    "attachment.vpc-id": lambda g: g.vpc_id,
    "attachment.state": lambda g: "available" if g.vpc_id else None,
    "owner-id": lambda g: g.account_id,
}


def _check_gateway(s: Session, account: str, gateway_id: str) -> None:
    owned(s, Ec2InternetGateway, account, gateway_id, "igw")


register_resource_check("internet-gateway", _check_gateway)


def _set_route_states(s: Session, gateway_id: str, vpc_id: str | None) -> None:
    """Routes to the gateway are active in the VPC it is attached to, blackholes elsewhere."""
    tables = select(Ec2RouteTable.id).where(Ec2RouteTable.vpc_id == vpc_id)
    routes = (Ec2Route.target_kind == "gateway", Ec2Route.target_id == gateway_id)
    s.execute(update(Ec2Route).where(*routes).values(state="blackhole"))
    if vpc_id is not None:
        s.execute(
            update(Ec2Route).where(*routes, Ec2Route.table_id.in_(tables)).values(state="active")
        )


def create_internet_gateway(rt: Runtime, ctx: RequestContext, params: Params) -> Result:
    account = ctx.principal.account_id
    with rt.store.session() as s:
        g = Ec2InternetGateway(id=new_id("igw"), account_id=account, vpc_id=None, created_at=now())
        s.add(g)
        s.flush()
        specs = params.get("TagSpecifications")
        apply_tag_specifications(s, account, specs, {"internet-gateway": [g.id]})
        tags = tags_for(s, account, [g.id]).get(g.id, {})
        return {"InternetGateway": gateway_out(g, tags)}


def delete_internet_gateway(rt: Runtime, ctx: RequestContext, params: Params) -> Result:
    gateway_id = checked_id(params.get("InternetGatewayId"), "igw", "InternetGatewayId")
    with rt.store.session() as s:
        g = owned(s, Ec2InternetGateway, ctx.principal.account_id, gateway_id, "igw")
        s.refresh(g, with_for_update=True)
        if g.vpc_id is not None:
            raise errors.has_dependencies("internetGateway", g.id)
        delete_all_tags(s, [g.id])
        s.delete(g)
        bump_network(s)
    return {}


def attach_internet_gateway(rt: Runtime, ctx: RequestContext, params: Params) -> Result:
    gateway_id = checked_id(params.get("InternetGatewayId"), "igw", "InternetGatewayId")
    vpc_id = checked_id(params.get("VpcId"), "vpc", "VpcId")
    account = ctx.principal.account_id
    with rt.store.session() as s:
        g = owned(s, Ec2InternetGateway, account, gateway_id, "igw")
        vpc = owned(s, Ec2Vpc, account, vpc_id, "vpc")
        if g.vpc_id is not None:
            raise errors.gateway_already_attached(g.id, g.vpc_id)
        other = gateway_of(s, vpc.id)
        if other is not None:
            raise errors.vpc_has_gateway(vpc.id, other.id)
        # Conditional: of two racing attaches one moves the row, the unique key stops a
        # second gateway on the same VPC.
        moved = s.execute(
            update(Ec2InternetGateway)
            .where(Ec2InternetGateway.id == g.id, Ec2InternetGateway.vpc_id.is_(None))
            .values(vpc_id=vpc.id)
            .execution_options(synchronize_session=False)
        )
        if moved.rowcount != 1:  # type: ignore[attr-defined]
            s.refresh(g)
            raise errors.gateway_already_attached(g.id, str(g.vpc_id))
        _set_route_states(s, g.id, vpc.id)
        bump_network(s)
    return {}


def detach_internet_gateway(rt: Runtime, ctx: RequestContext, params: Params) -> Result:
    gateway_id = checked_id(params.get("InternetGatewayId"), "igw", "InternetGatewayId")
    vpc_id = checked_id(params.get("VpcId"), "vpc", "VpcId")
    account = ctx.principal.account_id
    with rt.store.session() as s:
        g = owned(s, Ec2InternetGateway, account, gateway_id, "igw")
        owned(s, Ec2Vpc, account, vpc_id, "vpc")
        moved = s.execute(
            update(Ec2InternetGateway)
            .where(Ec2InternetGateway.id == g.id, Ec2InternetGateway.vpc_id == vpc_id)
            .values(vpc_id=None)
            .execution_options(synchronize_session=False)
        )
        if moved.rowcount != 1:  # type: ignore[attr-defined]
            raise errors.gateway_not_attached(g.id, vpc_id)
        _set_route_states(s, g.id, None)
        bump_network(s)
    return {}


def describe_internet_gateways(rt: Runtime, ctx: RequestContext, params: Params) -> Result:
    account = ctx.principal.account_id
    default_vpc_ready(rt, account)
    ids = ids_param(params, "InternetGatewayIds", "igw")
    with rt.store.read() as s:
        query = (
            select(Ec2InternetGateway)
            .where(Ec2InternetGateway.account_id == account)
            .order_by(Ec2InternetGateway.id)
        )
        if ids:
            query = query.where(Ec2InternetGateway.id.in_(ids))
        rows = list(s.scalars(query).all())
        tags = tags_for(s, account, [g.id for g in rows], "internet-gateway")
    missing_ids(ids, {g.id for g in rows}, "igw")
    filters = parse_filters(params.get("Filters"), FILTERS)
    chosen = [g for g in rows if matches(filters, lookup(FILTERS, g), tags.get(g.id, {}))]
    items, token = page(chosen, params, key=lambda g: g.id)
    out: Result = {"InternetGateways": [gateway_out(g, tags.get(g.id, {})) for g in items]}
    if token:
        out["NextToken"] = token
    return out


OPERATIONS: Operations = {
    "CreateInternetGateway": create_internet_gateway,
    "DeleteInternetGateway": delete_internet_gateway,
    "AttachInternetGateway": attach_internet_gateway,
    "DetachInternetGateway": detach_internet_gateway,
    "DescribeInternetGateways": describe_internet_gateways,
}
