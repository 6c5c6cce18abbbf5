"""Route tables: the tables, their routes and their associations with subnets (or the VPC's
main association)."""

from __future__ import annotations

import ipaddress
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from mallee.api.context import RequestContext
from mallee.ids import is_id, new_id
from mallee.services.base import Operations, Params, Result, Runtime
from mallee.services.ec2 import cidrs, errors
from mallee.services.ec2.default_vpc import default_vpc_ready
from mallee.services.ec2.filters import lookup, matches, parse_filters
from mallee.services.ec2.interface_views import live_query
from mallee.services.ec2.pagination import page
from mallee.services.ec2.tags import (
    apply_tag_specifications,
    delete_all_tags,
    register_resource_check,
    tags_for,
)
from mallee.services.ec2.vpc_rows import (
    checked_id,
    ids_param,
    missing_ids,
    now,
    owned,
    plan,
    subnet_cidr,
    vpc_cidr,
)
from mallee.services.ec2.vpc_views import table_out
from mallee.store.tables.ec2 import Ec2Instance
from mallee.store.tables.interfaces import Ec2NetworkInterface
from mallee.store.tables.network import bump_network
from mallee.store.tables.vpc import (
    Ec2InternetGateway,
    Ec2NatGateway,
    Ec2Route,
    Ec2RouteTable,
    Ec2RouteTableAssociation,
    Ec2Subnet,
    Ec2Vpc,
)

# Request member -> (route target kind, id prefix)
_TARGETS = {
    "GatewayId": ("gateway", "igw"),
    "NatGatewayId": ("nat-gateway", "nat"),
    "InstanceId": ("instance", "i"),
    "NetworkInterfaceId": ("network-interface", "eni"),
}
_UNSUPPORTED_TARGETS = (
    "VpcPeeringConnectionId",
    "TransitGatewayId",
    "EgressOnlyInternetGatewayId",
    "LocalGatewayId",
    "CarrierGatewayId",
    "VpcEndpointId",
    "CoreNetworkArn",
    "DestinationPrefixListId",
    "DestinationIpv6CidrBlock",
)


def _check_table(s: Session, account: str, table_id: str) -> None:
    owned(s, Ec2RouteTable, account, table_id, "rtb")


register_resource_check("route-table", _check_table)


@dataclass(frozen=True, slots=True)
class _View:
    table: Ec2RouteTable
    vpc: Ec2Vpc
    routes: list[Ec2Route]
    associations: list[Ec2RouteTableAssociation]


def _routes_of(view: _View, kind: str) -> list[str]:
    return [r.target_id for r in view.routes if r.target_kind == kind]


FILTERS: dict[str, Callable[[_View], Any]] = {
    "route-table-id": lambda v: v.table.id,
    "vpc-id": lambda v: v.table.vpc_id,
    "owner-id": lambda v: v.table.account_id,
    "association.route-table-association-id": lambda v: [a.id for a in v.associations],
    "association.route-table-id": lambda v: [a.table_id for a in v.associations],
    "association.subnet-id": lambda v: [a.subnet_id for a in v.associations if a.subnet_id],
    "association.main": lambda v: v.table.is_main,
    "route.destination-cidr-block": lambda v: [r.destination for r in v.routes],
    "route.gateway-id": lambda v: _routes_of(v, "gateway") + _routes_of(v, "local"),
    "route.nat-gateway-id": lambda v: _routes_of(v, "nat-gateway"),
    "route.instance-id": lambda v: _routes_of(v, "instance"),
    "route.state": lambda v: [r.state for r in v.routes],
    "route.origin": lambda v: [r.origin for r in v.routes],
}


def _owned_association(s: Session, account: str, association_id: str) -> Ec2RouteTableAssociation:
    if not is_id(association_id, "rtbassoc"):
        raise errors.vpc_resource_malformed("rtbassoc", association_id)
    a = s.get(Ec2RouteTableAssociation, association_id)
    table = s.get(Ec2RouteTable, a.table_id) if a is not None else None
    if a is None or table is None or table.account_id != account:
        raise errors.vpc_resource_not_found("rtbassoc", association_id)
    return a


def create_route_table(rt: Runtime, ctx: RequestContext, params: Params) -> Result:
    vpc_id = checked_id(params.get("VpcId"), "vpc", "VpcId")
    account = ctx.principal.account_id
    with rt.store.session() as s:
        vpc = owned(s, Ec2Vpc, account, vpc_id, "vpc")
        table = Ec2RouteTable(
            id=new_id("rtb"), vpc_id=vpc.id, account_id=account, is_main=False, created_at=now()
        )
        s.add(table)
        s.flush()
        local = Ec2Route(
            table_id=table.id,
            destination=vpc.cidr,
            target_kind="local",
            target_id="local",
            origin="CreateRouteTable",
            state="active",
        )
        s.add(local)
        specs = params.get("TagSpecifications")
        apply_tag_specifications(s, account, specs, {"route-table": [table.id]})
        tags = tags_for(s, account, [table.id]).get(table.id, {})
        bump_network(s)
        return {"RouteTable": table_out(table, vpc, plan(rt, s), [local], [], tags)}


def delete_route_table(rt: Runtime, ctx: RequestContext, params: Params) -> Result:
    table_id = checked_id(params.get("RouteTableId"), "rtb", "RouteTableId")
    with rt.store.session() as s:
        table = owned(s, Ec2RouteTable, ctx.principal.account_id, table_id, "rtb")
        s.refresh(table, with_for_update=True)
        associated = s.scalar(
            select(Ec2RouteTableAssociation.id)
            .where(Ec2RouteTableAssociation.table_id == table.id)
            .limit(1)
        )
        if table.is_main or associated is not None:
            raise errors.has_dependencies("routeTable", table.id)
        delete_all_tags(s, [table.id])
        s.delete(table)
        bump_network(s)
    return {}


def _views(s: Session, tables: list[Ec2RouteTable]) -> list[_View]:
    ids = [t.id for t in tables]
    routes: dict[str, list[Ec2Route]] = defaultdict(list)
    associations: dict[str, list[Ec2RouteTableAssociation]] = defaultdict(list)
    vpcs: dict[str, Ec2Vpc] = {}
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        for r in s.scalars(
            select(Ec2Route).where(Ec2Route.table_id.in_(chunk)).order_by(Ec2Route.id)
        ):
            routes[r.table_id].append(r)
        for a in s.scalars(
            select(Ec2RouteTableAssociation).where(Ec2RouteTableAssociation.table_id.in_(chunk))
        ):
            associations[a.table_id].append(a)
    wanted = sorted({t.vpc_id for t in tables})
    for start in range(0, len(wanted), 500):
        for v in s.scalars(select(Ec2Vpc).where(Ec2Vpc.id.in_(wanted[start : start + 500]))):
            vpcs[v.id] = v
    return [
        _View(t, vpcs[t.vpc_id], routes[t.id], associations[t.id])
        for t in tables
        if t.vpc_id in vpcs
    ]


def describe_route_tables(rt: Runtime, ctx: RequestContext, params: Params) -> Result:
    account = ctx.principal.account_id
    default_vpc_ready(rt, account)
    ids = ids_param(params, "RouteTableIds", "rtb")
    with rt.store.read() as s:
        p = plan(rt, s)
        query = (
            select(Ec2RouteTable)
            .where(Ec2RouteTable.account_id == account)
            .order_by(Ec2RouteTable.id)
        )
        if ids:
            query = query.where(Ec2RouteTable.id.in_(ids))
        views = _views(s, list(s.scalars(query).all()))
        tags = tags_for(s, account, [v.table.id for v in views], "route-table")
    missing_ids(ids, {v.table.id for v in views}, "rtb")
    filters = parse_filters(params.get("Filters"), FILTERS)
    chosen = [v for v in views if matches(filters, lookup(FILTERS, v), tags.get(v.table.id, {}))]
    items, token = page(chosen, params, key=lambda v: v.table.id, max_bounds=(5, 100))
    out: Result = {
        "RouteTables": [
            table_out(v.table, v.vpc, p, v.routes, v.associations, tags.get(v.table.id, {}))
            for v in items
        ]
    }
    if token:
        out["NextToken"] = token
    return out


# Routes -------------------------------------------------------------------------------------


def _destination(params: Params) -> str:
    raw = params.get("DestinationCidrBlock")
    for name in _UNSUPPORTED_TARGETS:
        if params.get(name):
            raise errors.unsupported_operation(f"{name} is not supported.")
    if not raw:
        raise errors.missing("destinationCidrBlock")
    block = cidrs.parse(str(raw))
    if block is None:
        raise errors.invalid_parameter("destinationCidrBlock", raw)
    return str(block)


def _target(s: Session, account: str, table: Ec2RouteTable, params: Params) -> tuple[str, str]:
    """The (kind, id) a route names: exactly one target, the caller's, in the table's VPC."""
    given = [(name, str(params[name])) for name in _TARGETS if params.get(name)]
    if not given:
        raise errors.missing("gatewayId, natGatewayId, instanceId or networkInterfaceId")
    if len(given) > 1:
        raise errors.invalid_combination(
            "The parameters " + ", ".join(n for n, _ in given) + " cannot be used together."
        )
    name, target_id = given[0]
    kind, prefix = _TARGETS[name]
    vpc = s.get(Ec2Vpc, table.vpc_id)
    if kind == "gateway":
        g = owned(s, Ec2InternetGateway, account, target_id, "igw")
        if g.vpc_id != table.vpc_id:
            raise errors.different_networks(table.id, g.id)
    elif kind == "nat-gateway":
        nat = owned(s, Ec2NatGateway, account, target_id, "nat")
        if nat.state in ("deleting", "deleted"):
            raise errors.vpc_resource_not_found("nat", target_id)
        if nat.vpc_id != table.vpc_id:
            raise errors.different_networks(table.id, nat.id)
    elif kind == "instance":
        if not is_id(target_id, prefix):
            raise errors.malformed("instance", target_id)
        instance = s.get(Ec2Instance, target_id)
        if instance is None or instance.account_id != account or instance.state == "terminated":
            raise errors.not_found("instance", target_id)
        # Instances from before VPCs have none recorded: they are the default VPC's.
        in_vpc = instance.vpc_id or (vpc.id if vpc is not None and vpc.is_default else None)
        if in_vpc != table.vpc_id:
            raise errors.different_networks(table.id, target_id)
    else:
        if not is_id(target_id, prefix):
            raise errors.malformed("network-interface", target_id)
        eni = s.execute(live_query(account).where(Ec2NetworkInterface.id == target_id)).first()
        if eni is None:
            raise errors.not_found("network-interface", target_id)
        if eni.vpc_id != table.vpc_id:
            raise errors.different_networks(table.id, target_id)
    return kind, target_id


def _route(s: Session, table_id: str, destination: str) -> Ec2Route | None:
    return s.scalar(
        select(Ec2Route).where(Ec2Route.table_id == table_id, Ec2Route.destination == destination)
    )


def _local_destination(s: Session, rt: Runtime, table: Ec2RouteTable) -> str:
    vpc = s.get(Ec2Vpc, table.vpc_id)
    return vpc_cidr(vpc, plan(rt, s)) if vpc is not None else ""


_INSIDE_TARGETS = ("instance", "network-interface", "nat-gateway")


def _check_inside(
    s: Session, rt: Runtime, table: Ec2RouteTable, destination: str, kind: str
) -> None:
    """A destination within the VPC's CIDR (more specific than the local route) must be a
    whole subnet's CIDR sent to an appliance, as AWS's more specific routing: anything else
    would take traffic between subnets, or a part of a subnet, away from the local route."""
    local = _local_destination(s, rt, table)
    if not local:
        return
    dest, vpc_net = ipaddress.IPv4Network(destination), ipaddress.IPv4Network(local)
    if not dest.subnet_of(vpc_net) or dest == vpc_net:
        return
    p = plan(rt, s)
    subnets = s.scalars(select(Ec2Subnet).where(Ec2Subnet.vpc_id == table.vpc_id)).all()
    if kind in _INSIDE_TARGETS and destination in {subnet_cidr(x, p) for x in subnets}:
        return
    raise errors.invalid_value(
        f"The destination CIDR block {destination} is equal to or more specific than one of "
        "this VPC's CIDR blocks. This route can target only an interface or an instance, "
        "for a destination equal to a subnet's CIDR block."
    )


def create_route(rt: Runtime, ctx: RequestContext, params: Params) -> Result:
    table_id = checked_id(params.get("RouteTableId"), "rtb", "RouteTableId")
    destination = _destination(params)
    account = ctx.principal.account_id
    with rt.store.session() as s:
        table = owned(s, Ec2RouteTable, account, table_id, "rtb")
        kind, target_id = _target(s, account, table, params)
        if _route(s, table.id, destination) is not None or destination == _local_destination(
            s, rt, table
        ):
            raise errors.route_exists(destination)
        _check_inside(s, rt, table, destination, kind)
        route = Ec2Route(
            table_id=table.id,
            destination=destination,
            target_kind=kind,
            target_id=target_id,
            origin="CreateRoute",
            state="active",
        )
        try:
            with s.begin_nested():
                s.add(route)
                s.flush()
        except IntegrityError as err:
            raise errors.route_exists(destination) from err
        bump_network(s)
    return {"Return": True}


def _existing_route(s: Session, rt: Runtime, table: Ec2RouteTable, destination: str) -> Ec2Route:
    route = _route(s, table.id, destination)
    if route is None:
        raise errors.route_not_found(destination, table.id)
    if route.target_kind == "local" or destination == _local_destination(s, rt, table):
        raise errors.invalid_value(
            f"cannot remove local route {destination} in route table {table.id}"
        )
    return route


def delete_route(rt: Runtime, ctx: RequestContext, params: Params) -> Result:
    table_id = checked_id(params.get("RouteTableId"), "rtb", "RouteTableId")
    destination = _destination(params)
    with rt.store.session() as s:
        table = owned(s, Ec2RouteTable, ctx.principal.account_id, table_id, "rtb")
        route = _existing_route(s, rt, table, destination)
        s.delete(route)
        bump_network(s)
    return {}


def replace_route(rt: Runtime, ctx: RequestContext, params: Params) -> Result:
    table_id = checked_id(params.get("RouteTableId"), "rtb", "RouteTableId")
    destination = _destination(params)
    account = ctx.principal.account_id
    with rt.store.session() as s:
        table = owned(s, Ec2RouteTable, account, table_id, "rtb")
        route = _existing_route(s, rt, table, destination)
        route.target_kind, route.target_id = _target(s, account, table, params)
        _check_inside(s, rt, table, destination, route.target_kind)
        route.state = "active"
        route.origin = "ReplaceRoute"
        bump_network(s)
    return {}


# Associations -------------------------------------------------------------------------------


def associate_route_table(rt: Runtime, ctx: RequestContext, params: Params) -> Result:
    table_id = checked_id(params.get("RouteTableId"), "rtb", "RouteTableId")
    if params.get("GatewayId"):
        raise errors.unsupported_operation("Gateway route table associations are not supported.")
    subnet_id = checked_id(params.get("SubnetId"), "subnet", "SubnetId")
    account = ctx.principal.account_id
    with rt.store.session() as s:
        table = owned(s, Ec2RouteTable, account, table_id, "rtb")
        subnet = owned(s, Ec2Subnet, account, subnet_id, "subnet")
        if subnet.vpc_id != table.vpc_id:
            raise errors.invalid_value(
                f"Route table {table.id} and subnet {subnet.id} belong to different networks"
            )
        taken = s.scalar(
            select(Ec2RouteTableAssociation).where(Ec2RouteTableAssociation.subnet_id == subnet.id)
        )
        if taken is not None:
            raise errors.subnet_already_associated(subnet.id, taken.table_id)
        a = Ec2RouteTableAssociation(
            id=new_id("rtbassoc"), table_id=table.id, subnet_id=subnet.id, main=False
        )
        try:
            with s.begin_nested():
                s.add(a)
                s.flush()
        except IntegrityError as err:
            raise errors.subnet_already_associated(subnet.id, table.id) from err
        bump_network(s)
    return {"AssociationId": a.id, "AssociationState": {"State": "associated"}}


def disassociate_route_table(rt: Runtime, ctx: RequestContext, params: Params) -> Result:
    association_id = str(params.get("AssociationId") or "")
    with rt.store.session() as s:
        a = _owned_association(s, ctx.principal.account_id, association_id)
        if a.main:
            raise errors.invalid_value(
                f"cannot disassociate the main route table association {a.id}"
            )
        s.delete(a)
        bump_network(s)
    return {}


def replace_route_table_association(rt: Runtime, ctx: RequestContext, params: Params) -> Result:
    association_id = str(params.get("AssociationId") or "")
    table_id = checked_id(params.get("RouteTableId"), "rtb", "RouteTableId")
    account = ctx.principal.account_id
    with rt.store.session() as s:
        a = _owned_association(s, account, association_id)
        table = owned(s, Ec2RouteTable, account, table_id, "rtb")
        old = s.get(Ec2RouteTable, a.table_id)
        if old is None or old.vpc_id != table.vpc_id:
            raise errors.invalid_value(
                f"Route table {table.id} and association {a.id} belong to different networks"
            )
        if a.main:
            old.is_main = False
            table.is_main = True
        subnet_id, main = a.subnet_id, a.main
        s.execute(delete(Ec2RouteTableAssociation).where(Ec2RouteTableAssociation.id == a.id))
        s.flush()
        new = Ec2RouteTableAssociation(
            id=new_id("rtbassoc"), table_id=table.id, subnet_id=subnet_id, main=main
        )
        s.add(new)
        bump_network(s)
    return {"NewAssociationId": new.id, "AssociationState": {"State": "associated"}}


OPERATIONS: Operations = {
    "CreateRouteTable": create_route_table,
    "DeleteRouteTable": delete_route_table,
    "DescribeRouteTables": describe_route_tables,
    "CreateRoute": create_route,
    "DeleteRoute": delete_route,
    "ReplaceRoute": replace_route,
    "AssociateRouteTable": associate_route_table,
    "DisassociateRouteTable": disassociate_route_table,
    "ReplaceRouteTableAssociation": replace_route_table_association,
}
