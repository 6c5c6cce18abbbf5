"""Per-type capacity of a zone, as Eucalyptus shows it: free / max instances of each type.

The node arithmetic is shared with the scheduler (mallee.controller.placement):
- `usable_nodes(s, zone, now=, heartbeat_timeout=)`: the zone's nodes whose `services` row
  (type node, same name) is ENABLED and heartbeating, each as a NodeUsage carrying the cores,
  memory and disk its pending/running/stopping/shutting-down instances hold;
- `NodeUsage.room_for(cores, memory_mb, disk_gb)`: how many more of that size fit on the node;
- `fits(usage, cores, memory_mb, disk_gb)`: room for at least one; `NodeUsage.take(...)` books one.
Counts are per node and summed: an instance never spans nodes (Eucalyptus semantics).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from mallee.controller.placement import NodeUsage, usable_nodes
from mallee.services.ec2.instance_types import all_types


@dataclass(frozen=True, slots=True)
class TypeCapacity:
    name: str
    cores: int
    memory_mb: int
    disk_gb: int
    # How many fit now, and how many would fit on the same nodes if they were empty.
    free: int
    max: int


def zone_capacity(
    s: Session, zone: str, *, now: float, heartbeat_timeout: float
) -> list[TypeCapacity]:
    nodes = usable_nodes(s, zone, now=now, heartbeat_timeout=heartbeat_timeout)
    empty = [NodeUsage(n.node) for n in nodes]
    return [
        TypeCapacity(
            t.name,
            t.cores,
            t.memory_mb,
            t.disk_gb,
            free=sum(n.room_for(t.cores, t.memory_mb, t.disk_gb) for n in nodes),
            max=sum(n.room_for(t.cores, t.memory_mb, t.disk_gb) for n in empty),
        )
        for t in all_types(s)
    ]


def free_slots(
    s: Session, zone: str, size: tuple[int, int, int], *, now: float, heartbeat_timeout: float
) -> int:
    """How many instances of this (cores, memory MiB, disk GB) size the zone can take now."""
    nodes = usable_nodes(s, zone, now=now, heartbeat_timeout=heartbeat_timeout)
    return sum(n.room_for(*size) for n in nodes)
