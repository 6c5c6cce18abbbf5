"""VPCs: CreateVpc, DeleteVpc, DescribeVpcs and the VPC's DNS attributes."""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from mallee.api.context import RequestContext
from mallee.ids import new_id
from mallee.services.base import Operations, Params, Result, Runtime
from mallee.services.ec2 import cidrs, errors, security_groups
from mallee.services.ec2.default_vpc import default_vpc_ready, ensure_default_vpc
from mallee.services.ec2.filters import lookup, matches, parse_filters
from mallee.services.ec2.pagination import page
from mallee.services.ec2.tags import (
    apply_tag_specifications,
    delete_all_tags,
    register_resource_check,
    tags_for,
)
from mallee.services.ec2.vpc_rows import (
    Plan,
    add_base_rows,
    checked_id,
    ids_param,
    missing_ids,
    new_vni,
    now,
    owned,
    plan,
    vpc_cidr,
)
from mallee.services.ec2.vpc_views import vpc_out
from mallee.store.tables.network import bump_network
from mallee.store.tables.vpc import (
    Ec2AccountVpc,
    Ec2DhcpOptions,
    Ec2InternetGateway,
    Ec2NatGateway,
    Ec2NetworkAcl,
    Ec2RouteTable,
    Ec2Subnet,
    Ec2Vpc,
)

_ATTRIBUTES = {"enableDnsSupport": "EnableDnsSupport", "enableDnsHostnames": "EnableDnsHostnames"}


def _check_vpc(s: Session, account: str, vpc_id: str) -> None:
    owned(s, Ec2Vpc, account, vpc_id, "vpc")


register_resource_check("vpc", _check_vpc)


def _filters(p: Plan) -> dict[str, Callable[[Ec2Vpc], Any]]:
    return {
        "vpc-id": lambda v: v.id,
        "cidr": lambda v: vpc_cidr(v, p),
        "cidr-block": lambda v: vpc_cidr(v, p),
        "cidr-block-association.cidr-block": lambda v: vpc_cidr(v, p),
        "cidr-block-association.state": lambda v: "associated",
        "is-default": lambda v: v.is_default,
        "state": lambda v: v.state,
        "dhcp-options-id": lambda v: v.dhcp_options_id,
        "owner-id": lambda v: v.account_id,
        "instance-tenancy": lambda v: v.instance_tenancy,
    }


def _new_block(params: Params) -> str:
    raw = params.get("CidrBlock")
    if params.get("AmazonProvidedIpv6CidrBlock") or params.get("Ipv6CidrBlock"):
        raise errors.unsupported_operation("IPv6 CIDR blocks are not supported in this region.")
    if params.get("Ipv4IpamPoolId") or params.get("Ipv6IpamPoolId"):
        raise errors.unsupported_operation("IPAM pools are not supported in this region.")
    if not raw:
        raise errors.missing("cidrBlock")
    block = cidrs.parse(str(raw))
    if block is None:
        raise errors.invalid_parameter("cidrBlock", raw)
    if not cidrs.sized(block) or cidrs.overlaps(block, _UNROUTABLE):
        raise errors.vpc_range(raw)
    return str(block)


# This network, loopback, link-local (the metadata and gateway link addresses live there) and
# multicast/reserved: a VPC there would shadow the node's own routes.
_UNROUTABLE = tuple(
    ipaddress.IPv4Network(n) for n in ("0.0.0.0/8", "127.0.0.0/8", "169.254.0.0/16", "224.0.0.0/3")
)
_VNI_ATTEMPTS = 5


def _insert_with_vni(s: Session, vpc: Ec2Vpc) -> None:
    """Insert the VPC with a VNI block no other has; a concurrent creator that committed the
    same block first makes the unique key refuse this one, so pick again (a savepoint keeps
    the rest of the transaction)."""
    for attempt in range(_VNI_ATTEMPTS):
        vpc.vni = new_vni(s)
        try:
            with s.begin_nested():
                s.add(vpc)
                s.flush()
            return
        except IntegrityError:
            if attempt == _VNI_ATTEMPTS - 1:
                raise


def create_vpc(rt: Runtime, ctx: RequestContext, params: Params) -> Result:
    cidr = _new_block(params)
    tenancy = str(params.get("InstanceTenancy") or "default")
    if tenancy != "default":
        raise errors.unsupported_operation(f"The instance tenancy '{tenancy}' is not supported.")
    account = ctx.principal.account_id
    with rt.store.session() as s:
        ensure_default_vpc(rt, s, account)
        marker = s.get(Ec2AccountVpc, account)
        dopt_id = marker.default_dhcp_options_id if marker is not None else "default"
        if s.get(Ec2DhcpOptions, dopt_id) is None:
            dopt_id = "default"
        vpc = Ec2Vpc(
            id=new_id("vpc"),
            account_id=account,
            cidr=cidr,
            is_default=False,
            state="available",
            dhcp_options_id=dopt_id,
            enable_dns_support=True,
            enable_dns_hostnames=False,
            instance_tenancy=tenancy,
            created_at=now(),
        )
        _insert_with_vni(s, vpc)
        add_base_rows(s, vpc)
        security_groups.add_vpc_default(s, account, vpc.id)
        apply_tag_specifications(s, account, params.get("TagSpecifications"), {"vpc": [vpc.id]})
        tags = tags_for(s, account, [vpc.id]).get(vpc.id, {})
        bump_network(s)
        return {"Vpc": vpc_out(vpc, plan(rt, s), tags)}


def _has(s: Session, model: Any, *where: Any) -> bool:
    return s.scalar(select(model.id).where(*where).limit(1)) is not None


def delete_vpc(rt: Runtime, ctx: RequestContext, params: Params) -> Result:
    vpc_id = checked_id(params.get("VpcId"), "vpc", "VpcId")
    account = ctx.principal.account_id
    with rt.store.session() as s:
        vpc = owned(s, Ec2Vpc, account, vpc_id, "vpc")
        s.refresh(vpc, with_for_update=True)
        blocked = (
            _has(s, Ec2Subnet, Ec2Subnet.vpc_id == vpc.id)
            or _has(s, Ec2InternetGateway, Ec2InternetGateway.vpc_id == vpc.id)
            or _has(s, Ec2RouteTable, Ec2RouteTable.vpc_id == vpc.id, ~Ec2RouteTable.is_main)
            or _has(s, Ec2NetworkAcl, Ec2NetworkAcl.vpc_id == vpc.id, ~Ec2NetworkAcl.is_default)
            or _has(
                s,
                Ec2NatGateway,
                Ec2NatGateway.vpc_id == vpc.id,
                Ec2NatGateway.state != "deleted",
            )
        )
        if blocked:
            raise errors.has_dependencies("vpc", vpc.id)
        # Its default group goes with it (EDGE's groups, the default VPC's, are not its rows).
        security_groups.drop_vpc_groups(s, vpc.id)
        base = [
            *s.scalars(select(Ec2RouteTable.id).where(Ec2RouteTable.vpc_id == vpc.id)),
            *s.scalars(select(Ec2NetworkAcl.id).where(Ec2NetworkAcl.vpc_id == vpc.id)),
        ]
        # The main table and default ACL go with their VPC (their routes, entries and
        # associations cascade in the database too; said here for SQLite without FKs on).
        s.execute(delete(Ec2RouteTable).where(Ec2RouteTable.vpc_id == vpc.id))
        s.execute(delete(Ec2NetworkAcl).where(Ec2NetworkAcl.vpc_id == vpc.id))
        delete_all_tags(s, [vpc.id, *base])
        if vpc.is_default:
            s.execute(
                update(Ec2AccountVpc)
                .where(Ec2AccountVpc.account_id == account)
                .values(default_vpc_id=None)
            )
        s.delete(vpc)
        bump_network(s)
    return {}


def describe_vpcs(rt: Runtime, ctx: RequestContext, params: Params) -> Result:
    account = ctx.principal.account_id
    default_vpc_ready(rt, account)
    ids = ids_param(params, "VpcIds", "vpc")
    with rt.store.read() as s:
        p = plan(rt, s)
        query = select(Ec2Vpc).where(Ec2Vpc.account_id == account).order_by(Ec2Vpc.id)
        if ids:
            query = query.where(Ec2Vpc.id.in_(ids))
        rows = list(s.scalars(query).all())
        tags = tags_for(s, account, [v.id for v in rows], "vpc")
    missing_ids(ids, {v.id for v in rows}, "vpc")
    table = _filters(p)
    filters = parse_filters(params.get("Filters"), table)
    chosen = [v for v in rows if matches(filters, lookup(table, v), tags.get(v.id, {}))]
    items, token = page(chosen, params, key=lambda v: v.id)
    out: Result = {"Vpcs": [vpc_out(v, p, tags.get(v.id, {})) for v in items]}
    if token:
        out["NextToken"] = token
    return out


def describe_vpc_attribute(rt: Runtime, ctx: RequestContext, params: Params) -> Result:
    vpc_id = checked_id(params.get("VpcId"), "vpc", "VpcId")
    attribute = str(params.get("Attribute") or "")
    if attribute not in _ATTRIBUTES:
        raise errors.invalid_parameter("Attribute", attribute)
    with rt.store.read() as s:
        vpc = owned(s, Ec2Vpc, ctx.principal.account_id, vpc_id, "vpc")
        value = (
            vpc.enable_dns_support
            if attribute == "enableDnsSupport"
            else (vpc.enable_dns_hostnames)
        )
    return {"VpcId": vpc_id, _ATTRIBUTES[attribute]: {"Value": value}}


def _flag(params: Params, name: str) -> bool | None:
    raw = params.get(name)
    if raw is None:
        return None
    value = raw.get("Value") if isinstance(raw, dict) else raw
    if value is None:
        raise errors.missing(f"{name}.Value")
    return bool(value)


def modify_vpc_attribute(rt: Runtime, ctx: RequestContext, params: Params) -> Result:
    vpc_id = checked_id(params.get("VpcId"), "vpc", "VpcId")
    support, hostnames = _flag(params, "EnableDnsSupport"), _flag(params, "EnableDnsHostnames")
    if (support is None) == (hostnames is None):
        # AWS changes one attribute per request.
        raise errors.invalid_combination(
            "Fields for multiple attribute types specified: enableDnsSupport, enableDnsHostnames"
            if support is not None
            else "No attribute specified."
        )
    with rt.store.session() as s:
        vpc = owned(s, Ec2Vpc, ctx.principal.account_id, vpc_id, "vpc")
        if support is not None:
            vpc.enable_dns_support = support
        if hostnames is not None:
            vpc.enable_dns_hostnames = hostnames
        bump_network(s)
    return {}


OPERATIONS: Operations = {
    "CreateVpc": create_vpc,
    "DeleteVpc": delete_vpc,
    "DescribeVpcs": describe_vpcs,
    "DescribeVpcAttribute": describe_vpc_attribute,
    "ModifyVpcAttribute": modify_vpc_attribute,
}
