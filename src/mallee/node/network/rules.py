"""EDGE rules from desired state, as pure data: security groups as filter chains, public IPs
as 1:1 NAT. Applied whole by iptables.replace_chains, so any state converges in one step.

Filter table of the node namespace (bridged VM-to-VM traffic crosses FORWARD too, because
the namespace has bridge-nf-call-iptables=1):

    FORWARD -> MALLEE_FWD: established/related ACCEPT, then MALLEE_EGRESS, then MALLEE_INGRESS
    MALLEE_EGRESS:  -s <instance> -j ME-<group> (one per membership), then
                    -s <instance> without the allow mark -> DROP
    MALLEE_INGRESS: -d <instance> -j MI-<group> (one per membership), then -d <instance> DROP
    MI-<group>:     one ACCEPT per ingress permission and peer (CIDR or member address)
    ME-<group>:     one MARK per egress permission and peer

Egress permissions mark rather than accept: a packet between two instances of this node must
pass the sender's egress and then the receiver's ingress, and an ACCEPT would end the walk.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from mallee.node.network.desired import EdgeState, Rule
from mallee.node.network.names import tap_for

FWD = "MALLEE_FWD"
EGRESS = "MALLEE_EGRESS"
INGRESS = "MALLEE_INGRESS"
DNAT = "MALLEE_DNAT"
SNAT = "MALLEE_SNAT"
ANTISPOOF = "MALLEE_SPOOF"
# Bridge ports that are instances' (taps: names.tap_for).
INSTANCE_PORTS = "tap+"
GROUP_PREFIXES = ("MI-", "ME-")
ALLOW_MARK = "0x100/0x100"
PUBLIC_DEVICE = "pub0"

_GROUP_ID = re.compile(r"sg-[0-9a-f]{1,24}")
_NAMED_PROTOCOLS = {
    "6": "tcp",
    "17": "udp",
    "1": "icmp",
    "tcp": "tcp",
    "udp": "udp",
    "icmp": "icmp",
}

Chains = dict[str, list[list[str]]]


@dataclass(frozen=True)
class EdgeRules:
    filter: Chains
    nat: Chains
    # ebtables (bridge) filter chain ANTISPOOF
    antispoof: list[list[str]]


def group_chain(group_id: str, egress: bool) -> str:
    if not _GROUP_ID.fullmatch(group_id):
        raise ValueError(f"not a security group id: {group_id!r}")
    return ("ME-" if egress else "MI-") + group_id.upper()


def protocol_match(rule: Rule) -> list[str]:
    """The -p/port part of a permission; [] for all protocols."""
    proto = rule.protocol.lower()
    proto = _NAMED_PROTOCOLS.get(proto, proto)
    if proto in ("-1", "all"):
        return []
    if proto in ("tcp", "udp"):
        low, high = rule.from_port, rule.to_port
        if low is None or high is None or (low <= 0 and high >= 65535):
            return ["-p", proto, "-m", proto]
        ports = str(low) if low == high else f"{low}:{high}"
        return ["-p", proto, "-m", proto, "--dport", ports]
    if proto == "icmp":
        kind, code = rule.from_port, rule.to_port
        if kind is None or kind < 0:
            return ["-p", "icmp"]
        spec = str(kind) if code is None or code < 0 else f"{kind}/{code}"
        return ["-p", "icmp", "-m", "icmp", "--icmp-type", spec]
    if not proto.isdigit():
        raise ValueError(f"unknown protocol {rule.protocol!r}")
    return ["-p", proto]


def _peers(rule: Rule, members: dict[str, tuple[str, ...]]) -> list[str]:
    if rule.cidr:
        return [rule.cidr]
    if rule.peer_group:
        return [f"{ip}/32" for ip in members.get(rule.peer_group, ())]
    return []


def _group_chain_rules(
    rules: tuple[Rule, ...], egress: bool, members: dict[str, tuple[str, ...]]
) -> list[list[str]]:
    out = []
    for rule in rules:
        if rule.egress != egress:
            continue
        match = protocol_match(rule)
        for peer in _peers(rule, members):
            if egress:
                out.append(["-d", peer, *match, "-j", "MARK", "--set-xmark", ALLOW_MARK])
            else:
                out.append(["-s", peer, *match, "-j", "ACCEPT"])
    return out


def filter_chains(state: EdgeState) -> Chains:
    chains: Chains = {
        FWD: [
            ["-m", "conntrack", "--ctstate", "RELATED,ESTABLISHED", "-j", "ACCEPT"],
            ["-j", EGRESS],
            ["-j", INGRESS],
        ],
        EGRESS: [],
        INGRESS: [],
    }
    for gid, rules in sorted(state.rules.items()):
        for egress in (False, True):
            chains[group_chain(gid, egress)] = _group_chain_rules(rules, egress, state.members)
    for inst in state.instances:
        me = f"{inst.private_ip}/32"
        for gid in inst.groups:
            if gid in state.rules:
                chains[EGRESS].append(["-s", me, "-j", group_chain(gid, True)])
                chains[INGRESS].append(["-d", me, "-j", group_chain(gid, False)])
        chains[EGRESS].append(["-s", me, "-m", "mark", "!", "--mark", ALLOW_MARK, "-j", "DROP"])
        chains[INGRESS].append(["-d", me, "-j", "DROP"])
    return chains


def nat_chains(state: EdgeState, node_subnet: str) -> Chains:
    dnat = [
        ["-d", f"{public}/32", "-j", "DNAT", "--to-destination", private]
        for public, private in sorted(state.nat.items())
    ]
    # Private to private stays unNATed across nodes (flat L3), whatever public IP either has.
    snat = [["-s", node_subnet, "-d", subnet, "-j", "RETURN"] for subnet in sorted(state.routes)]
    snat += [
        ["-s", f"{private}/32", "-o", PUBLIC_DEVICE, "-j", "SNAT", "--to-source", public]
        for public, private in sorted(state.nat.items())
    ]
    snat.append(["-s", node_subnet, "-o", PUBLIC_DEVICE, "-j", "MASQUERADE"])
    return {DNAT: dnat, SNAT: snat}


def antispoof_rules(state: EdgeState) -> list[list[str]]:
    """Each instance's port may send only from its own MAC and IP (ARP included), plus the
    DHCP discovery that precedes having an IP; everything else from an instance port drops.

    Groups match on source addresses, so without this a guest could borrow a neighbour's."""
    out: list[list[str]] = []
    for inst in state.instances:
        if not inst.mac:
            continue
        port = ["-i", tap_for(inst.instance_id), "-s", inst.mac]
        out += [
            [*port, "-p", "IPv4", "--ip-src", inst.private_ip, "-j", "RETURN"],
            [*port, "-p", "IPv4", "--ip-src", "0.0.0.0", "--ip-proto", "udp",
             "--ip-dport", "67", "-j", "RETURN"],
            [*port, "-p", "ARP", "--arp-ip-src", inst.private_ip, "--arp-mac-src", inst.mac,
             "-j", "RETURN"],
        ]  # fmt: skip
    out.append(["-j", "DROP"])
    return out


def edge_rules(state: EdgeState, node_subnet: str) -> EdgeRules:
    return EdgeRules(filter_chains(state), nat_chains(state, node_subnet), antispoof_rules(state))
