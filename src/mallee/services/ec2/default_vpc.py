"""The default VPC: EDGE presented as a VPC, one per account, made on first need.

Its rows say what AWS's default VPC has (an attached internet gateway, a main route table with
the local route and 0.0.0.0/0 to that gateway, a default ACL allowing everything, DHCP options
with the cloud's instance DNS domain, one default subnet per zone); its blocks are computed on
read (vpc_rows.Plan), so they stay true as nodes join. Its data path is EDGE's.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import update
from sqlalchemy.orm import Session

from mallee.api.context import RequestContext
from mallee.ids import new_id
from mallee.services.base import Operations, Params, Result, Runtime
from mallee.services.ec2 import errors
from mallee.services.ec2.vpc_rows import (
    ANYWHERE,
    Plan,
    add_base_rows,
    default_acl,
    flush_unique,
    now,
    plan,
    zones,
)
from mallee.services.ec2.vpc_views import vpc_out
from mallee.store.tables.network import bump_network
from mallee.store.tables.vpc import (
    Ec2AccountVpc,
    Ec2DhcpOptions,
    Ec2InternetGateway,
    Ec2NetworkAclAssociation,
    Ec2Route,
    Ec2Subnet,
    Ec2Vpc,
)


def zone_list(text: str) -> list[str]:
    return [z for z in text.split(",") if z]


def zone_text(names: Iterable[str]) -> str:
    return ",".join(sorted(set(names)))


def dhcp_defaults(p: Plan) -> dict[str, list[str]]:
    return {"domain-name": [p.dns_domain], "domain-name-servers": ["AmazonProvidedDNS"]}


def _build(s: Session, account: str, dopt_id: str, p: Plan, zone_names: set[str]) -> Ec2Vpc:
    vpc = Ec2Vpc(
        id=new_id("vpc"),
        account_id=account,
        cidr=str(p.private_network),
        is_default=True,
        state="available",
        dhcp_options_id=dopt_id,
        enable_dns_support=True,
        enable_dns_hostnames=True,
        instance_tenancy="default",
        vni=None,
        created_at=now(),
    )
    s.add(vpc)
    s.flush()
    table, _ = add_base_rows(s, vpc)
    gateway = Ec2InternetGateway(
        id=new_id("igw"), account_id=account, vpc_id=vpc.id, created_at=now()
    )
    s.add(gateway)
    s.add(
        Ec2Route(
            table_id=table.id,
            destination=ANYWHERE,
            target_kind="gateway",
            target_id=gateway.id,
            origin="CreateRouteTable",
            state="active",
        )
    )
    s.flush()
    _add_default_subnets(s, vpc, zone_names)
    return vpc


def _add_default_subnets(s: Session, vpc: Ec2Vpc, zone_names: set[str]) -> None:
    acl = default_acl(s, vpc.id)
    for zone in sorted(zone_names):
        subnet = Ec2Subnet(
            id=new_id("subnet"),
            vpc_id=vpc.id,
            account_id=vpc.account_id,
            zone=zone,
            cidr="",
            default_for_az=True,
            map_public_ip_on_launch=True,
            state="available",
            created_at=now(),
        )
        s.add(subnet)
        s.flush()
        if acl is not None:
            s.add(
                Ec2NetworkAclAssociation(id=new_id("aclassoc"), acl_id=acl.id, subnet_id=subnet.id)
            )
    s.flush()


def _new_dopt(s: Session, account: str, p: Plan) -> Ec2DhcpOptions:
    dopt = Ec2DhcpOptions(
        id=new_id("dopt"), account_id=account, options=dhcp_defaults(p), created_at=now()
    )
    s.add(dopt)
    s.flush()
    return dopt


def _made(s: Session, rt: Runtime, account: str, marker: Ec2AccountVpc, vpc: Ec2Vpc) -> None:
    """Give the default VPC a default subnet in each zone it has none for yet, and remember
    the zones (conditionally: a racing request that did it first leaves this one nothing)."""
    done = zone_list(marker.default_subnet_zones)
    new = zones(rt, s) - set(done)
    if not new:
        return
    moved = s.execute(
        update(Ec2AccountVpc)
        .where(
            Ec2AccountVpc.account_id == account,
            Ec2AccountVpc.default_subnet_zones == marker.default_subnet_zones,
        )
        .values(default_subnet_zones=zone_text([*done, *new]))
        .execution_options(synchronize_session=False)
    )
    if moved.rowcount == 1:  # type: ignore[attr-defined]
        _add_default_subnets(s, vpc, new)
        bump_network(s)


def ensure_default_vpc(rt: Runtime, s: Session, account: str) -> Ec2Vpc | None:
    """The account's default VPC, made on first need (safe against a racing creator: the
    account's row is the key), with a default subnet in every zone; None when the user
    deleted it (CreateDefaultVpc makes another)."""
    marker = s.get(Ec2AccountVpc, account)
    if marker is None:
        p = plan(rt, s)
        dopt_id = new_id("dopt")
        fresh = Ec2AccountVpc(
            account_id=account,
            default_vpc_id=None,
            default_dhcp_options_id=dopt_id,
            default_subnet_zones=zone_text(zones(rt, s)),
        )
        if flush_unique(s, fresh):
            s.add(
                Ec2DhcpOptions(
                    id=dopt_id, account_id=account, options=dhcp_defaults(p), created_at=now()
                )
            )
            vpc = _build(s, account, dopt_id, p, set(zone_list(fresh.default_subnet_zones)))
            fresh.default_vpc_id = vpc.id
            s.flush()
            bump_network(s)
            return vpc
        # Another request made it first; its rows are committed, so read those.
        s.expire_all()
        marker = s.get(Ec2AccountVpc, account)
        if marker is None:
            raise RuntimeError("the default VPC's account row vanished")
    if marker.default_vpc_id is None:
        return None
    current = s.get(Ec2Vpc, marker.default_vpc_id)
    if current is not None:
        _made(s, rt, account, marker, current)
    return current


def default_vpc_ready(rt: Runtime, account: str) -> None:
    """Before a read: make the default VPC (or a new zone's default subnet) if it is missing,
    with a write only then."""
    with rt.store.read() as s:
        marker = s.get(Ec2AccountVpc, account)
        if marker is not None and (
            marker.default_vpc_id is None
            or zones(rt, s) <= set(zone_list(marker.default_subnet_zones))
        ):
            return
    with rt.store.session() as s:
        ensure_default_vpc(rt, s, account)


def create_default_vpc(rt: Runtime, ctx: RequestContext, params: Params) -> Result:
    account = ctx.principal.account_id
    with rt.store.session() as s:
        existing = ensure_default_vpc(rt, s, account)
        if existing is not None:
            raise errors.default_vpc_exists()
        marker = s.get(Ec2AccountVpc, account, with_for_update=True)
        if marker is None or marker.default_vpc_id is not None:
            raise errors.default_vpc_exists()
        p = plan(rt, s)
        dopt = s.get(Ec2DhcpOptions, marker.default_dhcp_options_id)
        if dopt is None:
            dopt = _new_dopt(s, account, p)
            marker.default_dhcp_options_id = dopt.id
        every = zones(rt, s)
        vpc = _build(s, account, dopt.id, p, every)
        done = s.execute(
            update(Ec2AccountVpc)
            .where(Ec2AccountVpc.account_id == account, Ec2AccountVpc.default_vpc_id.is_(None))
            .values(default_vpc_id=vpc.id, default_subnet_zones=zone_text(every))
            .execution_options(synchronize_session=False)
        )
        if done.rowcount != 1:  # type: ignore[attr-defined]
            raise errors.default_vpc_exists()
        bump_network(s)
        return {"Vpc": vpc_out(vpc, p, {})}


OPERATIONS: Operations = {"CreateDefaultVpc": create_default_vpc}
# The reads that call default_vpc_ready: they may write, so they leave the event loop.
MAKES_DEFAULT_VPC = frozenset(
    {
        "DescribeVpcs",
        "DescribeSubnets",
        "DescribeInternetGateways",
        "DescribeRouteTables",
        "DescribeNetworkAcls",
        "DescribeDhcpOptions",
        "DescribeAccountAttributes",
    }
)
