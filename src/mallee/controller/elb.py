"""The ELB manager: one worker (a node's HAProxy) per load balancer per zone, from the rows.

Each tick compares the load balancers' zones with the worker rows and moves every row one step,
each step a transaction of its own that changes a row only from the state it was read in (a
conditional UPDATE or DELETE), or an insert the unique (lb_id, zone) key makes race-safe. A
controller killed between steps, or a standby taking over, repeats nothing: the next tick reads
where the rows are and goes on from there. Every change to what a node runs bumps the ELB
generation in the same transaction.

A worker's life: pending (made here) -> placed (node and public address given together) ->
running (the node reports HAProxy up) -> deleting (its load balancer or zone went) -> stopped
(the node stopped it) -> gone (its address back to the pool). A node that goes silent has its
live workers moved to another node of the zone, keeping their address; if it comes back it
finds no row placing a worker on it and stops that HAProxy (the node agent's adoption).
"""

from __future__ import annotations

import json
import logging
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, cast

from sqlalchemy import CursorResult, and_, delete, exists, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from mallee.cloud_identity import ensure_loadbalancing_account
from mallee.controller.elb_nodes import NodeView
from mallee.ids import new_id
from mallee.placement import address_pool
from mallee.registry import properties
from mallee.store import Store
from mallee.store.tables.elb import (
    ElbInstance,
    ElbInstanceHealth,
    ElbLoadBalancer,
    ElbWorker,
    bump_elb,
)
from mallee.store.tables.network import Ec2Address, bump_network

log = logging.getLogger(__name__)

LIVE = ("pending", "running")


class _Undo(Exception):
    """Rolls back a step's transaction whose row moved on since it was read."""


def _changed(result: Any) -> bool:
    return bool(cast(CursorResult[Any], result).rowcount)


@dataclass(frozen=True, slots=True)
class _Worker:
    id: str
    lb_id: str
    zone: str
    node: str | None
    public_ip: str | None
    state: str


@dataclass(slots=True)
class ElbManager:
    """Kept by the controller across ticks only to log a stuck worker once, and to remember
    the load balancing account's id; everything else is read from the rows each tick."""

    heartbeat_timeout: float
    _account: str | None = None
    _logged: set[tuple[str, str]] = field(default_factory=set)

    def tick(self, store: Store, now: float) -> int:
        """One pass; returns how many steps it took."""
        with store.read() as r:
            if not _anything_to_do(r):
                return 0
            desired = _desired(r)
            workers = _workers(r)
        steps = _create(store, desired - {(w.lb_id, w.zone) for w in workers})
        steps += _retire(store, [w for w in workers if (w.lb_id, w.zone) not in desired])
        view = NodeView.read(store, now=now, heartbeat_timeout=self.heartbeat_timeout)
        lost_after = properties.get_duration(store, "cloud.vmstate.instance_timeout")
        with store.read() as r:
            workers = _workers(r)
        steps += self._collect(store, workers, view, lost_after.total_seconds())
        steps += self._place(store, workers, view)
        steps += expire_draining(store, now)
        return steps

    def account(self, store: Store) -> str:
        if self._account is None:
            self._account = ensure_loadbalancing_account(store)
        return self._account

    def _collect(
        self, store: Store, workers: list[_Worker], view: NodeView, lost_after: float
    ) -> int:
        """Delete workers their node stopped, and those whose node can no longer stop them."""
        gone = 0
        for w in workers:
            if w.state == "stopped" or (
                w.state == "deleting" and (w.node is None or view.silent_for(w.node) > lost_after)
            ):
                gone += _forget(store, w, self.account(store) if w.public_ip else None)
        return gone

    def _place(self, store: Store, workers: list[_Worker], view: NodeView) -> int:
        load: Counter[str] = Counter(
            w.node for w in workers if w.node is not None and w.state != "stopped"
        )
        steps = 0
        for w in workers:
            if w.state not in LIVE or (w.node is not None and not view.is_silent(w.node)):
                continue
            target = view.least_loaded(store, w.zone, load, exclude=w.node)
            if target is None:
                self._once(w, "no live node", "worker %s of %s waits: no live node in zone %s")
                continue
            if self._give(store, w, target) if w.node is None else _move(store, w, target):
                load[target] += 1
                if w.node is not None:
                    load[w.node] -= 1
                self._logged = {k for k in self._logged if k[0] != w.id}
                steps += 1
        return steps

    def _give(self, store: Store, w: _Worker, node: str) -> bool:
        """Node and public address in one transaction: a worker never runs without both."""
        account = self.account(store)
        pool = address_pool.pool(store)
        try:
            with store.session() as s:
                ip = w.public_ip
                if ip is None:
                    address = address_pool.take(s, pool, account_id=account, elastic=False)
                    if address is None:
                        raise _Undo("no address")
                    ip = address.public_ip
                placed = s.execute(
                    update(ElbWorker)
                    .where(
                        ElbWorker.id == w.id, ElbWorker.node.is_(None), ElbWorker.state == w.state
                    )
                    .values(node=node, public_ip=ip)
                )
                if not _changed(placed):
                    raise _Undo("moved on")
                _bump(s)
        except _Undo as why:
            if str(why) == "no address":
                self._once(w, "no address", "worker %s of %s waits: the address pool is empty (%s)")
            return False
        log.info("ELB worker %s of %s placed on %s at %s", w.id, w.lb_id, node, ip)
        return True

    def _once(self, w: _Worker, reason: str, message: str) -> None:
        if (w.id, reason) not in self._logged:
            self._logged.add((w.id, reason))
            log.warning(message, w.id, w.lb_id, w.zone)


def _bump(s: Session) -> None:
    """A worker's node changed: the ELB generation for the nodes' workers, and the network
    generation for the VPC data path, which plugs a worker in a VPC's subnet on its node."""
    bump_elb(s)
    bump_network(s)


def _anything_to_do(r: Session) -> bool:
    return bool(
        r.scalar(
            select(
                exists(select(ElbLoadBalancer.id))
                | exists(select(ElbWorker.id))
                | exists(select(ElbInstance.lb_id).where(ElbInstance.drain_until.is_not(None)))
            )
        )
    )


def _desired(r: Session) -> set[tuple[str, str]]:
    """(load balancer id, zone) of every worker the load balancers need."""
    wanted: set[tuple[str, str]] = set()
    for lb_id, zones in r.execute(select(ElbLoadBalancer.id, ElbLoadBalancer.zones)):
        try:
            names = json.loads(zones or "[]")
        except ValueError:
            log.warning("load balancer %s has unreadable zones %r", lb_id, zones)
            continue
        wanted.update((lb_id, z) for z in names if isinstance(z, str) and z)
    return wanted


def _workers(r: Session) -> list[_Worker]:
    rows = r.execute(
        select(
            ElbWorker.id,
            ElbWorker.lb_id,
            ElbWorker.zone,
            ElbWorker.node,
            ElbWorker.public_ip,
            ElbWorker.state,
        ).order_by(ElbWorker.created_at, ElbWorker.id)
    )
    return [_Worker(*row) for row in rows]


def _create(store: Store, missing: Iterable[tuple[str, str]]) -> int:
    made = 0
    for lb_id, zone in sorted(missing):
        try:
            with store.session() as s:
                s.add(
                    ElbWorker(
                        id=new_id("elbw"),
                        lb_id=lb_id,
                        zone=zone,
                        state="pending",
                        created_at=address_pool.now(),
                        applied_generation=0,
                    )
                )
        except IntegrityError:
            continue  # another controller made it first
        made += 1
    return made


def _retire(store: Store, unwanted: Iterable[_Worker]) -> int:
    retired = 0
    for w in unwanted:
        if w.state not in LIVE:
            continue
        with store.session() as s:
            done = s.execute(
                update(ElbWorker)
                .where(ElbWorker.id == w.id, ElbWorker.state == w.state)
                .values(state="deleting")
            )
            if _changed(done):
                bump_elb(s)
                retired += 1
                log.info("ELB worker %s of %s in %s is no longer needed", w.id, w.lb_id, w.zone)
    return retired


def _move(store: Store, w: _Worker, node: str) -> bool:
    """A silent node's worker to another node: same address, pending until the new node runs
    it."""
    with store.session() as s:
        done = s.execute(
            update(ElbWorker)
            .where(ElbWorker.id == w.id, ElbWorker.node == w.node, ElbWorker.state == w.state)
            .values(node=node, state="pending")
        )
        if not _changed(done):
            return False
        _bump(s)
    log.warning("node %s is silent: ELB worker %s of %s moves to %s", w.node, w.id, w.lb_id, node)
    return True


def _forget(store: Store, w: _Worker, account: str | None) -> int:
    """Delete the worker row (from the state it was read in), its address and its health."""
    same_node = ElbWorker.node.is_(None) if w.node is None else ElbWorker.node == w.node
    with store.session() as s:
        done = s.execute(
            delete(ElbWorker).where(ElbWorker.id == w.id, ElbWorker.state == w.state, same_node)
        )
        if not _changed(done):
            return 0
        if w.public_ip is not None and account is not None:
            s.execute(
                delete(Ec2Address).where(
                    Ec2Address.public_ip == w.public_ip,
                    Ec2Address.account_id == account,
                    Ec2Address.instance_id.is_(None),
                )
            )
        s.execute(delete(ElbInstanceHealth).where(ElbInstanceHealth.worker_id == w.id))
        _bump(s)
    log.info("ELB worker %s of %s is gone (address %s freed)", w.id, w.lb_id, w.public_ip)
    return 1


def expire_draining(store: Store, now: float) -> int:
    """Deregistered instances whose connection draining ran out leave the load balancer."""
    due = and_(ElbInstance.drain_until.is_not(None), ElbInstance.drain_until <= now)
    with store.read() as r:
        pairs = list(r.execute(select(ElbInstance.lb_id, ElbInstance.instance_id).where(due)))
    if not pairs:
        return 0
    expired = 0
    with store.session() as s:
        for lb_id, instance_id in pairs:
            # A registration since the read cleared drain_until: the row stays.
            done = s.execute(
                delete(ElbInstance).where(
                    ElbInstance.lb_id == lb_id, ElbInstance.instance_id == instance_id, due
                )
            )
            if _changed(done):
                s.execute(
                    delete(ElbInstanceHealth).where(
                        ElbInstanceHealth.lb_id == lb_id,
                        ElbInstanceHealth.instance_id == instance_id,
                    )
                )
                expired += 1
        if expired:
            bump_elb(s)
    return expired
