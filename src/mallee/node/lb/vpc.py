"""A worker of a load balancer in a user VPC: its leg in its subnet, and its listeners' guard.

The load balancer's interface in the subnet of the worker's zone (services/elb/interfaces.py
makes the row) becomes a veth: `vpc0` in the worker's namespace, holding the interface's
address and MAC, its other end on the subnet's bridge in the VPC's namespace on this node.
HAProxy reaches the VPC's instances through it (the VPC's CIDR via the subnet's router), so
their security groups judge its packets by that address and the load balancer's groups.

The VPC data path treats that end as one more instance port (`elb_nics`, read by
vpc_desired): an instance-style id derived from the interface's makes its name a tap name, so
the data path gives it what a guest's tap gets (anti-spoofing of its MAC and address, the
load balancer's groups as its firewall, its address and MAC known on the VPC's other nodes)
and brings the VPC's namespace to this node. Until that namespace and the subnet's bridge
exist the worker waits (LegNotReady), as a VPC guest's launch waits for its port.

The public side keeps its address on the public bridge for clients; there the load
balancer's groups' ingress rules with a CIDR decide what reaches the listeners (a rule naming
a group matches no client outside the VPC).
"""

from __future__ import annotations

import ipaddress
import json
from collections import defaultdict
from collections.abc import Collection, Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from mallee.commands import run
from mallee.node.network import iptables, links
from mallee.node.network.desired import Rule, _rules
from mallee.node.network.names import tap_for
from mallee.node.network.rules import PUBLIC_DEVICE, protocol_match
from mallee.node.network.vpc_names import (
    GUEST_MTU,
    bridge_name,
    router_ip,
    subnet_index,
    vpc_netns,
)
from mallee.store.tables.elb import ElbInterface, ElbLoadBalancer, ElbWorker
from mallee.store.tables.interfaces import Ec2NetworkInterface, Ec2NetworkInterfaceGroup
from mallee.store.tables.vpc import Ec2Subnet, Ec2Vpc

LEG_DEVICE = "vpc0"
LISTENER_GUARD = "ML_IN"
LIVE = ("pending", "running")


class LegNotReady(Exception):
    """The VPC's namespace or the subnet's bridge is not on this node yet."""


@dataclass(frozen=True, slots=True)
class Leg:
    interface_id: str
    ip: str
    prefixlen: int
    mac: str
    router: str
    vpc_cidr: str
    vpc_netns: str
    bridge: str
    port: str  # the VPC namespace's end


@dataclass(frozen=True, slots=True)
class VpcSide:
    leg: Leg
    ingress: tuple[Rule, ...]  # the load balancer's groups' ingress rules


def port_id(interface_id: str) -> str:
    """The instance-style id the VPC data path knows the worker's port by."""
    return "i-" + interface_id.removeprefix("eni-")


def listener_rules(ingress: Sequence[Rule]) -> list[list[str]]:
    """The guard on pub0: answers, then what a CIDR ingress rule allows; the rest drops.
    Spelled as `iptables -S` prints them, so an unchanged guard is left alone."""
    out = [["-m", "conntrack", "--ctstate", "RELATED,ESTABLISHED", "-j", "RETURN"]]
    for rule in ingress:
        if rule.egress or not rule.cidr:
            continue
        net = ipaddress.IPv4Network(rule.cidr, strict=False)
        source = [] if net.prefixlen == 0 else ["-s", str(net)]
        out.append([*source, *protocol_match(rule), "-j", "RETURN"])
    out.append(["-j", "DROP"])
    return out


def sides(
    s: Session, cloud_id: str, node: str, workers: Collection[tuple[str, str, str]]
) -> dict[str, VpcSide]:
    """worker id -> its VPC side, for the (worker id, lb id, zone) of load balancers with an
    interface in the worker's zone."""
    lb_ids = sorted({lb for _, lb, _ in workers})
    if not lb_ids:
        return {}
    found: dict[tuple[str, str], tuple[Leg, str]] = {}
    e, sub, vpc = Ec2NetworkInterface, Ec2Subnet, Ec2Vpc
    for lb_id, zone, eni, ip, mac, cidr, vpc_cidr, vni, groups in s.execute(
        select(ElbInterface.lb_id, ElbInterface.zone, e.id, e.private_ip, e.mac, sub.cidr,
               vpc.cidr, vpc.vni, ElbLoadBalancer.security_groups)
        .join(e, e.id == ElbInterface.interface_id)
        .join(sub, sub.id == ElbInterface.subnet_id)
        .join(vpc, vpc.id == sub.vpc_id)
        .join(ElbLoadBalancer, ElbLoadBalancer.id == ElbInterface.lb_id)
        .where(ElbInterface.lb_id.in_(lb_ids), e.private_ip.is_not(None), vpc.vni.is_not(None))
    ):  # fmt: skip
        k = subnet_index(str(vpc_cidr), str(cidr))
        leg = Leg(
            str(eni), str(ip), ipaddress.IPv4Network(str(cidr)).prefixlen, str(mac or "").lower(),
            router_ip(str(cidr)), str(vpc_cidr), vpc_netns(cloud_id, node, int(vni or 0)),
            bridge_name(k), tap_for(port_id(str(eni))),
        )  # fmt: skip
        found[(str(lb_id), str(zone))] = (leg, str(groups or "[]"))
    group_ids = sorted({g for _, text in found.values() for g in json.loads(text)})
    rules = _rules(s, group_ids)
    out = {}
    for worker_id, lb_id, zone in workers:
        if (lb_id, zone) in found:
            leg, text = found[(lb_id, zone)]
            ingress = tuple(r for g in json.loads(text) for r in rules.get(g, ()) if not r.egress)
            out[worker_id] = VpcSide(leg, ingress)
    return out


def elb_nics(
    s: Session, vpc_ids: Collection[str]
) -> list[tuple[str, tuple[str, str, str, str, str, tuple[str, ...]]]]:
    """(VPC id, (port id, subnet id, address, MAC, node, groups)) of every placed worker's
    interface in `vpc_ids`: what vpc_desired adds to the VPC's instance ports."""
    e, w = Ec2NetworkInterface, ElbWorker
    rows = s.execute(
        select(e.id, e.vpc_id, e.subnet_id, e.private_ip, e.mac, w.node)
        .join(ElbInterface, ElbInterface.interface_id == e.id)
        .join(w, (w.lb_id == ElbInterface.lb_id) & (w.zone == ElbInterface.zone))
        .where(
            e.vpc_id.in_(sorted(vpc_ids)), e.private_ip.is_not(None), e.mac.is_not(None),
            w.node.is_not(None), w.state.in_(LIVE),
        )
        .order_by(e.id)
    ).all()  # fmt: skip
    groups: dict[str, list[str]] = defaultdict(list)
    g = Ec2NetworkInterfaceGroup
    for eni, gid in s.execute(
        select(g.interface_id, g.group_id)
        .where(g.interface_id.in_([str(r[0]) for r in rows]))
        .order_by(g.interface_id, g.position)
    ):
        groups[str(eni)].append(str(gid))
    return [
        (str(vid), (port_id(str(eni)), str(sid), str(ip), str(mac).lower(), str(node),
                    tuple(groups.get(str(eni), ()))))
        for eni, vid, sid, ip, mac, node in rows
    ]  # fmt: skip


def with_members(
    members: dict[str, tuple[str, ...]],
    nics: Sequence[tuple[str, tuple[str, str, str, str, str, tuple[str, ...]]]],
) -> dict[str, tuple[str, ...]]:
    """Group members (peer-group rules' sources) with the workers' interface addresses."""
    out = dict(members)
    for _, (_, _, ip, _, _, groups) in nics:
        for gid in groups:
            if gid in out and ip not in out[gid]:
                out[gid] = tuple(sorted((*out[gid], ip)))
    return out


def ensure_leg(netns: str, leg: Leg) -> None:
    """`vpc0` in the worker's namespace, its other end on the subnet's bridge."""
    have = links.interfaces(leg.vpc_netns) if links.exists(leg.vpc_netns) else {}
    if leg.bridge not in have:
        raise LegNotReady(f"{leg.vpc_netns} has no {leg.bridge} yet")
    inside = links.interfaces(netns)
    if LEG_DEVICE not in inside or leg.port not in have:
        links.ns(netns, "ip", "link", "del", LEG_DEVICE, check=False)
        links.ns(leg.vpc_netns, "ip", "link", "del", leg.port, check=False)
        run(["ip", "link", "add", leg.port, "netns", leg.vpc_netns, "type", "veth",
             "peer", "name", LEG_DEVICE, "netns", netns])  # fmt: skip
        inside = links.interfaces(netns)
    port = have.get(leg.port, {})
    if port.get("master") != leg.bridge or "UP" not in port.get("flags", ()):
        links.ns(leg.vpc_netns, "ip", "link", "set", leg.port, "master", leg.bridge, "up")
    mine = inside[LEG_DEVICE]
    if str(mine.get("address", "")).lower() != leg.mac:
        links.ns(netns, "ip", "link", "set", LEG_DEVICE, "down")
        links.ns(netns, "ip", "link", "set", LEG_DEVICE, "address", leg.mac)
    if mine.get("mtu") != GUEST_MTU:
        # The subnet crosses nodes in VXLAN, as its guests are told.
        links.ns(netns, "ip", "link", "set", LEG_DEVICE, "mtu", str(GUEST_MTU))
    address = f"{leg.ip}/{leg.prefixlen}"
    for old in sorted(links.inet_addresses(mine) - {address}):
        links.ns(netns, "ip", "addr", "del", old, "dev", LEG_DEVICE, check=False)
    links.ns(netns, "ip", "addr", "replace", address, "dev", LEG_DEVICE)
    links.ns(netns, "ip", "link", "set", LEG_DEVICE, "up")
    links.ns(netns, "ip", "route", "replace", leg.vpc_cidr, "via", leg.router, "dev", LEG_DEVICE)


def has_leg(netns: str) -> bool:
    return any(str(x["ifname"]) == LEG_DEVICE for x in links.links(netns))


def guard_listeners(netns: str, ingress: Sequence[Rule]) -> None:
    """The load balancer's groups on what reaches its listeners from the public side."""
    iptables.set_chain(netns, "filter", LISTENER_GUARD, listener_rules(ingress))
    iptables.ensure_jump(netns, "filter", "INPUT", LISTENER_GUARD, ["-i", PUBLIC_DEVICE])
