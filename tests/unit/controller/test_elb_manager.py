"""The ELB manager against a real store: workers placed, moved, retired and forgotten."""

from __future__ import annotations

import datetime as dt
import json
import logging
import time
from collections.abc import Iterator

import pytest
from sqlalchemy import select, update

from mallee.cloud_identity import (
    LOADBALANCING_ACCOUNT,
    ensure_loadbalancing_account,
    system_account_id,
)
from mallee.controller.elb import ElbManager
from mallee.ids import new_id
from mallee.registry import properties
from mallee.services.iam.bootstrap import ensure_system_account
from mallee.store import Store
from mallee.store.tables.elb import (
    ElbInstance,
    ElbInstanceHealth,
    ElbLoadBalancer,
    ElbWorker,
    elb_generation,
)
from mallee.store.tables.iam import IamAccount
from mallee.store.tables.network import Ec2Address
from mallee.store.tables.registry import ServiceRow
from tests.unit.controller.test_scheduler import ZONE, add_node
from tests.unit.placement.test_address_pool import POOL, addresses_of, small_pool


@pytest.fixture(autouse=True)
def fresh_properties() -> Iterator[None]:
    # The property cache is keyed by the store object's id, which a later test may reuse.
    properties._cache.clear()
    yield
    properties._cache.clear()


@pytest.fixture
def manager() -> ElbManager:
    return ElbManager(heartbeat_timeout=30)


def add_lb(store: Store, zones: list[str], name: str = "web") -> str:
    ensure_system_account(store)
    lb_id = new_id("x")[2:14]
    with store.session() as s:
        s.add(
            ElbLoadBalancer(
                id=lb_id,
                account_id=system_account_id(store),
                name=name,
                dns_name=f"{name}-{lb_id}.eucalyptus.elb.cloud.internal",
                created_at=dt.datetime.now(dt.UTC),
                zones=json.dumps(zones),
            )
        )
    return lb_id


def workers(store: Store) -> list[ElbWorker]:
    with store.read() as s:
        return list(s.scalars(select(ElbWorker).order_by(ElbWorker.lb_id, ElbWorker.zone)))


def generation(store: Store) -> int:
    with store.read() as s:
        return elb_generation(s)


def set_state(store: Store, worker_id: str, state: str) -> None:
    with store.session() as s:
        s.execute(update(ElbWorker).where(ElbWorker.id == worker_id).values(state=state))


def silence(store: Store, node: str, since: float) -> None:
    with store.session() as s:
        s.execute(update(ServiceRow).where(ServiceRow.name == node).values(last_heartbeat=since))


def test_one_worker_per_zone_gets_a_node_and_an_address(store: Store, manager: ElbManager) -> None:
    small_pool(store, POOL)
    add_node(store, "n1")
    lb = add_lb(store, [ZONE])
    before = generation(store)
    assert manager.tick(store, time.time()) > 0
    (worker,) = workers(store)
    assert worker.id.startswith("elbw-")
    assert (worker.lb_id, worker.zone, worker.node) == (lb, ZONE, "n1")
    assert (worker.state, worker.public_ip) == ("pending", POOL[0])
    address = addresses_of(store)[POOL[0]]
    assert address.account_id == ensure_loadbalancing_account(store)
    assert (address.elastic, address.instance_id) == (False, None)
    assert generation(store) > before
    # Nothing left to do: the next tick (a restarted controller) repeats nothing.
    after = generation(store)
    assert ElbManager(heartbeat_timeout=30).tick(store, time.time()) == 0
    assert generation(store) == after
    assert len(workers(store)) == 1 and len(addresses_of(store)) == 1


def test_workers_go_to_the_node_with_the_fewest(store: Store, manager: ElbManager) -> None:
    small_pool(store, ["198.51.100.10", "198.51.100.11", "198.51.100.12"])
    add_node(store, "n1")
    add_node(store, "n2")
    for name in ("a", "b", "c"):
        add_lb(store, [ZONE], name=name)
    manager.tick(store, time.time())
    # a -> n1, b -> n2 (n1 has one), c -> n1 (a tie goes by name).
    assert sorted(w.node or "" for w in workers(store)) == ["n1", "n1", "n2"]
    assert len({w.public_ip for w in workers(store)}) == 3


def test_a_zone_without_a_live_node_waits_and_says_so_once(
    store: Store, manager: ElbManager, caplog: pytest.LogCaptureFixture
) -> None:
    small_pool(store, POOL)
    add_lb(store, [ZONE, "other"])
    add_node(store, "n1")
    with caplog.at_level(logging.WARNING):
        manager.tick(store, time.time())
        manager.tick(store, time.time())
    waiting = [r for r in caplog.records if "no live node in zone other" in r.getMessage()]
    assert len(waiting) == 1
    by_zone = {w.zone: w for w in workers(store)}
    assert by_zone[ZONE].node == "n1"
    assert (by_zone["other"].node, by_zone["other"].public_ip) == (None, None)
    assert by_zone["other"].state == "pending"
    assert len(addresses_of(store)) == 1


def test_an_empty_pool_leaves_the_worker_unplaced(store: Store, manager: ElbManager) -> None:
    small_pool(store, POOL[:1])
    add_node(store, "n1")
    add_lb(store, [ZONE], name="a")
    add_lb(store, [ZONE], name="b")
    manager.tick(store, time.time())
    placed = [w for w in workers(store) if w.node]
    unplaced = [w for w in workers(store) if not w.node]
    assert len(placed) == 1 and len(unplaced) == 1
    # Its transaction was rolled back whole: no node without an address.
    assert unplaced[0].public_ip is None and unplaced[0].state == "pending"
    # The address comes back when the first load balancer's worker is gone.
    with store.session() as s:
        s.execute(ElbLoadBalancer.__table__.delete().where(ElbLoadBalancer.id == placed[0].lb_id))
    manager.tick(store, time.time())
    set_state(store, placed[0].id, "stopped")
    manager.tick(store, time.time())
    (left,) = workers(store)
    assert left.id == unplaced[0].id and left.public_ip == POOL[0] and left.node == "n1"


def test_a_gone_load_balancer_or_zone_retires_its_worker(store: Store, manager: ElbManager) -> None:
    small_pool(store, POOL)
    add_node(store, "n1")
    lb = add_lb(store, [ZONE])
    manager.tick(store, time.time())
    (worker,) = workers(store)
    set_state(store, worker.id, "running")
    with store.session() as s:
        s.add(
            ElbInstanceHealth(
                lb_id=lb,
                instance_id="i-1",
                worker_id=worker.id,
                state="InService",
                updated_at=time.time(),
            )
        )
        s.execute(update(ElbLoadBalancer).where(ElbLoadBalancer.id == lb).values(zones="[]"))
    before = generation(store)
    manager.tick(store, time.time())
    (worker,) = workers(store)
    assert worker.state == "deleting" and worker.node == "n1"
    assert generation(store) > before
    # The node still runs it: nothing more happens until it says it stopped it.
    manager.tick(store, time.time())
    assert [w.state for w in workers(store)] == ["deleting"]
    assert POOL[0] in addresses_of(store)
    set_state(store, worker.id, "stopped")
    manager.tick(store, time.time())
    assert workers(store) == []
    assert addresses_of(store) == {}
    with store.read() as s:
        assert s.scalars(select(ElbInstanceHealth)).all() == []


def test_re_adding_a_zone_waits_for_the_old_worker(store: Store, manager: ElbManager) -> None:
    small_pool(store, POOL)
    add_node(store, "n1")
    lb = add_lb(store, [ZONE])
    manager.tick(store, time.time())
    (old,) = workers(store)
    for zones in ("[]", json.dumps([ZONE])):
        with store.session() as s:
            s.execute(update(ElbLoadBalancer).where(ElbLoadBalancer.id == lb).values(zones=zones))
        manager.tick(store, time.time())
    assert [(w.id, w.state) for w in workers(store)] == [(old.id, "deleting")]
    set_state(store, old.id, "stopped")
    manager.tick(store, time.time())
    manager.tick(store, time.time())
    (new,) = workers(store)
    assert new.id != old.id and new.node == "n1" and new.public_ip == POOL[0]


def test_a_silent_nodes_workers_move_and_keep_their_address(
    store: Store, manager: ElbManager
) -> None:
    small_pool(store, POOL)
    add_node(store, "n1")
    lb = add_lb(store, [ZONE])
    manager.tick(store, time.time())
    (worker,) = workers(store)
    set_state(store, worker.id, "running")
    add_node(store, "n2")
    now = time.time()
    silence(store, "n1", now - 60)
    before = generation(store)
    manager.tick(store, now)
    (moved,) = workers(store)
    assert (moved.id, moved.node, moved.public_ip) == (worker.id, "n2", POOL[0])
    assert moved.state == "pending"
    assert generation(store) > before
    assert len(addresses_of(store)) == 1
    assert moved.lb_id == lb


def test_a_deleting_worker_of_a_long_silent_node_is_forgotten(
    store: Store, manager: ElbManager
) -> None:
    small_pool(store, POOL)
    properties.set_value(store, "cloud.vmstate.instance_timeout", "1")
    add_node(store, "n1")
    lb = add_lb(store, [ZONE])
    manager.tick(store, time.time())
    with store.session() as s:
        s.execute(ElbLoadBalancer.__table__.delete().where(ElbLoadBalancer.id == lb))
    now = time.time()
    silence(store, "n1", now - 40)
    manager.tick(store, now)
    # Silent, but not for long: its node may come back and stop the worker itself.
    assert [w.state for w in workers(store)] == ["deleting"]
    silence(store, "n1", now - 120)
    manager.tick(store, now)
    assert workers(store) == []
    assert addresses_of(store) == {}


def test_draining_instances_leave_when_their_time_is_up(store: Store, manager: ElbManager) -> None:
    lb = add_lb(store, [])
    now = time.time()
    with store.session() as s:
        for iid, until in (("i-1", now - 1), ("i-2", now + 300), ("i-3", None)):
            s.add(
                ElbInstance(
                    lb_id=lb,
                    instance_id=iid,
                    registered_at=dt.datetime.now(dt.UTC),
                    drain_until=until,
                )
            )
            s.add(
                ElbInstanceHealth(
                    lb_id=lb, instance_id=iid, worker_id="elbw-1", state="InService", updated_at=now
                )
            )
    before = generation(store)
    assert manager.tick(store, now) == 1
    with store.read() as s:
        assert sorted(s.scalars(select(ElbInstance.instance_id))) == ["i-2", "i-3"]
        assert sorted(s.scalars(select(ElbInstanceHealth.instance_id))) == ["i-2", "i-3"]
    assert generation(store) > before
    assert manager.tick(store, now) == 0


def test_the_loadbalancing_account_is_made_once(store: Store) -> None:
    first = ensure_loadbalancing_account(store)
    assert ensure_loadbalancing_account(store) == first
    with store.read() as s:
        rows = s.scalars(select(IamAccount).where(IamAccount.name == LOADBALANCING_ACCOUNT)).all()
    assert [r.id for r in rows] == [first] and len(first) == 12 and first.isdigit()


def test_nothing_to_do_touches_nothing(store: Store, manager: ElbManager) -> None:
    assert manager.tick(store, time.time()) == 0
    with store.read() as s:
        assert s.scalars(select(Ec2Address)).all() == []
        names = s.scalars(select(IamAccount.name)).all()
    assert LOADBALANCING_ACCOUNT not in names
