"""Which nodes may run load balancer workers, and how long a silent one has been silent.

A live node is the scheduler's: registered as a node service, ENABLED and heartbeating
(placement.usage.usable_nodes). A silent one is NOTREADY (missed its heartbeats), or no longer
registered at all.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field

from mallee.placement.usage import usable_nodes
from mallee.registry import components
from mallee.store import Store


@dataclass(slots=True)
class NodeView:
    now: float
    heartbeat_timeout: float
    # Node name -> its last heartbeat (None: never beat), for every registered node.
    beats: dict[str, float | None]
    silent: set[str]
    _usable: dict[str, list[str]] = field(default_factory=dict)

    @classmethod
    def read(cls, store: Store, *, now: float, heartbeat_timeout: float) -> NodeView:
        records = [
            r
            for r in components.list_services(store, now=now, timeout=heartbeat_timeout)
            if r.type == "node"
        ]
        return cls(
            now=now,
            heartbeat_timeout=heartbeat_timeout,
            beats={r.name: r.last_heartbeat for r in records},
            silent={r.name for r in records if r.state == "NOTREADY"},
        )

    def is_silent(self, node: str) -> bool:
        return node in self.silent or node not in self.beats

    def silent_for(self, node: str) -> float:
        """Seconds since the node's last heartbeat if it is silent; 0 if it is not."""
        if not self.is_silent(node):
            return 0.0
        beat = self.beats.get(node)
        return math.inf if beat is None else max(0.0, self.now - beat)

    def usable(self, store: Store, zone: str) -> list[str]:
        if zone not in self._usable:
            with store.read() as s:
                nodes = usable_nodes(
                    s, zone, now=self.now, heartbeat_timeout=self.heartbeat_timeout
                )
            self._usable[zone] = [n.node.name for n in nodes]
        return self._usable[zone]

    def least_loaded(
        self, store: Store, zone: str, load: Counter[str], exclude: str | None = None
    ) -> str | None:
        """The zone's live node running the fewest workers (by name on a tie)."""
        candidates = [n for n in self.usable(store, zone) if n != exclude]
        if not candidates:
            return None
        return min(candidates, key=lambda n: (load[n], n))
