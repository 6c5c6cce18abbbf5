"""Subnets: CreateSubnet, DeleteSubnet, DescribeSubnets, ModifySubnetAttribute."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from mallee.api.context import RequestContext
from mallee.ids import new_id
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
    tag_list,
    tags_for,
)
from mallee.services.ec2.vpc_rows import (
    Plan,
    arn,
    checked_id,
    default_acl,
    ids_param,
    missing_ids,
    now,
    owned,
    plan,
    subnet_cidr,
    zones,
)
from mallee.store.tables.ec2 import Ec2Instance
from mallee.store.tables.interfaces import (
    Ec2NetworkInterface,
    Ec2NetworkInterfaceAddress,
    live_interfaces,
)
from mallee.store.tables.network import bump_network
from mallee.store.tables.vpc import Ec2NatGateway, Ec2NetworkAclAssociation, Ec2Subnet, Ec2Vpc

LIVE_NAT = ("pending", "available", "deleting", "failed")


class SubnetFields(Protocol):
    """What a subnet's view needs: its row, or the plain tuple DescribeSubnets reads."""

    @property
    def id(self) -> str: ...
    @property
    def vpc_id(self) -> str: ...
    @property
    def account_id(self) -> str: ...
    @property
    def zone(self) -> str: ...
    @property
    def cidr(self) -> str: ...
    @property
    def default_for_az(self) -> bool: ...
    @property
    def map_public_ip_on_launch(self) -> bool: ...
    @property
    def state(self) -> str: ...


@dataclass(frozen=True, slots=True)
class _Subnet:
    id: str
    vpc_id: str
    account_id: str
    zone: str
    cidr: str
    default_for_az: bool
    map_public_ip_on_launch: bool
    state: str


_COLUMNS = (
    Ec2Subnet.id,
    Ec2Subnet.vpc_id,
    Ec2Subnet.account_id,
    Ec2Subnet.zone,
    Ec2Subnet.cidr,
    Ec2Subnet.default_for_az,
    Ec2Subnet.map_public_ip_on_launch,
    Ec2Subnet.state,
)


def _check_subnet(s: Session, account: str, subnet_id: str) -> None:
    owned(s, Ec2Subnet, account, subnet_id, "subnet")


register_resource_check("subnet", _check_subnet)


def _cidr(n: SubnetFields, p: Plan) -> str:
    return n.cidr or str(p.zone_block(n.zone))


def _filters(p: Plan) -> dict[str, Callable[[SubnetFields], Any]]:
    return {
        "subnet-id": lambda n: n.id,
        "vpc-id": lambda n: n.vpc_id,
        "availability-zone": lambda n: n.zone,
        "availabilityZone": lambda n: n.zone,
        "cidr": lambda n: _cidr(n, p),
        "cidr-block": lambda n: _cidr(n, p),
        "cidrBlock": lambda n: _cidr(n, p),
        "default-for-az": lambda n: n.default_for_az,
        "defaultForAz": lambda n: n.default_for_az,
        "map-public-ip-on-launch": lambda n: n.map_public_ip_on_launch,
        "state": lambda n: n.state,
        "owner-id": lambda n: n.account_id,
    }


def _interface_addresses(s: Session, account: str) -> list[tuple[str, int]]:
    """Per user subnet of the account, the addresses its interfaces hold (an instance's
    primary one among them, until it goes with its terminated instance)."""
    i, a = Ec2NetworkInterface, Ec2NetworkInterfaceAddress
    live = (
        live_interfaces(select(i.subnet_id, i.id))
        .where(i.account_id == account, i.private_ip.is_not(None))
        .subquery()
    )
    primary = select(live.c.subnet_id, func.count()).group_by(live.c.subnet_id)
    secondary = (
        select(live.c.subnet_id, func.count())
        .join(a, a.interface_id == live.c.id)
        .group_by(live.c.subnet_id)
    )
    rows = [*s.execute(primary), *s.execute(secondary)]
    return [(str(sub), int(n)) for sub, n in rows]


def used_addresses(s: Session, account: str, subnets: Sequence[SubnetFields]) -> dict[str, int]:
    """Addresses in use per subnet: NAT gateways, a user subnet's interfaces, and in a default
    subnet every instance of its zone (EDGE gives them addresses of the zone's node subnets,
    whatever their account)."""
    # One grouped query over the account's few gateways beats IN lists of many subnets.
    out: dict[str, int] = {
        subnet_id: int(count)
        for subnet_id, count in s.execute(
            select(Ec2NatGateway.subnet_id, func.count())
            .where(Ec2NatGateway.account_id == account, Ec2NatGateway.state.in_(LIVE_NAT))
            .group_by(Ec2NatGateway.subnet_id)
        )
    }
    if any(not n.default_for_az for n in subnets):
        for subnet_id, count in _interface_addresses(s, account):
            out[subnet_id] = out.get(subnet_id, 0) + int(count)
    if any(n.default_for_az for n in subnets):
        per_zone = dict(
            s.execute(
                select(Ec2Instance.availability_zone, func.count())
                .where(Ec2Instance.state != "terminated", Ec2Instance.private_ip.is_not(None))
                .group_by(Ec2Instance.availability_zone)
            ).all()
        )
        for n in subnets:
            if n.default_for_az:
                out[n.id] = out.get(n.id, 0) + int(per_zone.get(n.zone, 0))
    return out


def subnet_out(
    n: SubnetFields, p: Plan, used: int, tags: dict[str, str], region: str
) -> dict[str, Any]:
    cidr = _cidr(n, p)
    out: dict[str, Any] = {
        "SubnetId": n.id,
        "SubnetArn": arn(region, n.account_id, n.id),
        "VpcId": n.vpc_id,
        "OwnerId": n.account_id,
        "State": n.state,
        "CidrBlock": cidr,
        "AvailableIpAddressCount": cidrs.available_in(cidr, used),
        "AvailabilityZone": n.zone,
        "DefaultForAz": n.default_for_az,
        "MapPublicIpOnLaunch": n.map_public_ip_on_launch,
        "AssignIpv6AddressOnCreation": False,
        "Ipv6CidrBlockAssociationSet": [],
    }
    out["Tags"] = tag_list(tags)
    return out


def _new_block(raw: Any, vpc: Ec2Vpc, p: Plan) -> cidrs.Net:
    if not raw:
        raise errors.missing("cidrBlock")
    block = cidrs.parse(str(raw))
    if block is None:
        raise errors.invalid_parameter("cidrBlock", raw)
    vpc_block = p.vpc_block() if vpc.is_default else cidrs.parse(vpc.cidr)
    if not cidrs.sized(block) or vpc_block is None or not block.subnet_of(vpc_block):
        raise errors.subnet_range(raw)
    return block


def create_subnet(rt: Runtime, ctx: RequestContext, params: Params) -> Result:
    vpc_id = checked_id(params.get("VpcId"), "vpc", "VpcId")
    if params.get("Ipv6CidrBlock") or params.get("Ipv6Native"):
        raise errors.unsupported_operation("IPv6 CIDR blocks are not supported in this region.")
    if params.get("AvailabilityZoneId") and not params.get("AvailabilityZone"):
        raise errors.unsupported_operation("Name the zone with AvailabilityZone.")
    account = ctx.principal.account_id
    with rt.store.session() as s:
        vpc = owned(s, Ec2Vpc, account, vpc_id, "vpc")
        s.refresh(vpc, with_for_update=True)
        p = plan(rt, s)
        block = _new_block(params.get("CidrBlock"), vpc, p)
        every = zones(rt, s)
        zone = str(params.get("AvailabilityZone") or sorted(every)[0])
        if zone not in every:
            raise errors.invalid_value(
                f"Value ({zone}) for parameter availabilityZone is invalid. "
                f"Subnets can currently only be created in the following "
                f"availability zones: {', '.join(sorted(every))}."
            )
        others = s.scalars(select(Ec2Subnet).where(Ec2Subnet.vpc_id == vpc.id)).all()
        if cidrs.overlaps(block, [b for o in others if (b := cidrs.parse(subnet_cidr(o, p)))]):
            raise errors.subnet_conflict(params.get("CidrBlock"))
        subnet = Ec2Subnet(
            id=new_id("subnet"),
            vpc_id=vpc.id,
            account_id=account,
            zone=zone,
            cidr=str(block),
            default_for_az=False,
            map_public_ip_on_launch=False,
            state="available",
            created_at=now(),
        )
        s.add(subnet)
        s.flush()
        acl = default_acl(s, vpc.id)
        if acl is not None:
            s.add(
                Ec2NetworkAclAssociation(id=new_id("aclassoc"), acl_id=acl.id, subnet_id=subnet.id)
            )
        specs = params.get("TagSpecifications")
        apply_tag_specifications(s, account, specs, {"subnet": [subnet.id]})
        tags = tags_for(s, account, [subnet.id]).get(subnet.id, {})
        bump_network(s)
        return {"Subnet": subnet_out(subnet, p, 0, tags, ctx.region)}


def delete_subnet(rt: Runtime, ctx: RequestContext, params: Params) -> Result:
    subnet_id = checked_id(params.get("SubnetId"), "subnet", "SubnetId")
    account = ctx.principal.account_id
    with rt.store.session() as s:
        subnet = owned(s, Ec2Subnet, account, subnet_id, "subnet")
        s.refresh(subnet, with_for_update=True)
        nat = s.scalar(
            select(Ec2NatGateway.id)
            .where(Ec2NatGateway.subnet_id == subnet.id, Ec2NatGateway.state.in_(LIVE_NAT))
            .limit(1)
        )
        # A default subnet holds the account's running EDGE instances of its zone.
        instance = (
            s.scalar(
                select(Ec2Instance.id)
                .where(
                    Ec2Instance.account_id == account,
                    Ec2Instance.availability_zone == subnet.zone,
                    Ec2Instance.state != "terminated",
                )
                .limit(1)
            )
            if subnet.default_for_az
            else None
        )
        # Interfaces (an instance's primary one, or one a user made) live in their subnet.
        interface = s.execute(
            live_query().where(Ec2NetworkInterface.subnet_id == subnet.id).limit(1)
        ).first()
        if nat is not None or instance is not None or interface is not None:
            raise errors.has_dependencies("subnet", subnet.id)
        delete_all_tags(s, [subnet.id])
        s.delete(subnet)
        bump_network(s)
    return {}


def describe_subnets(rt: Runtime, ctx: RequestContext, params: Params) -> Result:
    account = ctx.principal.account_id
    default_vpc_ready(rt, account)
    ids = ids_param(params, "SubnetIds", "subnet")
    with rt.store.read() as s:
        p = plan(rt, s)
        query = select(*_COLUMNS).where(Ec2Subnet.account_id == account).order_by(Ec2Subnet.id)
        if ids:
            query = query.where(Ec2Subnet.id.in_(ids))
        # Plain tuples: DescribeSubnets lists thousands, and ORM objects cost most of it.
        rows = [_Subnet(*r) for r in s.execute(query).all()]
        missing_ids(ids, {n.id for n in rows}, "subnet")
        table = _filters(p)
        filters = parse_filters(params.get("Filters"), table)
        tags = tags_for(s, account, [n.id for n in rows], "subnet")
        chosen = [
            n for n in rows if not filters or matches(filters, lookup(table, n), tags.get(n.id, {}))
        ]
        items, token = page(chosen, params, key=lambda n: n.id)
        used = used_addresses(s, account, items)
    region = ctx.region
    out: Result = {
        "Subnets": [subnet_out(n, p, used.get(n.id, 0), tags.get(n.id, {}), region) for n in items]
    }
    if token:
        out["NextToken"] = token
    return out


def modify_subnet_attribute(rt: Runtime, ctx: RequestContext, params: Params) -> Result:
    subnet_id = checked_id(params.get("SubnetId"), "subnet", "SubnetId")
    raw = params.get("MapPublicIpOnLaunch")
    others = [
        k
        for k in ("AssignIpv6AddressOnCreation", "MapCustomerOwnedIpOnLaunch", "EnableDns64")
        if params.get(k) is not None
    ]
    if others:
        raise errors.unsupported_operation(f"The attribute {others[0]} is not supported.")
    if raw is None:
        raise errors.missing("MapPublicIpOnLaunch")
    value = raw.get("Value") if isinstance(raw, dict) else raw
    with rt.store.session() as s:
        subnet = owned(s, Ec2Subnet, ctx.principal.account_id, subnet_id, "subnet")
        subnet.map_public_ip_on_launch = bool(value)
    return {}


OPERATIONS: Operations = {
    "CreateSubnet": create_subnet,
    "DeleteSubnet": delete_subnet,
    "DescribeSubnets": describe_subnets,
    "ModifySubnetAttribute": modify_subnet_attribute,
}
