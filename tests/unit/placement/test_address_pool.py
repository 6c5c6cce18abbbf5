"""The public address pool against a real store: the plan's order, a broken plan, races."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from sqlalchemy import select

from mallee.placement import address_pool
from mallee.registry import properties
from mallee.store import Store
from mallee.store.tables.network import Ec2Address
from tests.unit.controller.test_scheduler import add_node, pending, rows

POOL = ["198.51.100.10", "198.51.100.11"]


@pytest.fixture(autouse=True)
def fresh_properties() -> Iterator[None]:
    # The property cache is keyed by the store object's id, which a later test may reuse.
    properties._cache.clear()
    yield
    properties._cache.clear()


def small_pool(store: Store, ips: list[str]) -> None:
    plan = {"PublicSubnet": "198.51.100.0/24", "PublicIps": ips}
    properties.set_value(store, "cloud.network.network_configuration", json.dumps(plan))


def addresses_of(store: Store) -> dict[str, Ec2Address]:
    with store.read() as s:
        return {a.public_ip: a for a in s.scalars(select(Ec2Address)).all()}


def test_next_free_keeps_the_plan_order() -> None:
    pool = ["10.0.0.9", "10.0.0.3", "10.0.0.5"]
    assert address_pool.next_free(pool, set()) == "10.0.0.9"
    assert address_pool.next_free(pool, {"10.0.0.9"}) == "10.0.0.3"
    assert address_pool.next_free(pool, {"10.0.0.9", "10.0.0.3", "10.0.0.5"}) is None
    assert address_pool.next_free([], set()) is None


def test_default_plan_is_the_test_net_pool(store: Store) -> None:
    pool = address_pool.pool(store)
    assert pool[0] == "203.0.113.100" and len(pool) == 100


def test_a_broken_plan_is_an_empty_pool(store: Store) -> None:
    properties.set_value(
        store, "cloud.network.network_configuration", json.dumps({"PublicIps": ["nope"]})
    )
    assert address_pool.pool(store) == ()


def test_losing_a_race_for_an_address_takes_the_next(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    small_pool(store, POOL)
    pool = address_pool.pool(store)
    add_node(store, "n1")
    (iid,) = pending(store, 1)
    account = rows(store, [iid])[0].account_id
    with store.session() as s:
        first = address_pool.take(s, pool, account_id=account, elastic=True)
    assert first is not None and first.public_ip == POOL[0]
    # A writer that read the free set before the first committed: it picks POOL[0] too.
    monkeypatch.setattr(address_pool, "taken", lambda s: set())
    with store.session() as s:
        second = address_pool.take(s, pool, account_id=account, elastic=True)
        assert second is not None and second.public_ip == POOL[1]
    monkeypatch.undo()
    with store.session() as s:
        assert address_pool.take(s, pool, account_id=account, elastic=True) is None
    assert set(addresses_of(store)) == set(POOL)
