"""What one node's network must enforce, read from the cloud's state in one transaction.

The EDGE reconciler (eucanetd's job) turns this into iptables chains and addresses; keeping it
a plain value makes the rule generation a pure function that unit tests and the 1000-instance
benchmark can drive without a database.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from mallee.store.tables.compute import NodeRow
from mallee.store.tables.ec2 import Ec2Instance
from mallee.store.tables.network import (
    Ec2Address,
    Ec2InstanceGroup,
    Ec2SecurityGroupRule,
    network_generation,
)
from mallee.store.tables.vpc import user_vpcs

# States in which an instance has an address on its node and must be reachable as allowed.
NETWORKED_STATES = ("pending", "running", "stopping", "shutting-down")


@dataclass(frozen=True, slots=True)
class Rule:
    """One permission of a group; `peer_group` rules stand for every member's address."""

    egress: bool
    protocol: str  # "tcp", "udp", "icmp", "-1" (all) or a protocol number
    from_port: int | None
    to_port: int | None
    cidr: str | None
    peer_group: str | None


@dataclass(frozen=True, slots=True)
class LocalInstance:
    instance_id: str
    private_ip: str
    groups: tuple[str, ...]
    mac: str = ""


@dataclass(frozen=True)
class EdgeState:
    generation: int
    instances: tuple[LocalInstance, ...]
    # group id -> its rules, for every group a local instance is in.
    rules: dict[str, tuple[Rule, ...]] = field(default_factory=dict)
    # group id -> private IPs of its members cloud-wide, for groups named as peers.
    members: dict[str, tuple[str, ...]] = field(default_factory=dict)
    # public IP -> private IP, for this node's instances that have one.
    nat: dict[str, str] = field(default_factory=dict)
    # other nodes' private subnets -> their public address (flat L3 routes).
    routes: dict[str, str] = field(default_factory=dict)


# Instances of users' own VPCs are on their VPC's data path (vpc_desired), not EDGE's.
_ON_EDGE = or_(Ec2Instance.vpc_id.is_(None), Ec2Instance.vpc_id.not_in(user_vpcs()))


def load(s: Session, node: str) -> EdgeState:
    generation = network_generation(s)
    local_rows = s.execute(
        select(Ec2Instance.id, Ec2Instance.private_ip, Ec2Instance.mac).where(
            Ec2Instance.node == node,
            Ec2Instance.state.in_(NETWORKED_STATES),
            Ec2Instance.private_ip.is_not(None),
            _ON_EDGE,
        )
    ).all()
    ips = {iid: str(ip) for iid, ip, _ in local_rows}
    macs = {iid: str(mac or "").lower() for iid, _, mac in local_rows}
    groups_of: dict[str, list[str]] = defaultdict(list)
    for iid, gid in s.execute(
        select(Ec2InstanceGroup.instance_id, Ec2InstanceGroup.group_id)
        .where(Ec2InstanceGroup.instance_id.in_(list(ips)))
        .order_by(Ec2InstanceGroup.instance_id, Ec2InstanceGroup.position)
    ):
        groups_of[iid].append(gid)
    instances = tuple(
        LocalInstance(iid, ip, tuple(groups_of.get(iid, ())), macs[iid])
        for iid, ip in sorted(ips.items())
    )
    wanted = sorted({g for inst in instances for g in inst.groups})
    rules = _rules(s, wanted)
    peers = sorted({r.peer_group for rs in rules.values() for r in rs if r.peer_group})
    return EdgeState(
        generation=generation,
        instances=instances,
        rules=rules,
        members=_members(s, peers),
        nat=_nat(s, node),
        routes=_routes(s, node),
    )


def _rules(s: Session, groups: list[str]) -> dict[str, tuple[Rule, ...]]:
    out: dict[str, list[Rule]] = {g: [] for g in groups}
    r = Ec2SecurityGroupRule
    for row in s.execute(
        select(r.group_id, r.egress, r.protocol, r.from_port, r.to_port, r.cidr, r.peer_group_id)
        .where(r.group_id.in_(groups))
        .order_by(r.group_id, r.id)
    ):
        gid, egress, protocol, low, high, cidr, peer = row
        out[gid].append(Rule(bool(egress), protocol, low, high, cidr, peer))
    return {g: tuple(rs) for g, rs in out.items()}


def _members(s: Session, groups: list[str]) -> dict[str, tuple[str, ...]]:
    out: dict[str, list[str]] = {g: [] for g in groups}
    for gid, ip in s.execute(
        select(Ec2InstanceGroup.group_id, Ec2Instance.private_ip)
        .join(Ec2Instance, Ec2Instance.id == Ec2InstanceGroup.instance_id)
        .where(
            Ec2InstanceGroup.group_id.in_(groups),
            Ec2Instance.state.in_(NETWORKED_STATES),
            Ec2Instance.private_ip.is_not(None),
        )
        .order_by(Ec2Instance.private_ip)
    ):
        out[gid].append(str(ip))
    return {g: tuple(ips) for g, ips in out.items()}


def _nat(s: Session, node: str) -> dict[str, str]:
    rows = s.execute(
        select(Ec2Address.public_ip, Ec2Instance.private_ip)
        .join(Ec2Instance, Ec2Instance.id == Ec2Address.instance_id)
        .where(
            Ec2Instance.node == node,
            Ec2Instance.state.in_(NETWORKED_STATES),
            Ec2Instance.private_ip.is_not(None),
            _ON_EDGE,
        )
    )
    return {str(public): str(private) for public, private in rows}


def _routes(s: Session, node: str) -> dict[str, str]:
    rows = s.execute(
        select(NodeRow.subnet, NodeRow.public_ip).where(
            NodeRow.name != node, NodeRow.subnet != "", NodeRow.public_ip != ""
        )
    )
    return {str(subnet): str(via) for subnet, via in rows}
