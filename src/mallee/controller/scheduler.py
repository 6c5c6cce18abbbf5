"""Placing pending instances on nodes (Eucalyptus CC: ROUNDROBIN or GREEDY).

A placement is one conditional update of the instance row (node, mac, private ip), made only
while the row is still pending and unplaced, so a controller that dies mid-way and a standby
that takes over never place the same instance twice. An instance of a user VPC came with its
subnet's address and MAC from RunInstances: it keeps them wherever it goes.
"""

from __future__ import annotations

import ipaddress
import logging
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from sqlalchemy import and_, bindparam, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from mallee.placement import address_pool
from mallee.placement.macs import mac_for
from mallee.placement.usage import NodeInfo, NodeUsage, fits, usable_nodes
from mallee.store import Store
from mallee.store.prepared import InsertMany, Prepared
from mallee.store.tables.ec2 import Ec2Instance
from mallee.store.tables.interfaces import Ec2NetworkInterface, held_addresses
from mallee.store.tables.network import Ec2Address, bump_network

log = logging.getLogger(__name__)

NO_CAPACITY = "Server.InsufficientInstanceCapacity"


class InstanceSize(Protocol):
    """What placement needs to know of an instance."""

    cores: int
    memory_mb: int
    disk_gb: int


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

    def pick(self, nodes: Sequence[NodeUsage], row: InstanceSize) -> NodeUsage | None:
        ordered = self.rr.order(nodes) if self.policy == "ROUNDROBIN" else list(nodes)
        for candidate in ordered:
            if fits(candidate, row.cores, row.memory_mb, row.disk_gb):
                self.rr.last = candidate.node.name
                return candidate
        return None

    def place_pending(self, store: Store, *, zone: str, heartbeat_timeout: float) -> int:
        """Place every unplaced pending instance of the zone; returns how many were placed."""
        with store.session() as s:
            conn = s.connection()
            pending = _PENDING.all(conn, zone=zone)
            if not pending:
                return 0
            nodes = usable_nodes(s, zone, now=time.time(), heartbeat_timeout=heartbeat_timeout)
            # Read once per pass, then kept up to date: a pass places many instances.
            private = _PrivateAddresses(s)
            public = _PublicAddresses(s, _public_pool(store))
            placed = 0
            for row in pending:
                target = self.pick(nodes, row)
                address = row.private_ip
                if target is not None and address is None:
                    address = private.next_free(target.node)
                if target is None or address is None:
                    _no_capacity(conn, row)
                    continue
                mac = row.mac or mac_for(row.id)
                # An instance rescheduled after its node went silent keeps its public IP.
                public_ip = row.public_ip or (
                    public.next_free() if row.public_ip_on_launch else None
                )
                moved = _PLACE.run(
                    conn,
                    id=row.id,
                    node=target.node.name,
                    mac=mac,
                    private_ip=address,
                    public_ip=public_ip,
                )
                if not moved:  # changed since the read (another controller, a termination)
                    continue
                # Its primary interface shows the same addresses, written in this transaction.
                _PLACE_INTERFACE.run(conn, id=row.id, mac=mac, private_ip=address)
                target.take(row.cores, row.memory_mb, row.disk_gb)
                if public_ip and not row.public_ip:
                    public.give(row, public_ip)
                log.info(
                    "placed %s on %s at %s (public %s)",
                    row.id,
                    target.node.name,
                    address,
                    public_ip,
                )
                placed += 1
            public.commit(conn)
            if placed:
                # Node agents rebuild DHCP and NAT from the rows when the generation moves.
                bump_network(s)
            return placed


# The instances waiting for a node: pending and unplaced.
_UNPLACED_IN_ZONE = (
    Ec2Instance.state == "pending",
    Ec2Instance.node.is_(None),
    Ec2Instance.availability_zone == bindparam("zone"),
)
# The columns placement reads, oldest launch first; and the placement itself, made only while
# the row is still pending and unplaced.
_PENDING = Prepared(
    select(
        Ec2Instance.id,
        Ec2Instance.account_id,
        Ec2Instance.cores,
        Ec2Instance.memory_mb,
        Ec2Instance.disk_gb,
        Ec2Instance.instance_type,
        Ec2Instance.availability_zone,
        Ec2Instance.public_ip,
        Ec2Instance.public_ip_on_launch,
        Ec2Instance.private_ip,
        Ec2Instance.mac,
    )
    .where(*_UNPLACED_IN_ZONE)
    .order_by(Ec2Instance.launch_time, Ec2Instance.reservation_id, Ec2Instance.id)
)
_UNPLACED_ROW = and_(
    Ec2Instance.id == bindparam("id"), Ec2Instance.state == "pending", Ec2Instance.node.is_(None)
)
_PLACE = Prepared(
    update(Ec2Instance)
    .where(_UNPLACED_ROW)
    .values(
        node=bindparam("node"),
        mac=bindparam("mac"),
        private_ip=bindparam("private_ip"),
        public_ip=bindparam("public_ip"),
    )
)
_PLACE_INTERFACE = Prepared(
    update(Ec2NetworkInterface)
    .where(
        Ec2NetworkInterface.instance_id == bindparam("id"), Ec2NetworkInterface.device_index == 0
    )
    .values(mac=bindparam("mac"), private_ip=bindparam("private_ip"))
)
_TERMINATE = Prepared(
    update(Ec2Instance)
    .where(_UNPLACED_ROW)
    .values(
        state="terminated",
        state_changed_at=bindparam("now"),
        terminated_at=bindparam("now"),
        state_reason_code=NO_CAPACITY,
        state_reason_message=bindparam("message"),
    )
)
_INSERT_ADDRESSES = InsertMany(Ec2Address.__table__)


# Asked many times a second between ticks: one indexed row, no write.
_UNPLACED = Prepared(select(Ec2Instance.id).where(*_UNPLACED_IN_ZONE).limit(1))


def has_unplaced(store: Store, zone: str) -> bool:
    """Whether a pending instance of the zone waits for a node."""
    return _UNPLACED.first(store.read_engine, zone=zone) is not None


def _public_pool(store: Store) -> tuple[str, ...]:
    """The pool instances take public IPs from; empty when auto-assignment is off."""
    if not address_pool.dynamic_enabled(store):
        return ()
    return address_pool.pool(store)


def _no_capacity(conn: Connection, row: Any) -> None:
    # RunInstances checked capacity, but nodes can leave between the check and placement.
    message = f"{NO_CAPACITY}: no node in {row.availability_zone} can hold a {row.instance_type}"
    _TERMINATE.run(conn, id=row.id, now=time.time(), message=message)
    log.warning("no node can hold %s (%s)", row.id, row.instance_type)


class _PublicAddresses:
    """Hands out the pool's free public IPs to a pass's instances, lowest first, and records
    them with one insert. The address row's primary key is the address: on SQLite the pass
    holds the write lock; elsewhere a concurrent AllocateAddress that took one of them makes
    the insert fail, the pass rolls back, and the next tick places again with a fresh read."""

    def __init__(self, s: Session, pool: Sequence[str]) -> None:
        # An empty pool: instances get no public IPs (auto-assignment is off, or no plan).
        self._enabled = bool(pool)
        taken = address_pool.taken(s) if pool else set()
        self._free = iter([ip for ip in pool if ip not in taken])
        self._rows: list[dict[str, Any]] = []
        self._wanted = 0

    def next_free(self) -> str | None:
        ip = next(self._free, None)
        if ip is None and self._enabled:
            self._wanted += 1
        return ip

    def give(self, row: Any, ip: str) -> None:
        self._rows.append(
            address_pool.address_values(
                ip, account_id=row.account_id, elastic=False, instance_id=row.id
            )
        )

    def commit(self, conn: Connection) -> None:
        _INSERT_ADDRESSES.run(conn, self._rows)
        if self._wanted:
            # Once per pass, not per instance: a burst into an empty pool is one line.
            log.warning(
                "public address pool is empty: %d instance(s) got no public IP", self._wanted
            )


class _PrivateAddresses:
    """Hands out each node's free subnet addresses, lowest first (the first is the gateway's).

    What the node's instances hold is read once per pass; within a pass addresses are only
    taken, so each node's scan resumes where it stopped.
    """

    def __init__(self, s: Session) -> None:
        self._s = s
        self._free: dict[str, Iterator[str]] = {}
        # Addresses of the default VPC's other interfaces and NAT gateways: not an instance's.
        self._held = held_addresses(s)

    def _scan(self, node: NodeInfo) -> Iterator[str]:
        held = self._s.scalars(
            select(Ec2Instance.private_ip).where(
                Ec2Instance.node == node.name,
                Ec2Instance.state != "terminated",
                Ec2Instance.private_ip.is_not(None),
            )
        ).all()
        taken = {ip for ip in held if ip} | self._held
        hosts = ipaddress.ip_network(node.subnet, strict=False).hosts()
        next(hosts)
        return (text for text in map(str, hosts) if text not in taken)

    def next_free(self, node: NodeInfo) -> str | None:
        scan = self._free.get(node.name)
        if scan is None:
            scan = self._free[node.name] = self._scan(node)
        return next(scan, None)
