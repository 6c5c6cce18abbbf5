"""The VPC data path of one node as pure data: for each VPC with something here, its namespace's
bridges, VXLAN devices and forwarding entries, routing tables, chains and gateway links.

In a VPC's namespace (vpc_names.vpc_netns), per subnet k: bridge br-k holding the router's
address (.1, the same IP and MAC on every node: a distributed router), a VXLAN device (VNI
vni + k, underlay = the node's public address) with one flood entry per other node of the VPC
and one entry per remote interface's MAC, a routing table (`from <subnet> lookup 10000+k`)
holding the subnet's route table, and static neighbours for remote interfaces: the router never
ARPs across VXLAN, and ARP for .1 never crosses it (MV_VX), so each node's router answers its
own guests. Filter FORWARD -> MV_FWD: the subnets' network ACLs (stateless, rule order, on
traffic that leaves or enters a subnet: routed traffic, which is evaluated on the node that
routes it), the internet gateway's guard (only instances with a public IP leave by it), then
EDGE's security group chains (rules.filter_chains, stateful) for the local instances.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, replace

from mallee.node.network.desired import EdgeState, LocalInstance, Rule
from mallee.node.network.names import tap_for
from mallee.node.network.rules import (
    PUBLIC_DEVICE,
    Chains,
    antispoof_rules,
    filter_chains,
    protocol_match,
)
from mallee.node.network.vpc_desired import AclEntry, Subnet, Vpc, VpcState
from mallee.node.network.vpc_names import (
    IGW_DEVICE,
    LINK_NODE,
    bridge_name,
    nat_leg,
    nat_mac,
    nat_netns,
    nat_peer,
    router_ip,
    router_mac,
    subnet_index,
    subnet_vni,
    table_of,
    vpc_netns,
    vxlan_name,
)

VPC_FWD = "MV_FWD"
IGW_GUARD = "MV_IGW"
VPC_DNAT = "MV_DNAT"
VPC_SNAT = "MV_SNAT"
VX_GUARD = "MV_VX"
VX_INPUT = "MV_VXIN"
ACL_PREFIXES = ("NI-", "NO-")
FLOOD = "00:00:00:00:00:00"


@dataclass(frozen=True, slots=True)
class SubnetPlan:
    index: int
    cidr: str
    vni: int
    bridge: str
    vxlan: str
    router: str  # address/prefix on the bridge
    mac: str
    table: int
    routes: tuple[str, ...]  # `ip route` arguments, in table `table`


@dataclass(frozen=True, slots=True)
class NatPlan:
    id: str
    netns: str
    leg: str  # its port on the subnet's bridge, in the VPC namespace
    bridge: str
    peer: str  # its public end, in the node namespace
    address: str  # private address/prefix
    mac: str
    router: str
    vpc_cidr: str
    public_ip: str


@dataclass(frozen=True)
class VpcPlan:
    vpc_id: str
    netns: str
    vni: int
    subnets: tuple[SubnetPlan, ...]
    fdb: tuple[tuple[str, str, str], ...]  # (vxlan, MAC or FLOOD, remote node address)
    neighbours: tuple[tuple[str, str, str], ...]  # (ip, mac, bridge) of remote interfaces
    taps: tuple[tuple[str, str], ...]  # (tap, bridge) of local instances
    filter: Chains
    nat: Chains
    bridge: dict[str, list[list[str]]]
    igw: bool  # the veth to the node namespace exists
    public: tuple[tuple[str, str], ...]  # (public, private) hosted here through the gateway
    nats: tuple[NatPlan, ...]  # NAT gateways running on this node
    hosts: tuple[tuple[str, str, str], ...] = ()  # DHCP: (MAC, IP, instance) of local ones
    dhcp: tuple[str, ...] = ()  # dnsmasq arguments: ranges and options per subnet


def acl_match(entry: AclEntry) -> list[str]:
    """An entry's protocol and ports as iptables matches (rules.protocol_match's spelling)."""
    if entry.protocol in ("-1", "all"):
        return []
    if entry.protocol == "1":
        return protocol_match(Rule(False, "icmp", entry.icmp_type, entry.icmp_code, None, None))
    if entry.protocol in ("6", "17"):
        return protocol_match(
            Rule(False, entry.protocol, entry.port_from, entry.port_to, None, None)
        )
    return protocol_match(Rule(False, entry.protocol, None, None, None, None))


def _usable(entry: AclEntry) -> bool:
    """False for rows the API refuses today but older rows may hold: protocol 0 (iptables reads
    it as every protocol) and ICMP fields iptables cannot parse."""
    if entry.protocol == "0":
        return False
    fields = (entry.icmp_type, entry.icmp_code) if entry.protocol == "1" else ()
    return all(f is None or -1 <= f <= 255 for f in fields)


def acl_chain(entries: tuple[AclEntry, ...], egress: bool) -> list[list[str]]:
    """Stateless, first match wins: an allow returns (the groups decide next), a deny drops,
    and what no entry matches drops (AWS's `*` rule; the rows hold it as 32767)."""
    out = []
    for e in sorted(entries, key=lambda e: e.rule_number):
        if e.egress != egress or not _usable(e):
            continue
        peer = ["-d", e.cidr] if egress else ["-s", e.cidr]
        out.append([*peer, *acl_match(e), "-j", "RETURN" if e.allow else "DROP"])
    out.append(["-j", "DROP"])
    return out


_APPLIANCES = ("instance", "network-interface", "nat-gateway")


def _route_args(vpc: Vpc, subnets: dict[str, SubnetPlan], sub: Subnet) -> tuple[str, ...]:
    """The subnet's table: every subnet of the VPC on its bridge (the local route), then the
    route table's other routes resolved to next hops; what cannot be reached is a blackhole.
    One route per destination (a second `ip route add` of one prefix fails with "File exists"
    and would take the namespace with it): a route to a subnet's CIDR replaces that subnet's
    local route only when it resolves to an appliance (AWS's more specific routing)."""
    out = {p.cidr: f"{p.cidr} dev {p.bridge}" for p in subnets.values()}
    ips = {n.instance_id: n.ip for n in vpc.nics} | dict(vpc.interfaces)
    nats = {n.id: n.private_ip for n in vpc.nats}
    for route in sub.routes:
        dest = str(ipaddress.IPv4Network(route.destination))
        hop = ""
        if route.kind == "local":
            hop = f"blackhole {dest}"  # inside the VPC but in no subnet
        elif route.active and route.kind == "gateway" and vpc.igw:
            hop = f"{dest} via {LINK_NODE} dev {IGW_DEVICE} onlink"
        elif route.active and route.kind == "nat-gateway" and route.target in nats:
            hop = _via(dest, nats[route.target], subnets)
        elif route.active and route.kind in ("instance", "network-interface"):
            hop = _via(dest, ips.get(route.target, ""), subnets)
        if dest in out and (route.kind not in _APPLIANCES or not hop):
            continue  # a subnet's local route stays
        out[dest] = hop or f"blackhole {dest}"
    return tuple(out.values())


def _via(dest: str, ip: str, subnets: dict[str, SubnetPlan]) -> str:
    if not ip:
        return ""
    for p in subnets.values():
        if ipaddress.IPv4Address(ip) in ipaddress.IPv4Network(p.cidr):
            return f"{dest} via {ip} dev {p.bridge}"
    return ""


def _has_igw_route(sub: Subnet, vpc: Vpc) -> bool:
    return vpc.igw and any(r.kind == "gateway" and r.active for r in sub.routes)


def vpc_plan(state: VpcState, vpc: Vpc, cloud_id: str) -> VpcPlan:
    me = state.node
    subnets = {}
    for sub in sorted(vpc.subnets, key=lambda s: s.id):
        k = subnet_index(vpc.cidr, sub.cidr)
        vni = subnet_vni(vpc.vni, k)
        net = ipaddress.IPv4Network(sub.cidr)
        subnets[sub.id] = SubnetPlan(
            k, str(net), vni, bridge_name(k), vxlan_name(vni),
            f"{router_ip(sub.cidr)}/{net.prefixlen}", router_mac(vni), table_of(k), (),
        )  # fmt: skip
    subnets = {
        sub.id: replace(subnets[sub.id], routes=_route_args(vpc, subnets, sub))
        for sub in vpc.subnets
    }
    peers = sorted(
        {state.nodes[n.node] for n in vpc.nics if n.node != me and n.node in state.nodes}
        | {state.nodes[n.node] for n in vpc.nats if n.node != me and n.node in state.nodes}
    )
    remote = [(n.ip, n.mac, n.subnet_id, n.node) for n in vpc.nics if n.node != me and n.mac]
    remote += [(g.private_ip, nat_mac(g.id), g.subnet_id, g.node) for g in vpc.nats if g.node != me]
    fdb = [(p.vxlan, FLOOD, peer) for p in subnets.values() for peer in peers]
    fdb += [
        (subnets[sid].vxlan, mac, state.nodes[node])
        for _, mac, sid, node in remote
        if sid in subnets and node in state.nodes
    ]
    neighbours = [(ip, mac, subnets[sid].bridge) for ip, mac, sid, _ in remote if sid in subnets]
    local = [n for n in vpc.nics if n.node == me and n.subnet_id in subnets]
    by_id = {s.id: s for s in vpc.subnets}
    public = sorted(
        (n.public_ip, n.ip)
        for n in local
        if n.public_ip and _has_igw_route(by_id[n.subnet_id], vpc)
    )
    edge = EdgeState(
        generation=state.generation,
        instances=tuple(LocalInstance(n.instance_id, n.ip, n.groups, n.mac) for n in local),
        rules={g: r for g, r in state.rules.items() if any(g in n.groups for n in local)},
        members=state.members,
    )
    return VpcPlan(
        vpc_id=vpc.id,
        netns=vpc_netns(cloud_id, me, vpc.vni),
        vni=vpc.vni,
        subnets=tuple(sorted(subnets.values(), key=lambda p: p.index)),
        fdb=tuple(sorted(set(fdb))),
        neighbours=tuple(sorted(neighbours)),
        taps=tuple(sorted((tap_for(n.instance_id), subnets[n.subnet_id].bridge) for n in local)),
        filter=_filter(vpc, subnets, edge, public),
        nat=_nat(public),
        bridge={VX_GUARD: _vx_guard(subnets), "MALLEE_SPOOF": antispoof_rules(edge)},
        igw=vpc.igw,
        public=tuple(public),
        nats=tuple(
            NatPlan(
                g.id,
                nat_netns(cloud_id, me, g.id),
                nat_leg(g.id),
                subnets[g.subnet_id].bridge,
                nat_peer(g.id),
                f"{g.private_ip}/{ipaddress.IPv4Network(subnets[g.subnet_id].cidr).prefixlen}",
                nat_mac(g.id),
                router_ip(subnets[g.subnet_id].cidr),
                vpc.cidr,
                g.public_ip,
            )
            for g in vpc.nats
            if g.node == me and g.subnet_id in subnets
        ),
        hosts=tuple(sorted((n.mac, n.ip, n.instance_id) for n in local if n.mac)),
        dhcp=dhcp_arguments(vpc, list(subnets.values())),
    )


# The VXLAN header takes 50 bytes of the underlay's 1500.
GUEST_MTU = 1450
_DHCP_OPTIONS = {
    "domain-name-servers": "dns-server",
    "ntp-servers": "ntp-server",
    "netbios-name-servers": "netbios-ns",
}
_DOMAIN = re.compile(r"[A-Za-z0-9][A-Za-z0-9.-]{0,252}")


def dhcp_arguments(vpc: Vpc, subnets: list[SubnetPlan]) -> tuple[str, ...]:
    """dnsmasq's ranges (static: only the hosts file's addresses are given) and options: the
    subnet's router, the MTU VXLAN leaves, and the VPC's DHCP options (AmazonProvidedDNS is
    left out: the VPC has no resolver yet). Values that are not addresses or names are
    dropped, so nothing reaches dnsmasq's command line but what these patterns allow."""
    out = []
    for p in sorted(subnets, key=lambda p: p.index):
        net = ipaddress.IPv4Network(p.cidr)
        tag = f"s{p.index:03x}"
        out += [
            f"--interface={p.bridge}",
            f"--dhcp-range=set:{tag},{net.network_address},static,{net.netmask},infinite",
            f"--dhcp-option=tag:{tag},option:router,{p.router.split('/')[0]}",
        ]
    out.append(f"--dhcp-option=option:mtu,{GUEST_MTU}")
    options = dict(vpc.dhcp)
    for key, name in _DHCP_OPTIONS.items():
        ips = [v for v in options.get(key, ()) if _is_ip(v)]
        if ips:
            out.append(f"--dhcp-option=option:{name},{','.join(ips)}")
    domain = (options.get("domain-name") or ("",))[0].split(" ")[0]
    if _DOMAIN.fullmatch(domain):
        out.append(f"--dhcp-option=option:domain-name,{domain}")
    return tuple(out)


def _is_ip(value: str) -> bool:
    try:
        ipaddress.IPv4Address(value)
    except ValueError:
        return False
    return True


def _filter(
    vpc: Vpc, subnets: dict[str, SubnetPlan], edge: EdgeState, public: list[tuple[str, str]]
) -> Chains:
    chains: Chains = {VPC_FWD: []}
    by_id = {s.id: s for s in vpc.subnets}
    for sid, p in sorted(subnets.items(), key=lambda x: x[1].index):
        out, into = f"NO-{p.index:03X}", f"NI-{p.index:03X}"
        chains[VPC_FWD] += [
            ["-i", p.bridge, "!", "-o", p.bridge, "-j", out],
            ["!", "-i", p.bridge, "-o", p.bridge, "-j", into],
        ]
        chains[out] = acl_chain(by_id[sid].acl, True)
        chains[into] = acl_chain(by_id[sid].acl, False)
    chains[VPC_FWD].append(["-o", IGW_DEVICE, "-j", IGW_GUARD])
    chains[IGW_GUARD] = [["-s", f"{private}/32", "-j", "RETURN"] for _, private in public]
    chains[IGW_GUARD].append(["-j", "DROP"])
    chains[VPC_FWD].append(["-j", "MALLEE_FWD"])
    chains.update(filter_chains(edge))
    return chains


def _nat(public: list[tuple[str, str]]) -> Chains:
    return {
        VPC_DNAT: [
            ["-d", f"{pub}/32", "-i", IGW_DEVICE, "-j", "DNAT", "--to-destination", priv]
            for pub, priv in public
        ],
        VPC_SNAT: [
            ["-s", f"{priv}/32", "-o", IGW_DEVICE, "-j", "SNAT", "--to-source", pub]
            for pub, priv in public
        ],
    }


def _vx_guard(subnets: dict[str, SubnetPlan]) -> list[list[str]]:
    """ARP from or for a router address never crosses VXLAN: each node's router answers."""
    out = []
    for p in sorted(subnets.values(), key=lambda p: p.index):
        ip = p.router.split("/")[0]
        out += [
            ["-p", "ARP", "--arp-ip-dst", ip, "-j", "DROP"],
            ["-p", "ARP", "--arp-ip-src", ip, "-j", "DROP"],
        ]
    return out


def vxlan_input_rules(nodes: dict[str, str], public_ip: str) -> list[list[str]]:
    """The node namespace's filter for the VXLAN port: only the other nodes' public addresses,
    arriving on the public device (a guest, an internet gateway or a NAT gateway leg spoofing
    one arrives elsewhere), may inject frames into VPC subnets. Sources can still be spoofed
    by whoever shares the public L2: the underlay must be a trusted network."""
    peers = sorted({ip for ip in nodes.values() if ip and ip != public_ip})
    # In `iptables -S` order, so set_chain sees an unchanged chain as unchanged.
    out = [["-s", f"{ip}/32", "-i", PUBLIC_DEVICE, "-j", "RETURN"] for ip in peers]
    out.append(["-j", "DROP"])
    return out


def node_plans(state: VpcState, cloud_id: str) -> dict[str, VpcPlan]:
    """Every VPC namespace this node must have, by name."""
    plans = (vpc_plan(state, vpc, cloud_id) for vpc in state.vpcs)
    return {p.netns: p for p in plans}
