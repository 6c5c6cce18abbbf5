"""Names and addresses derived from ids, so every process computes the same ones.

Every value here ends up in an argv item, a dnsmasq hosts file or an interface name, so each
is checked against a strict pattern before use: nothing a caller controls can smuggle a comma,
newline or option into those.
"""

from __future__ import annotations

import hashlib
import ipaddress
import re

# Linux interface names: at most 15 bytes (IFNAMSIZ - 1).
IFNAME_MAX = 15
NETNS_MAX = 60
_CLOUD_ID = re.compile(r"[0-9a-f]{8}")
_INSTANCE_ID = re.compile(r"i-[0-9A-Za-z]{1,32}")
_MAC = re.compile(r"[0-9a-f]{2}(?::[0-9a-f]{2}){5}")
_ELB_WORKER_ID = re.compile(r"elbw-([0-9a-f]{1,27})")


def bridge_mac(node_name: str) -> str:
    """A fixed, locally administered MAC for the node's bridge.

    A bridge otherwise takes the lowest MAC of its ports, so adding a tap could change the
    gateway's address under the guests' ARP caches.
    """
    digest = hashlib.sha256(f"bridge:{node_name}".encode()).digest()
    return "02:" + ":".join(f"{b:02x}" for b in digest[:5])


def tap_for(instance_id: str) -> str:
    """The tap name: "tap" and 12 characters of the id, unique in practice, within IFNAMSIZ."""
    check_instance_id(instance_id)
    return "tap" + instance_id.removeprefix("i-")[:12]


def cloud_id_of(seed: str) -> str:
    """The cloud's short id (8 hex digits) from a value made once per cloud (`identity`)."""
    return hashlib.sha256(f"cloud:{seed}".encode()).hexdigest()[:8]


def check_cloud_id(cloud_id: str) -> str:
    if not _CLOUD_ID.fullmatch(cloud_id):
        raise ValueError(f"not a cloud id: {cloud_id!r}")
    return cloud_id


def netns_for(cloud_id: str, node_name: str) -> str:
    """The node's namespace: named by the cloud and the node, so neither two clouds on one
    host nor two nodes of a cloud ever share one. At most 60 characters (NodeRow.netns)."""
    name = f"mallee-{check_cloud_id(cloud_id)}-{_safe(node_name)}"
    if len(name) <= NETNS_MAX:
        return name
    digest = hashlib.sha256(node_name.encode()).hexdigest()[:8]
    return f"{name[: NETNS_MAX - 9]}-{digest}"


def legacy_netns_for(node_name: str) -> str:
    """The name an older mallee gave the node's namespace (one per host, not per cloud)."""
    return f"mallee-{_safe(node_name)}"[:NETNS_MAX]


def public_netns_for(cloud_id: str) -> str:
    """The cloud's stand-in for the outside network on this host (nodes of other clouds here
    have their own): "mallee-pub-" and the cloud id, which no node namespace name can be."""
    return f"mallee-pub-{check_cloud_id(cloud_id)}"


def lb_netns_for(cloud_id: str, worker_id: str) -> str:
    """A load balancer worker's namespace: "mallee-<cloud>-lb-<hex of the worker id>"."""
    found = _ELB_WORKER_ID.fullmatch(worker_id)
    if not found:
        raise ValueError(f"not a load balancer worker id: {worker_id!r}")
    return f"mallee-{check_cloud_id(cloud_id)}-lb-{found.group(1)}"


def host_bridge_for(cloud_id: str) -> str:
    """The bridge of a node whose data plane is in the host's namespace: an interface name,
    so within IFNAMSIZ, and the cloud's own."""
    return f"mlb{check_cloud_id(cloud_id)}"


def _safe(node_name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]", "-", node_name)


def check_instance_id(instance_id: str) -> str:
    if not _INSTANCE_ID.fullmatch(instance_id):
        raise ValueError(f"not an instance id: {instance_id!r}")
    return instance_id


def check_mac(mac: str) -> str:
    if not _MAC.fullmatch(mac):
        raise ValueError(f"not a lower-case MAC address: {mac!r}")
    return mac


def check_host_ip(ip: str, network: ipaddress.IPv4Network, gateway: str) -> str:
    """`ip` must be a usable host address of the node's subnet other than the gateway."""
    try:
        addr = ipaddress.IPv4Address(ip)
    except ValueError as err:
        raise ValueError(f"not an IPv4 address: {ip!r}") from err
    if addr not in network or addr in (network.network_address, network.broadcast_address):
        raise ValueError(f"{ip} is not a host address of {network}")
    if str(addr) == gateway:
        raise ValueError(f"{ip} is the gateway of {network}")
    return str(addr)
