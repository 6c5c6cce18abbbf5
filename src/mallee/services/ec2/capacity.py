"""Per-type capacity of a zone, as Eucalyptus shows it: free / max instances of each type.

The node arithmetic is the scheduler's own (mallee.placement.usage), applied to each instance
type.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from mallee.placement.usage import NodeUsage, usable_nodes
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
