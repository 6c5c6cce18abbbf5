"""What every VPC family shares: the caller's rows by id (Malformed/NotFound as EC2 answers),
the rows a new VPC starts with (main route table, default network ACL), and the blocks the
default VPC's rows present, computed from the network configuration and the nodes."""

from __future__ import annotations

import datetime as dt
import ipaddress
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from mallee.api.errors import ServiceError
from mallee.ids import is_id, new_id
from mallee.network_config import BadNetworkConfig, parse
from mallee.registry import properties
from mallee.services.base import Params, Runtime
from mallee.services.ec2 import cidrs, errors
from mallee.store.db import Base
from mallee.store.tables.compute import NodeRow
from mallee.store.tables.vpc import (
    Ec2InternetGateway,
    Ec2NetworkAcl,
    Ec2NetworkAclEntry,
    Ec2Route,
    Ec2RouteTable,
    Ec2RouteTableAssociation,
    Ec2Subnet,
    Ec2Vpc,
)

R = TypeVar("R", bound=Base)
ANYWHERE = "0.0.0.0/0"
# Every ACL ends with this rule: deny what no other rule allowed.
LAST_RULE = 32767
# A user VPC's VNI is a block of 4096 (24 bits: 4095 blocks, block 0 left for other uses):
# its subnet at /28 offset k has VNI vni + k (node.network.vpc_names.subnet_vni).
_VNI_BLOCK, _VNI_BLOCKS = 1 << 12, (1 << 12) - 1

# ARN resource type of each id prefix.
ARN_TYPES = {
    "vpc": "vpc",
    "subnet": "subnet",
    "igw": "internet-gateway",
    "rtb": "route-table",
    "acl": "network-acl",
    "dopt": "dhcp-options",
    "nat": "natgateway",
    "eni": "network-interface",
    "i": "instance",
    "eipalloc": "elastic-ip",
}


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(microsecond=0)


def arn(region: str, account: str, resource_id: str) -> str:
    prefix = resource_id.partition("-")[0]
    return f"arn:aws:ec2:{region}:{account}:{ARN_TYPES.get(prefix, prefix)}/{resource_id}"


def checked_id(value: Any, prefix: str, param: str) -> str:
    text = "" if value is None else str(value)
    if not text:
        raise errors.missing(param)
    if not is_id(text, prefix):
        raise errors.vpc_resource_malformed(prefix, text)
    return text


def owned(s: Session, model: type[R], account: str, resource_id: str, prefix: str) -> R:
    """The caller's row of `model` by id; another account's is NotFound, as EC2 answers."""
    if not is_id(resource_id, prefix):
        raise errors.vpc_resource_malformed(prefix, resource_id)
    row = s.get(model, resource_id)
    if row is None or getattr(row, "account_id", None) != account:
        raise errors.vpc_resource_not_found(prefix, resource_id)
    return row


def ids_param(params: Params, name: str, prefix: str) -> list[str]:
    out = [str(i) for i in params.get(name) or []]
    for i in out:
        if not is_id(i, prefix):
            raise errors.vpc_resource_malformed(prefix, i)
    return out


def missing_ids(asked: Sequence[str], found: set[str], prefix: str) -> None:
    for i in asked:
        if i not in found:
            raise errors.vpc_resource_not_found(prefix, i)


def new_vni(s: Session) -> int:
    """A VNI block no committed VPC has. Random, so two concurrent creators rarely pick the
    same one (once in 4095); the unique key then refuses the second rather than share it."""
    taken = set(s.scalars(select(Ec2Vpc.vni).where(Ec2Vpc.vni.is_not(None))).all())
    if len(taken) >= _VNI_BLOCKS:
        raise ServiceError("VpcLimitExceeded", "The maximum number of VPCs has been reached.")
    while True:
        vni = (1 + secrets.randbelow(_VNI_BLOCKS)) * _VNI_BLOCK
        if vni not in taken:
            return vni


def add_base_rows(s: Session, vpc: Ec2Vpc) -> tuple[Ec2RouteTable, Ec2NetworkAcl]:
    """A new VPC's main route table (its local route) and default ACL (all allowed)."""
    table = Ec2RouteTable(
        id=new_id("rtb"), vpc_id=vpc.id, account_id=vpc.account_id, is_main=True, created_at=now()
    )
    acl = Ec2NetworkAcl(
        id=new_id("acl"),
        vpc_id=vpc.id,
        account_id=vpc.account_id,
        is_default=True,
        created_at=now(),
    )
    s.add_all([table, acl])
    s.flush()
    s.add(
        Ec2Route(
            table_id=table.id,
            destination=vpc.cidr,
            target_kind="local",
            target_id="local",
            origin="CreateRouteTable",
            state="active",
        )
    )
    s.add(Ec2RouteTableAssociation(id=new_id("rtbassoc"), table_id=table.id, main=True))
    for egress in (False, True):
        s.add(allow_all(acl.id, egress, 100))
        s.add(final_deny(acl.id, egress))
    return table, acl


def allow_all(acl_id: str, egress: bool, rule_number: int) -> Ec2NetworkAclEntry:
    return Ec2NetworkAclEntry(
        acl_id=acl_id,
        egress=egress,
        rule_number=rule_number,
        protocol="-1",
        rule_action="allow",
        cidr=ANYWHERE,
    )


def final_deny(acl_id: str, egress: bool) -> Ec2NetworkAclEntry:
    return Ec2NetworkAclEntry(
        acl_id=acl_id,
        egress=egress,
        rule_number=LAST_RULE,
        protocol="-1",
        rule_action="deny",
        cidr=ANYWHERE,
    )


def default_acl(s: Session, vpc_id: str) -> Ec2NetworkAcl | None:
    return s.scalar(
        select(Ec2NetworkAcl).where(Ec2NetworkAcl.vpc_id == vpc_id, Ec2NetworkAcl.is_default)
    )


def main_table(s: Session, vpc_id: str) -> Ec2RouteTable | None:
    return s.scalar(
        select(Ec2RouteTable).where(Ec2RouteTable.vpc_id == vpc_id, Ec2RouteTable.is_main)
    )


def gateway_of(s: Session, vpc_id: str) -> Ec2InternetGateway | None:
    return s.scalar(select(Ec2InternetGateway).where(Ec2InternetGateway.vpc_id == vpc_id))


def flush_unique(s: Session, row: Base) -> bool:
    """Add `row` in a savepoint; False when a unique key refused it."""
    try:
        with s.begin_nested():
            s.add(row)
            s.flush()
    except IntegrityError:
        return False
    return True


# The default VPC's blocks ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Plan:
    """The address plan the default VPC presents: the cloud's private network, each zone's
    node subnets, and the block a zone without nodes would get (the nodes' default)."""

    private_network: ipaddress.IPv4Network
    zone_subnets: dict[str, list[ipaddress.IPv4Network]]
    fallback: ipaddress.IPv4Network
    dns_domain: str

    def vpc_block(self) -> ipaddress.IPv4Network:
        every = [self.private_network, *(n for ns in self.zone_subnets.values() for n in ns)]
        return cidrs.covering(every) or self.private_network

    def zone_block(self, zone: str) -> ipaddress.IPv4Network:
        return cidrs.covering(self.zone_subnets.get(zone, [])) or self.fallback


def _block(text: str) -> ipaddress.IPv4Network | None:
    try:
        return ipaddress.IPv4Network(text, strict=False)
    except ValueError:
        return None


def plan(rt: Runtime, s: Session) -> Plan:
    try:
        config = parse(properties.get_json(rt.store, "cloud.network.network_configuration"))
    except BadNetworkConfig:
        config = parse(None)
    zones: dict[str, list[ipaddress.IPv4Network]] = {}
    for zone, subnet in s.execute(select(NodeRow.zone, NodeRow.subnet)).all():
        block = _block(subnet) if subnet else None
        if block is not None:
            zones.setdefault(zone, []).append(block)
    fallback = _block(rt.settings.node_subnet) or config.private_network
    return Plan(config.private_network, zones, fallback, config.dns_domain)


def vpc_cidr(vpc: Ec2Vpc, p: Plan) -> str:
    return str(p.vpc_block()) if vpc.is_default else vpc.cidr


def subnet_cidr(subnet: Ec2Subnet, p: Plan) -> str:
    return subnet.cidr or str(p.zone_block(subnet.zone))


def zones(rt: Runtime, s: Session) -> set[str]:
    """The availability zones, as DescribeAvailabilityZones lists them."""
    return set(s.scalars(select(NodeRow.zone)).all()) | {rt.settings.zone}
