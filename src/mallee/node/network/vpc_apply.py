"""A VpcPlan made real, each step reading what exists and changing only what differs, so a
pass converges from any state (a crash halfway, a device deleted, a namespace rebuilt).

VXLAN devices are made in the node namespace with `local <node public IP>` and then moved into
the VPC namespace: a VXLAN device keeps its underlay socket in the namespace it was made in.
"""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

from mallee.commands import in_netns, run
from mallee.node.network import iptables, links
from mallee.node.network.rules import ANTISPOOF, GROUP_PREFIXES, INSTANCE_PORTS, PUBLIC_DEVICE
from mallee.node.network.vpc_names import (
    IGW_DEVICE,
    LINK_INNER,
    LINK_NODE,
    METADATA_ADDRESS,
    VXLAN_PORT,
    igw_peer,
)
from mallee.node.network.vpc_rules import (
    ACL_PREFIXES,
    VPC_DNAT,
    VPC_FWD,
    VPC_SNAT,
    VX_GUARD,
    VX_INPUT,
    NatPlan,
    SubnetPlan,
    VpcPlan,
)


def _json(netns: str, *argv: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = json.loads(links.ns(netns, *argv) or "[]")
    return found


def apply_vpc(
    plan: VpcPlan, node_netns: str, public_ip: str, previous: VpcPlan | None = None
) -> None:
    """Make `plan` real. With `previous` (what was applied last, still there as drift checks
    found it) and only the chains changed, as after a group, ACL or address change, only the
    chains are swapped: one iptables-restore per table."""
    if previous is not None and plan == replace(
        previous, filter=plan.filter, nat=plan.nat, bridge=plan.bridge
    ):
        iptables.replace_chains(plan.netns, "filter", plan.filter, (*GROUP_PREFIXES, *ACL_PREFIXES))
        if plan.nat != previous.nat:
            iptables.replace_chains(plan.netns, "nat", plan.nat)
        for chain, rules in plan.bridge.items():
            if rules != previous.bridge.get(chain):
                iptables.replace_bridge_chain(plan.netns, chain, rules)
        return
    ns = plan.netns
    links.ensure_netns(ns)
    links.ns(ns, "sysctl", "-qw", "net.bridge.bridge-nf-call-iptables=1", check=False)
    have = links.interfaces(ns)
    wanted = {p.bridge for p in plan.subnets} | {p.vxlan for p in plan.subnets}
    for name in sorted(have):
        if name.startswith(("br-", "vx")) and name not in wanted:
            links.ns(ns, "ip", "link", "del", name, check=False)
    for p in plan.subnets:
        links.ensure_bridge(ns, p.bridge, p.mac, p.router)
        _ensure_vxlan(ns, node_netns, p, public_ip, have.get(p.vxlan))
    links.ns(ns, "ip", "addr", "replace", f"{METADATA_ADDRESS}/32", "dev", "lo")
    _set_fdb(plan)
    _set_neighbours(plan)
    _set_igw(plan, node_netns)  # before the routes through it
    _set_routing(plan)
    for tap, bridge in plan.taps:
        if tap in have and have[tap].get("master") != bridge:
            links.ns(ns, "ip", "link", "set", tap, "master", bridge, "up", check=False)
    _set_chains(plan)


def _ensure_vxlan(
    ns: str, node_netns: str, p: SubnetPlan, public_ip: str, found: dict[str, Any] | None
) -> None:
    if found is None:
        links.ns(node_netns, "ip", "link", "del", p.vxlan, check=False)  # a half-made one
        links.ns(node_netns, "ip", "link", "add", p.vxlan, "type", "vxlan", "id", str(p.vni),
                 "local", public_ip, "dstport", str(VXLAN_PORT), "nolearning")  # fmt: skip
        links.ns(node_netns, "ip", "link", "set", p.vxlan, "netns", ns)
    if found is None or found.get("master") != p.bridge or "UP" not in found.get("flags", ()):
        links.ns(ns, "ip", "link", "set", p.vxlan, "master", p.bridge, "up")
        # The router's MAC is every node's: learning it from the far side would only warn.
        links.ns(ns, "bridge", "link", "set", "dev", p.vxlan, "learning", "off")


def _set_fdb(plan: VpcPlan) -> None:
    have = set()
    for e in _json(plan.netns, "bridge", "-j", "fdb", "show"):
        if e.get("dst") and str(e.get("ifname", "")).startswith("vx"):
            have.add((str(e["ifname"]), str(e["mac"]), str(e["dst"])))
    wanted = set(plan.fdb)
    for dev, mac, dst in sorted(have - wanted):
        links.ns(plan.netns, "bridge", "fdb", "del", mac, "dev", dev, "dst", dst, check=False)
    for dev, mac, dst in sorted(wanted - have):
        links.ns(plan.netns, "bridge", "fdb", "append", mac, "dev", dev, "dst", dst)


def _set_neighbours(plan: VpcPlan) -> None:
    have = {
        (str(n["dst"]), str(n.get("lladdr", "")), str(n["dev"]))
        for n in _json(plan.netns, "ip", "-j", "-4", "neigh", "show", "nud", "permanent")
    }
    wanted = set(plan.neighbours)
    for ip, _, dev in sorted(have - wanted):
        links.ns(plan.netns, "ip", "neigh", "del", ip, "dev", dev, check=False)
    for ip, mac, dev in sorted(wanted - have):
        links.ns(plan.netns, "ip", "neigh", "replace", ip, "lladdr", mac, "dev", dev,
                 "nud", "permanent")  # fmt: skip


def _set_routing(plan: VpcPlan) -> None:
    """Each subnet's table rewritten in one `ip -batch` (flush + routes) and its rule."""
    rules = {
        int(r["priority"]): str(r.get("src", ""))
        for r in _json(plan.netns, "ip", "-j", "-4", "rule", "show")
        if "priority" in r
    }
    wanted = {p.table: p.cidr.split("/")[0] for p in plan.subnets}
    lines = []
    for pref, src in sorted(rules.items()):
        if pref >= 10000 and pref < 20000 and wanted.get(pref) != src:
            lines.append(f"rule del pref {pref}")
            lines.append(f"route flush table {pref}")
    for p in plan.subnets:
        if wanted[p.table] != rules.get(p.table):
            lines.append(f"rule add pref {p.table} from {p.cidr} lookup {p.table}")
        lines.append(f"route flush table {p.table}")
        lines += [f"route add {r} table {p.table}" for r in p.routes]
    run(in_netns(plan.netns, ["ip", "-force", "-batch", "-"]), input="\n".join(lines).encode())


def _set_igw(plan: VpcPlan, node_netns: str) -> None:
    peer = igw_peer(plan.vni)
    inner = {str(x["ifname"]) for x in links.links(plan.netns)}
    if not plan.igw:
        links.ns(plan.netns, "ip", "link", "del", IGW_DEVICE, check=False)
        return
    if IGW_DEVICE not in inner:
        links.ns(node_netns, "ip", "link", "del", peer, check=False)
        run(["ip", "link", "add", peer, "netns", node_netns, "type", "veth",
             "peer", "name", IGW_DEVICE, "netns", plan.netns])  # fmt: skip
    links.ns(node_netns, "ip", "addr", "replace", f"{LINK_NODE}/32", "dev", peer)
    links.ns(node_netns, "ip", "link", "set", peer, "up")
    links.ns(plan.netns, "ip", "addr", "replace", f"{LINK_INNER}/32", "dev", IGW_DEVICE)
    links.ns(plan.netns, "ip", "link", "set", IGW_DEVICE, "up")
    set_public_routes(node_netns, peer, [pub for pub, _ in plan.public])


def set_public_routes(node_netns: str, device: str, public_ips: list[str]) -> None:
    """The node namespace sends `public_ips` down `device` (an inner namespace's veth)."""
    have = {
        str(r["dst"]).removesuffix("/32")
        for r in _json(node_netns, "ip", "-j", "-4", "route", "show", "dev", device)
        if r.get("gateway") == LINK_INNER
    }
    for ip in sorted(have - set(public_ips)):
        links.ns(node_netns, "ip", "route", "del", f"{ip}/32", "dev", device, check=False)
    for ip in sorted(set(public_ips) - have):
        links.ns(node_netns, "ip", "route", "replace", f"{ip}/32", "via", LINK_INNER,
                 "dev", device, "onlink")  # fmt: skip


def set_proxies(node_netns: str, public_ips: set[str]) -> None:
    """The node answers ARP on the public network for the VPC addresses it hosts: proxy
    entries, not addresses, since EDGE owns pub0's /32s and the packets must be routed on."""
    have = {
        str(n["dst"])
        for n in _json(node_netns, "ip", "-j", "-4", "neigh", "show", "proxy", "dev", PUBLIC_DEVICE)
    }
    for ip in sorted(have - public_ips):
        links.ns(node_netns, "ip", "neigh", "del", "proxy", ip, "dev", PUBLIC_DEVICE, check=False)
    for ip in sorted(public_ips - have):
        links.ns(node_netns, "ip", "neigh", "replace", "proxy", ip, "dev", PUBLIC_DEVICE)
        run(in_netns(node_netns, ["arping", "-q", "-U", "-c", "1", "-I", PUBLIC_DEVICE,
                                  "-s", ip, ip]), check=False)  # fmt: skip


def set_vxlan_input(node_netns: str, rules: list[list[str]]) -> None:
    """The VXLAN port's guard in the node namespace (vpc_rules.vxlan_input_rules); the chain
    is filled before the jump so the port is never open while it is being made."""
    iptables.set_chain(node_netns, "filter", VX_INPUT, rules)
    match = ["-p", "udp", "-m", "udp", "--dport", str(VXLAN_PORT)]
    iptables.ensure_jump(node_netns, "filter", "INPUT", VX_INPUT, match)


def _set_chains(plan: VpcPlan) -> None:
    ns = plan.netns
    iptables.replace_chains(ns, "filter", plan.filter, (*GROUP_PREFIXES, *ACL_PREFIXES))
    iptables.replace_chains(ns, "nat", plan.nat)
    iptables.ensure_jump(ns, "filter", "FORWARD", VPC_FWD, [])
    iptables.ensure_jump(ns, "nat", "PREROUTING", VPC_DNAT, [])
    iptables.ensure_jump(ns, "nat", "POSTROUTING", VPC_SNAT, [])
    for chain, rules in plan.bridge.items():
        iptables.ensure_bridge_chain(ns, chain)
        iptables.replace_bridge_chain(ns, chain, rules)
    for parent in ("FORWARD", "INPUT"):
        iptables.ensure_bridge_jump(ns, parent, ANTISPOOF, ["-i", INSTANCE_PORTS])
        iptables.ensure_bridge_jump(ns, parent, VX_GUARD, ["-i", "vx+"])
    iptables.ensure_bridge_jump(ns, "OUTPUT", VX_GUARD, ["-o", "vx+"])


def apply_nat(nat: NatPlan, vpc_netns: str, node_netns: str) -> None:
    """A NAT gateway: its own namespace, a leg on its subnet's bridge in the VPC namespace
    (the private address) and one to the node namespace (the elastic IP, SNAT to it)."""
    ns = nat.netns
    links.ensure_netns(ns)
    inside = {str(x["ifname"]) for x in links.links(ns)}
    if "eth0" not in inside:
        links.ns(vpc_netns, "ip", "link", "del", nat.leg, check=False)
        run(["ip", "link", "add", nat.leg, "netns", vpc_netns, "type", "veth",
             "peer", "name", "eth0", "netns", ns])  # fmt: skip
    if "pub" not in inside:
        links.ns(node_netns, "ip", "link", "del", nat.peer, check=False)
        run(["ip", "link", "add", nat.peer, "netns", node_netns, "type", "veth",
             "peer", "name", "pub", "netns", ns])  # fmt: skip
    links.ns(vpc_netns, "ip", "link", "set", nat.leg, "master", nat.bridge, "up")
    links.ns(ns, "ip", "link", "set", "eth0", "address", nat.mac)
    links.ns(ns, "ip", "addr", "replace", nat.address, "dev", "eth0")
    links.ns(ns, "ip", "link", "set", "eth0", "up")
    links.ns(ns, "ip", "addr", "replace", f"{LINK_INNER}/32", "dev", "pub")
    links.ns(ns, "ip", "link", "set", "pub", "up")
    links.ns(node_netns, "ip", "addr", "replace", f"{LINK_NODE}/32", "dev", nat.peer)
    links.ns(node_netns, "ip", "link", "set", nat.peer, "up")
    links.ns(ns, "ip", "route", "replace", "default", "via", LINK_NODE, "dev", "pub", "onlink")
    links.ns(ns, "ip", "route", "replace", nat.vpc_cidr, "via", nat.router, "dev", "eth0")
    set_public_routes(node_netns, nat.peer, [nat.public_ip])
    iptables.set_chain(ns, "nat", "MN_SNAT",
                       [["-o", "pub", "-j", "SNAT", "--to-source", nat.public_ip]])  # fmt: skip
    iptables.ensure_jump(ns, "nat", "POSTROUTING", "MN_SNAT", [])
    # Only answers come in from outside: a NAT gateway accepts no connection.
    iptables.set_chain(ns, "filter", "MN_IN", [
        ["-i", "pub", "-m", "conntrack", "!", "--ctstate", "RELATED,ESTABLISHED", "-j", "DROP"]
    ])  # fmt: skip
    iptables.ensure_jump(ns, "filter", "FORWARD", "MN_IN", [])
