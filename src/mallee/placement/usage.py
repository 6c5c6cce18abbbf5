"""What each usable node of a zone has left: the numbers placement and capacity reports share.

- `usable_nodes(s, zone, now=, heartbeat_timeout=)`: the zone's nodes whose `services` row
  (type node, same name) is ENABLED and heartbeating, each as a NodeUsage carrying the cores,
  memory and disk its pending/running/stopping/shutting-down instances hold;
- `NodeUsage.room_for(cores, memory_mb, disk_gb)`: how many more of that size fit on the node;
- `fits(usage, cores, memory_mb, disk_gb)`: room for at least one; `NodeUsage.take(...)` books one;
- `free_slots(s, zone, size, ...)`: how many of one size the whole zone can take now.
Counts are per node and summed: an instance never spans nodes (Eucalyptus semantics).
"""

from __future__ import annotations

import functools
import ipaddress
from dataclasses import dataclass

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from mallee.registry.components import derive_state
from mallee.store.prepared import Prepared
from mallee.store.tables.compute import NodeRow, NodeUsageRow
from mallee.store.tables.registry import ServiceRow

NO_LIMIT = 2**31


@dataclass(frozen=True, slots=True)
class NodeInfo:
    """A node as placement sees it: its name, subnet and size."""

    name: str
    subnet: str
    cores: int
    memory_mb: int
    disk_gb: int

    @property
    def addresses(self) -> int:
        """How many instances the node's subnet can address (the gateway takes one)."""
        return subnet_hosts(self.subnet) - 1


@functools.lru_cache(maxsize=64)
def subnet_hosts(subnet: str) -> int:
    try:
        network = ipaddress.ip_network(subnet, strict=False)
    except ValueError:
        return NO_LIMIT  # a node that reported no subnet: placement itself will say so
    size = network.num_addresses
    # What ip_network(...).hosts() yields, without walking it: IPv4 leaves out the network and
    # broadcast addresses (but not in a /31 or /32), IPv6 the subnet-router anycast address.
    small_v4 = network.version == 4 and network.prefixlen >= 31
    excluded = 0 if small_v4 else (2 if network.version == 4 else 1)
    return min(size - excluded, NO_LIMIT)


@dataclass(slots=True)
class NodeUsage:
    node: NodeInfo
    # What the node's instances use now.
    cores: int = 0
    memory_mb: int = 0
    disk_gb: int = 0
    instances: int = 0

    def room_for(self, cores: int, memory_mb: int, disk_gb: int) -> int:
        """How many more instances of this size fit (each also needs a subnet address)."""
        counts = [
            (self.node.cores - self.cores) // cores if cores else None,
            (self.node.memory_mb - self.memory_mb) // memory_mb if memory_mb else None,
            (self.node.disk_gb - self.disk_gb) // disk_gb if disk_gb else None,
        ]
        bounded = [c for c in counts if c is not None]
        if not bounded:
            return 0
        return max(0, min(*bounded, self.node.addresses - self.instances))

    def take(self, cores: int, memory_mb: int, disk_gb: int) -> None:
        self.cores += cores
        self.memory_mb += memory_mb
        self.disk_gb += disk_gb
        self.instances += 1


def fits(usage: NodeUsage, cores: int, memory_mb: int, disk_gb: int) -> bool:
    return usage.room_for(cores, memory_mb, disk_gb) >= 1


# One statement, prepared once: every RunInstances reads it (capacity) and so does each
# placement pass.
_NODES = Prepared(
    select(
        NodeRow.name,
        NodeRow.subnet,
        NodeRow.cores,
        NodeRow.memory_mb,
        NodeRow.disk_gb,
        ServiceRow.admin_state,
        ServiceRow.claimed_at,
        ServiceRow.last_heartbeat,
        ServiceRow.fault,
        NodeUsageRow.cores.label("used_cores"),
        NodeUsageRow.memory_mb.label("used_memory_mb"),
        NodeUsageRow.disk_gb.label("used_disk_gb"),
        NodeUsageRow.instances.label("instances"),
    )
    .join(ServiceRow, ServiceRow.name == NodeRow.name)
    .outerjoin(NodeUsageRow, NodeUsageRow.node == NodeRow.name)
    .where(NodeRow.zone == bindparam("zone"), ServiceRow.type == "node")
    .order_by(NodeRow.name)
)


def usable_nodes(s: Session, zone: str, *, now: float, heartbeat_timeout: float) -> list[NodeUsage]:
    """Nodes of the zone that may take new instances (ENABLED and beating), by name, each with
    the cores, memory and disk its instances hold."""
    rows = _NODES.all(s.connection(), zone=zone)
    return [
        NodeUsage(
            NodeInfo(r.name, r.subnet, r.cores, r.memory_mb, r.disk_gb),
            int(r.used_cores or 0),
            int(r.used_memory_mb or 0),
            int(r.used_disk_gb or 0),
            int(r.instances or 0),
        )
        for r in rows
        if derive_state(r, now, heartbeat_timeout)[0] == "ENABLED"
    ]


def free_slots(
    s: Session, zone: str, size: tuple[int, int, int], *, now: float, heartbeat_timeout: float
) -> int:
    """How many instances of this (cores, memory MiB, disk GB) size the zone can take now."""
    nodes = usable_nodes(s, zone, now=now, heartbeat_timeout=heartbeat_timeout)
    return sum(n.room_for(*size) for n in nodes)
