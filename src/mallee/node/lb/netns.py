"""A worker's namespace: its own leg on the public bridge, and routes to every node's subnet.

The worker is an endpoint, like a client outside the cloud: its public address on `pub0`,
the public gateway as default route, and each node's private subnet via that node's public
address (the flat L3 routes the nodes use among themselves), so HAProxy reaches instances
directly and the nodes' EDGE rules judge its packets by their source, the worker's address.
"""

from __future__ import annotations

import ipaddress

from mallee.node.network import links, public


def veth_owner(worker_id: str) -> str:
    """What names the public namespace's end of the worker's veth (public.peer_name): never
    a node's name, so never a node's peer."""
    return f"elb:{worker_id}"


def ensure(
    netns: str,
    public_netns: str,
    worker_id: str,
    public_ip: str,
    subnet: ipaddress.IPv4Network,
    gateway: str,
    routes: dict[str, str],
) -> None:
    new = not links.exists(netns)
    links.ensure_netns(netns)
    # Not a router: nothing from the public side may cross it to the nodes' subnets.
    links.ns(netns, "sysctl", "-qw", "net.ipv4.ip_forward=0")
    public.ensure_public_network(public_netns, subnet, gateway)
    public.ensure_uplink(netns, public_netns, veth_owner(worker_id), public_ip, subnet, gateway)
    public.set_routes(netns, routes)
    if new:
        # The public side may still map the address to the worker that had it before.
        public.announce(netns, public_ip)


def delete(netns: str) -> None:
    """The namespace, and with it the veth pair (its public end goes with it)."""
    links.delete_netns(netns)
