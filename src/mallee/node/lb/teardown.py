"""Ending every load balancer worker of a cloud on this host: its HAProxy, namespace and
sockets. For a cloud that is going away (a test's or a benchmark's): a node agent that stops
leaves its workers serving, as it leaves its VMs, for the next agent to adopt."""

from __future__ import annotations

from mallee.node.lb.haproxy import PROGRAM
from mallee.node.lb.netns import delete
from mallee.node.lb.workers import SOCKET_DIR
from mallee.node.network import links, procs
from mallee.node.network.names import check_cloud_id


def remove_cloud_workers(cloud_id: str) -> list[str]:
    """The namespaces removed."""
    prefix = f"mallee-{check_cloud_id(cloud_id)}-lb-"
    gone = []
    for netns in links.namespaces(prefix):
        procs.stop(procs.strays(PROGRAM, netns))
        delete(netns)
        for suffix in (".stats", ".master"):
            (SOCKET_DIR / f"{netns}{suffix}").unlink(missing_ok=True)
        gone.append(netns)
    return gone
