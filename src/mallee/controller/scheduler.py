"""Placing pending instances on nodes (Eucalyptus CC: ROUNDROBIN or GREEDY).

A placement is one conditional update of the instance row (node, mac, private ip), made only
while the row is still pending and unplaced, so a controller that dies mid-way and a standby
that takes over never place the same instance twice.
"""

from __future__ import annotations

import ipaddress
import logging
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from mallee.controller.placement import NodeInfo, NodeUsage, fits, usable_nodes
from mallee.node.network import mac_for
from mallee.services.ec2 import address_pool
from mallee.store import Store
from mallee.store.prepared import Prepared
from mallee.store.tables.ec2 import Ec2Instance
from mallee.store.tables.network import bump_network

log = logging.getLogger(__name__)

NO_CAPACITY = "Server.InsufficientInstanceCapacity"


@dataclass(slots=True)
class RoundRobin:
    """Remembers where the last instance went; the next goes to the following node."""

    last: str = ""

    def order(self, nodes: Sequence[NodeUsage]) -> list[NodeUsage]:
        names = [n.node.name for n in nodes]
        start = names.index(self.last) + 1 if self.last in names else 0
        return [*nodes[start:], *nodes[:start]]


@dataclass(slots=True)
class Scheduler:
    policy: str = "ROUNDROBIN"
    rr: RoundRobin = field(default_factory=RoundRobin)

    def pick(self, nodes: Sequence[NodeUsage], row: Ec2Instance) -> NodeUsage | None:
        ordered = self.rr.order(nodes) if self.policy == "ROUNDROBIN" else list(nodes)
        for candidate in ordered:
            if fits(candidate, row.cores, row.memory_mb, row.disk_gb):
                self.rr.last = candidate.node.name
                return candidate
        return None

    def place_pending(self, store: Store, *, zone: str, heartbeat_timeout: float) -> int:
        """Place every unplaced pending instance of the zone; returns how many were placed."""
        with store.session() as s:
            pending = s.scalars(
                select(Ec2Instance)
                .where(
                    Ec2Instance.state == "pending",
                    Ec2Instance.node.is_(None),
                    Ec2Instance.availability_zone == zone,
                )
                .order_by(Ec2Instance.launch_time, Ec2Instance.reservation_id, Ec2Instance.id)
            ).all()
            if not pending:
                return 0
            nodes = usable_nodes(s, zone, now=time.time(), heartbeat_timeout=heartbeat_timeout)
            public = _public_pool(store)
            # Read once per pass, then kept up to date: a pass places many instances.
            private = _PrivateAddresses(s)
            held = address_pool.taken(s) if public else set()
            placed = 0
            for row in pending:
                target = self.pick(nodes, row)
                address = private.next_free(target.node) if target else None
                if target is None or address is None:
                    _no_capacity(row)
                    continue
                _assign(row, target, address)
                s.flush()
                # An instance rescheduled after its node went silent keeps its public IP.
                if public and not row.public_ip:
                    address_pool.give_dynamic(s, row, public, held)
                log.info(
                    "placed %s on %s at %s (public %s)",
                    row.id, row.node, row.private_ip, row.public_ip,
                )  # fmt: skip
                placed += 1
            if placed:
                # Node agents rebuild DHCP and NAT from the rows when the generation moves.
                bump_network(s)
            return placed


# Asked many times a second between ticks: one indexed row, no write.
_UNPLACED = Prepared(
    select(Ec2Instance.id)
    .where(
        Ec2Instance.node.is_(None),
        Ec2Instance.state == "pending",
        Ec2Instance.availability_zone == bindparam("zone"),
    )
    .limit(1)
)


def has_unplaced(store: Store, zone: str) -> bool:
    """Whether a pending instance of the zone waits for a node."""
    return _UNPLACED.first(store.read_engine, zone=zone) is not None


def _public_pool(store: Store) -> tuple[str, ...]:
    """The pool instances take public IPs from; empty when auto-assignment is off."""
    if not address_pool.dynamic_enabled(store):
        return ()
    return address_pool.pool(store)


def _assign(row: Ec2Instance, target: NodeUsage, address: str) -> None:
    row.node = target.node.name
    row.mac = mac_for(row.id)
    row.private_ip = address
    target.take(row.cores, row.memory_mb, row.disk_gb)


def _no_capacity(row: Ec2Instance) -> None:
    # RunInstances checked capacity, but nodes can leave between the check and placement.
    row.state = "terminated"
    row.state_changed_at = row.terminated_at = time.time()
    row.state_reason_code = NO_CAPACITY
    row.state_reason_message = (
        f"{NO_CAPACITY}: no node in {row.availability_zone} can hold a {row.instance_type}"
    )
    log.warning("no node can hold %s (%s)", row.id, row.instance_type)


class _PrivateAddresses:
    """Hands out each node's free subnet addresses, lowest first (the first is the gateway's).

    What the node's instances hold is read once per pass; within a pass addresses are only
    taken, so each node's scan resumes where it stopped.
    """

    def __init__(self, s: Session) -> None:
        self._s = s
        self._free: dict[str, Iterator[str]] = {}

    def _scan(self, node: NodeInfo) -> Iterator[str]:
        held = self._s.scalars(
            select(Ec2Instance.private_ip).where(
                Ec2Instance.node == node.name,
                Ec2Instance.state != "terminated",
                Ec2Instance.private_ip.is_not(None),
            )
        ).all()
        taken = {ip for ip in held if ip}
        hosts = ipaddress.ip_network(node.subnet, strict=False).hosts()
        next(hosts)
        return (text for text in map(str, hosts) if text not in taken)

    def next_free(self, node: NodeInfo) -> str | None:
        scan = self._free.get(node.name)
        if scan is None:
            scan = self._free[node.name] = self._scan(node)
        return next(scan, None)
