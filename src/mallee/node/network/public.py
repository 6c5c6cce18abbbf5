"""The node's leg on the public network, and the public network itself.

The cloud's "public" namespace (names.public_netns_for: one per cloud on a host) stands for
the outside world: a bridge holding the public gateway address, which every node of the cloud
on this machine joins with a veth pair (node side `pub0`, carrying the node's own public
address and the elastic IPs it hosts as /32s, so it answers ARP for them). Clients of the
cloud's instances (tests, the console's curl) run inside it. Nothing is added to the root
namespace.
"""

from __future__ import annotations

import hashlib
import ipaddress
import json
import threading

from mallee.commands import in_netns, run
from mallee.node.network import links
from mallee.node.network.rules import PUBLIC_DEVICE

PUBLIC_BRIDGE = "pubbr"


def peer_name(node_name: str) -> str:
    """The public namespace's end of the node's veth: unique per node, within IFNAMSIZ."""
    return "p-" + hashlib.sha256(node_name.encode()).hexdigest()[:12]


def ensure_public_network(public_netns: str, subnet: ipaddress.IPv4Network, gateway: str) -> None:
    links.ensure_netns(public_netns)
    bridge_mac = "02:" + ":".join(
        hashlib.sha256(b"pubbr").hexdigest()[i : i + 2] for i in (0, 2, 4, 6, 8)
    )
    links.ensure_bridge(public_netns, PUBLIC_BRIDGE, bridge_mac, f"{gateway}/{subnet.prefixlen}")
    # The outside network routes nothing for the cloud: it only reaches public addresses.
    links.ns(public_netns, "sysctl", "-qw", "net.ipv4.ip_forward=0")
    # Its resolver is the nodes' DNS servers, on the gateway (dns_server.py): `ip netns exec`
    # mounts this file over /etc/resolv.conf for what runs in the namespace.
    links.ensure_resolver(public_netns, gateway)


def ensure_uplink(
    netns: str,
    public_netns: str,
    node_name: str,
    public_ip: str,
    subnet: ipaddress.IPv4Network,
    gateway: str,
) -> None:
    """pub0 in the node namespace, joined to the public bridge, with the node's address."""
    peer = peer_name(node_name)
    names = {str(link["ifname"]) for link in links.links(netns)}
    outside = {str(link["ifname"]) for link in links.links(public_netns)}
    if PUBLIC_DEVICE in names and peer not in outside:
        # Its other end is elsewhere (a public namespace deleted, or an older mallee's).
        links.ns(netns, "ip", "link", "del", PUBLIC_DEVICE)
        names.discard(PUBLIC_DEVICE)
    if PUBLIC_DEVICE not in names:
        # A peer left from an earlier namespace of this node would block the new pair.
        links.ns(public_netns, "ip", "link", "del", peer, check=False)
        run(
            [
                "ip", "link", "add", PUBLIC_DEVICE, "netns", netns, "type", "veth",
                "peer", "name", peer, "netns", public_netns,
            ]
        )  # fmt: skip
    links.ns(public_netns, "ip", "link", "set", peer, "master", PUBLIC_BRIDGE, "up")
    links.ns(netns, "ip", "link", "set", PUBLIC_DEVICE, "up")
    mine = f"{public_ip}/{subnet.prefixlen}"
    have = _addresses(netns)
    for stale in [a for a in have if not a.endswith("/32") and a != mine]:
        links.ns(netns, "ip", "addr", "del", stale, "dev", PUBLIC_DEVICE)
    if mine not in have:
        links.ns(netns, "ip", "addr", "add", mine, "dev", PUBLIC_DEVICE)
    links.ns(netns, "ip", "route", "replace", "default", "via", gateway, "dev", PUBLIC_DEVICE)


def _addresses(netns: str) -> list[str]:
    shown = json.loads(links.ns(netns, "ip", "-j", "-4", "addr", "show", "dev", PUBLIC_DEVICE))
    return [
        f"{a['local']}/{a['prefixlen']}"
        for entry in shown
        for a in entry.get("addr_info", [])
        if a.get("family") == "inet"
    ]


def set_hosted_addresses(netns: str, public_ips: set[str]) -> list[str]:
    """Make the /32s on pub0 exactly `public_ips`; announce the new ones. Returns those added."""
    have = {a.removesuffix("/32") for a in _addresses(netns) if a.endswith("/32")}
    for stale in sorted(have - public_ips):
        links.ns(netns, "ip", "addr", "del", f"{stale}/32", "dev", PUBLIC_DEVICE, check=False)
    added = sorted(public_ips - have)
    for ip in added:
        links.ns(netns, "ip", "addr", "add", f"{ip}/32", "dev", PUBLIC_DEVICE)
        # The outside may still map this address to the node that hosted it before.
        announce(netns, ip)
    return added


def announce(netns: str, ip: str) -> None:
    """A gratuitous ARP for `ip` on pub0, sent in the background: arping waits a second
    after its one packet, which the caller (a reconciler applying a change) must not."""
    argv = in_netns(netns, ["arping", "-q", "-U", "-c", "1", "-I", PUBLIC_DEVICE, "-s", ip, ip])
    threading.Thread(target=run, args=(argv,), kwargs={"check": False}, daemon=True).start()


def set_routes(netns: str, routes: dict[str, str]) -> None:
    """Other nodes' private subnets via their public addresses; stale ones removed."""
    shown = json.loads(links.ns(netns, "ip", "-j", "-4", "route", "show", "dev", PUBLIC_DEVICE))
    have = {
        str(r["dst"]): str(r.get("gateway", ""))
        for r in shown
        if r.get("dst") not in (None, "default") and r.get("gateway")
    }
    for dst in sorted(set(have) - set(routes)):
        links.ns(netns, "ip", "route", "del", dst, "dev", PUBLIC_DEVICE, check=False)
    for dst, via in sorted(routes.items()):
        if have.get(dst) != via:
            links.ns(netns, "ip", "route", "replace", dst, "via", via, "dev", PUBLIC_DEVICE)
