"""What each usable node of a zone has left: the numbers placement and capacity reports share."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from mallee.services.empyrean.registry import derive_state
from mallee.store.tables.compute import NodeRow
from mallee.store.tables.ec2 import Ec2Instance
from mallee.store.tables.registry import ServiceRow

# Instances in these states hold their node's cores, memory and disk.
HOLDING = ("pending", "running", "stopping", "shutting-down")


@dataclass(slots=True)
class NodeUsage:
    node: NodeRow
    # What the node's instances use now.
    cores: int = 0
    memory_mb: int = 0
    disk_gb: int = 0

    def room_for(self, cores: int, memory_mb: int, disk_gb: int) -> int:
        """How many more instances of this size fit."""
        counts = [
            (self.node.cores - self.cores) // cores if cores else None,
            (self.node.memory_mb - self.memory_mb) // memory_mb if memory_mb else None,
            (self.node.disk_gb - self.disk_gb) // disk_gb if disk_gb else None,
        ]
        bounded = [c for c in counts if c is not None]
        return max(0, min(bounded)) if bounded else 0

    def take(self, cores: int, memory_mb: int, disk_gb: int) -> None:
        self.cores += cores
        self.memory_mb += memory_mb
        self.disk_gb += disk_gb


def fits(usage: NodeUsage, cores: int, memory_mb: int, disk_gb: int) -> bool:
    return usage.room_for(cores, memory_mb, disk_gb) >= 1


def usable_nodes(s: Session, zone: str, *, now: float, heartbeat_timeout: float) -> list[NodeUsage]:
    """Nodes of the zone that may take new instances (ENABLED and beating), by name."""
    rows = s.execute(
        select(NodeRow, ServiceRow)
        .join(ServiceRow, ServiceRow.name == NodeRow.name)
        .where(NodeRow.zone == zone, ServiceRow.type == "node")
        .order_by(NodeRow.name)
    ).all()
    usable = [
        node for node, svc in rows if derive_state(svc, now, heartbeat_timeout)[0] == "ENABLED"
    ]
    return with_usage(s, usable)


def with_usage(s: Session, nodes: Sequence[NodeRow]) -> list[NodeUsage]:
    if not nodes:
        return []
    used = {
        name: (int(c or 0), int(m or 0), int(d or 0))
        for name, c, m, d in s.execute(
            select(
                Ec2Instance.node,
                func.sum(Ec2Instance.cores),
                func.sum(Ec2Instance.memory_mb),
                func.sum(Ec2Instance.disk_gb),
            )
            .where(Ec2Instance.node.in_([n.name for n in nodes]))
            .where(Ec2Instance.state.in_(HOLDING))
            .group_by(Ec2Instance.node)
        ).all()
    }
    return [NodeUsage(n, *used.get(n.name, (0, 0, 0))) for n in nodes]
