"""What one node's VPC data path must be, read from the rows in one transaction.

A plain frozen value, like EDGE's desired.EdgeState: vpc_rules turns it into devices, routes
and chains as a pure function, which unit tests and bench/vpc_dataplane.py drive without a
database. Only user VPCs with something on this node are in it (an instance's interface, or a
NAT gateway placed here); the default VPC's data path is EDGE's.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from mallee.node.lb.vpc import elb_nics, with_members
from mallee.node.network import desired
from mallee.node.network.desired import NETWORKED_STATES, Rule
from mallee.node.network.vpc_names import VNI_BLOCK
from mallee.store.tables.compute import NodeRow
from mallee.store.tables.ec2 import Ec2Instance
from mallee.store.tables.interfaces import Ec2NetworkInterface
from mallee.store.tables.network import Ec2Address, Ec2InstanceGroup, network_generation
from mallee.store.tables.vpc import (
    Ec2DhcpOptions,
    Ec2InternetGateway,
    Ec2NatGateway,
    Ec2NetworkAcl,
    Ec2NetworkAclAssociation,
    Ec2NetworkAclEntry,
    Ec2Route,
    Ec2RouteTable,
    Ec2RouteTableAssociation,
    Ec2Subnet,
    Ec2Vpc,
)

# NAT gateways the data path carries: `pending` ones too, since building them is what makes
# them `available` (vpc_edge writes it once its node applied one).
LIVE_NAT_STATES = ("pending", "available")


@dataclass(frozen=True, slots=True)
class Nic:
    """An instance's primary interface in a user VPC, on whichever node it is."""

    instance_id: str
    subnet_id: str
    ip: str
    mac: str
    node: str
    groups: tuple[str, ...] = ()
    public_ip: str | None = None


@dataclass(frozen=True, slots=True)
class AclEntry:
    rule_number: int
    egress: bool
    protocol: str  # "-1" or an IP protocol number
    allow: bool
    cidr: str
    port_from: int | None = None
    port_to: int | None = None
    icmp_type: int | None = None
    icmp_code: int | None = None


@dataclass(frozen=True, slots=True)
class RouteEntry:
    destination: str
    kind: str  # local | gateway | nat-gateway | instance | network-interface
    target: str
    active: bool = True


@dataclass(frozen=True, slots=True)
class Subnet:
    id: str
    cidr: str
    routes: tuple[RouteEntry, ...]  # its table's (the main one unless associated)
    acl: tuple[AclEntry, ...]  # its ACL's entries, both ways, by rule number


@dataclass(frozen=True, slots=True)
class NatGateway:
    id: str
    subnet_id: str
    private_ip: str
    public_ip: str
    node: str
    state: str = "available"  # or `pending`, until its node has applied it


@dataclass(frozen=True)
class Vpc:
    id: str
    vni: int
    cidr: str
    subnets: tuple[Subnet, ...]
    nics: tuple[Nic, ...]  # every node's, by instance id
    nats: tuple[NatGateway, ...]
    igw: bool  # an internet gateway is attached
    dhcp: tuple[tuple[str, tuple[str, ...]], ...] = ()
    # Private IPs of the VPC's interfaces that are not instances' (route targets).
    interfaces: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class VpcState:
    generation: int
    node: str
    vpcs: tuple[Vpc, ...]
    # node name -> public address, for every node that has one (VXLAN underlay).
    nodes: dict[str, str] = field(default_factory=dict)
    # group id -> rules, for every group a local instance is in; members of peer groups.
    rules: dict[str, tuple[Rule, ...]] = field(default_factory=dict)
    members: dict[str, tuple[str, ...]] = field(default_factory=dict)
    # NAT gateways being deleted (`deleting`) that run on this node: once their namespace is
    # gone, this node makes them `deleted`.
    deleting: tuple[str, ...] = ()


def nat_node(nat_id: str, nodes: list[str]) -> str:
    """Where a NAT gateway runs: a stable pick among the nodes with a public address, so every
    node agrees without a row. Step 3b may replace it with a placement column."""
    if not nodes:
        return ""
    ordered = sorted(nodes)
    return ordered[int(hashlib.sha256(nat_id.encode()).hexdigest(), 16) % len(ordered)]


def load(s: Session, node: str) -> VpcState:
    generation = network_generation(s)
    nodes = {
        str(n): str(ip)
        for n, ip in s.execute(
            select(NodeRow.name, NodeRow.public_ip).where(NodeRow.public_ip != "")
        )
    }
    vpc_rows = s.execute(
        select(Ec2Vpc.id, Ec2Vpc.vni, Ec2Vpc.cidr, Ec2Vpc.dhcp_options_id).where(
            Ec2Vpc.is_default.is_(False), Ec2Vpc.vni.is_not(None)
        )
    ).all()
    # A VNI that is no block (a VPC made before blocks were allocated) has no data path.
    vpc_rows = [r for r in vpc_rows if int(r[1] or 0) % VNI_BLOCK == 0]
    vpc_ids = [str(r[0]) for r in vpc_rows]
    nics = _nics(s, vpc_ids)
    elb = elb_nics(s, vpc_ids)  # load balancers' workers plugged into subnets: ports too
    for vid, fields in elb:
        nics[vid].append(Nic(*fields))
    nats = [
        NatGateway(str(i), str(sub), str(priv), str(pub), nat_node(str(i), list(nodes)),
                   str(st))
        for i, sub, priv, pub, st in s.execute(
            select(Ec2NatGateway.id, Ec2NatGateway.subnet_id, Ec2NatGateway.private_ip,
                   Ec2NatGateway.public_ip, Ec2NatGateway.state)
            .where(Ec2NatGateway.vpc_id.in_(vpc_ids), Ec2NatGateway.state.in_(LIVE_NAT_STATES))
            .order_by(Ec2NatGateway.id)
        )
    ]  # fmt: skip
    deleting = tuple(
        str(i)
        for i in s.scalars(
            select(Ec2NatGateway.id)
            .where(Ec2NatGateway.state == "deleting")
            .order_by(Ec2NatGateway.id)
        )
        if nat_node(str(i), list(nodes)) == node
    )
    nat_vpc = {
        str(i): str(v)
        for i, v in s.execute(
            select(Ec2NatGateway.id, Ec2NatGateway.vpc_id).where(
                Ec2NatGateway.id.in_([n.id for n in nats])
            )
        )
    }
    here = {v for v, ns in nics.items() if any(n.node == node for n in ns)}
    here |= {str(nat_vpc[n.id]) for n in nats if n.node == node}
    mine = [r for r in vpc_rows if str(r[0]) in here]
    ids = [str(r[0]) for r in mine]
    subnets = _subnets(s, ids)
    attached = set(
        s.scalars(select(Ec2InternetGateway.vpc_id).where(Ec2InternetGateway.vpc_id.in_(ids)))
    )
    options = _dhcp(s, [str(r[3]) for r in mine])
    interfaces = _interfaces(s, ids)
    vpcs = tuple(
        Vpc(
            id=str(vid),
            vni=int(vni or 0),
            cidr=str(cidr),
            subnets=subnets.get(str(vid), ()),
            nics=tuple(nics.get(str(vid), ())),
            nats=tuple(n for n in nats if nat_vpc[n.id] == vid),
            igw=str(vid) in attached,
            dhcp=options.get(str(dopt), ()),
            interfaces=interfaces.get(str(vid), ()),
        )
        for vid, vni, cidr, dopt in sorted(mine, key=lambda r: str(r[0]))
    )
    local_groups = sorted({g for v in vpcs for n in v.nics if n.node == node for g in n.groups})
    rules = desired._rules(s, local_groups)  # EDGE's reading of groups, not a second one
    peers = sorted({r.peer_group for rs in rules.values() for r in rs if r.peer_group})
    members = with_members(desired._members(s, peers), elb)
    return VpcState(generation, node, vpcs, nodes, rules, members, deleting)


def _nics(s: Session, vpc_ids: list[str]) -> dict[str, list[Nic]]:
    i = Ec2Instance
    rows = s.execute(
        select(i.id, i.vpc_id, i.subnet_id, i.private_ip, i.mac, i.node)
        .where(
            i.vpc_id.in_(vpc_ids),
            i.state.in_(NETWORKED_STATES),
            i.private_ip.is_not(None),
            i.node.is_not(None),
            i.subnet_id.is_not(None),
        )
        .order_by(i.id)
    ).all()
    iids = [str(r[0]) for r in rows]
    groups: dict[str, list[str]] = defaultdict(list)
    for iid, gid in s.execute(
        select(Ec2InstanceGroup.instance_id, Ec2InstanceGroup.group_id)
        .where(Ec2InstanceGroup.instance_id.in_(iids))
        .order_by(Ec2InstanceGroup.instance_id, Ec2InstanceGroup.position)
    ):
        groups[str(iid)].append(str(gid))
    public = {
        str(iid): str(ip)
        for ip, iid in s.execute(
            select(Ec2Address.public_ip, Ec2Address.instance_id).where(
                Ec2Address.instance_id.in_(iids)
            )
        )
    }
    out: dict[str, list[Nic]] = defaultdict(list)
    for iid, vid, sub, ip, mac, node in rows:
        out[str(vid)].append(
            Nic(str(iid), str(sub), str(ip), str(mac or "").lower(), str(node),
                tuple(groups.get(str(iid), ())), public.get(str(iid)))
        )  # fmt: skip
    return out


def _subnets(s: Session, vpc_ids: list[str]) -> dict[str, tuple[Subnet, ...]]:
    rows = s.execute(
        select(Ec2Subnet.id, Ec2Subnet.vpc_id, Ec2Subnet.cidr)
        .where(Ec2Subnet.vpc_id.in_(vpc_ids))
        .order_by(Ec2Subnet.id)
    ).all()
    tables = s.execute(
        select(Ec2RouteTable.id, Ec2RouteTable.vpc_id, Ec2RouteTable.is_main).where(
            Ec2RouteTable.vpc_id.in_(vpc_ids)
        )
    ).all()
    main = {str(vid): str(tid) for tid, vid, is_main in tables if is_main}
    table_ids = [str(t[0]) for t in tables]
    assoc = {
        str(sub): str(tid)
        for tid, sub in s.execute(
            select(Ec2RouteTableAssociation.table_id, Ec2RouteTableAssociation.subnet_id).where(
                Ec2RouteTableAssociation.table_id.in_(table_ids),
                Ec2RouteTableAssociation.subnet_id.is_not(None),
            )
        )
    }
    routes: dict[str, list[RouteEntry]] = defaultdict(list)
    r = Ec2Route
    for tid, dest, kind, target, state in s.execute(
        select(r.table_id, r.destination, r.target_kind, r.target_id, r.state)
        .where(r.table_id.in_(table_ids))
        .order_by(r.table_id, r.destination)
    ):
        routes[str(tid)].append(RouteEntry(str(dest), str(kind), str(target), state == "active"))
    acl_of = {
        str(sub): str(acl)
        for acl, sub in s.execute(
            select(Ec2NetworkAclAssociation.acl_id, Ec2NetworkAclAssociation.subnet_id)
            .join(Ec2NetworkAcl, Ec2NetworkAcl.id == Ec2NetworkAclAssociation.acl_id)
            .where(Ec2NetworkAcl.vpc_id.in_(vpc_ids))
        )
    }
    entries: dict[str, list[AclEntry]] = defaultdict(list)
    e = Ec2NetworkAclEntry
    for row in s.execute(
        select(e.acl_id, e.rule_number, e.egress, e.protocol, e.rule_action, e.cidr,
               e.port_from, e.port_to, e.icmp_type, e.icmp_code)
        .where(e.acl_id.in_(sorted(set(acl_of.values()))))
        .order_by(e.acl_id, e.egress, e.rule_number)
    ):  # fmt: skip
        entries[str(row[0])].append(
            AclEntry(int(row[1]), bool(row[2]), str(row[3]), row[4] == "allow", str(row[5]),
                     row[6], row[7], row[8], row[9])
        )  # fmt: skip
    out: dict[str, list[Subnet]] = defaultdict(list)
    for sid, vid, cidr in rows:
        table = assoc.get(str(sid), main.get(str(vid), ""))
        acl = acl_of.get(str(sid), "")
        out[str(vid)].append(
            Subnet(str(sid), str(cidr), tuple(routes.get(table, ())), tuple(entries.get(acl, ())))
        )
    return {v: tuple(ss) for v, ss in out.items()}


def _dhcp(s: Session, ids: list[str]) -> dict[str, tuple[tuple[str, tuple[str, ...]], ...]]:
    out = {}
    for oid, options in s.execute(
        select(Ec2DhcpOptions.id, Ec2DhcpOptions.options).where(Ec2DhcpOptions.id.in_(ids))
    ):
        out[str(oid)] = tuple(sorted((str(k), tuple(map(str, v))) for k, v in options.items()))
    return out


def _interfaces(s: Session, vpc_ids: list[str]) -> dict[str, tuple[tuple[str, str], ...]]:
    out: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for eid, vid, ip in s.execute(
        select(Ec2NetworkInterface.id, Ec2NetworkInterface.vpc_id, Ec2NetworkInterface.private_ip)
        .where(Ec2NetworkInterface.vpc_id.in_(vpc_ids), Ec2NetworkInterface.private_ip.is_not(None))
        .order_by(Ec2NetworkInterface.id)
    ):
        out[str(vid)].append((str(eid), str(ip)))
    return {v: tuple(x) for v, x in out.items()}
