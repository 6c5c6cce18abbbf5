"""Public IPs against a real store: the pool helper, auto-assignment at placement, reclaim."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator

import pytest
from sqlalchemy import select

from mallee.controller import addresses
from mallee.services.ec2 import address_pool
from mallee.services.empyrean import properties
from mallee.store import Store
from mallee.store.tables.ec2 import Ec2Instance
from mallee.store.tables.network import Ec2Address, network_generation
from tests.unit.controller.test_scheduler import add_node, pending, place, rows

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


def generation(store: Store) -> int:
    with store.read() as s:
        return network_generation(s)


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


def test_placement_gives_public_ips_until_the_pool_is_empty(
    store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    small_pool(store, POOL)
    add_node(store, "n1", cores=8)
    before = generation(store)
    ids = pending(store, 4)[:3]
    with caplog.at_level(logging.WARNING):
        assert place(store) == 4
    # One line for the pass, however many instances went without.
    assert [r.getMessage() for r in caplog.records if "pool is empty" in r.getMessage()] == [
        "public address pool is empty: 2 instance(s) got no public IP"
    ]
    placed = rows(store, ids)
    assert [r.public_ip for r in placed] == [*POOL, None]
    assert all(r.state == "pending" and r.private_ip for r in placed)
    held = addresses_of(store)
    assert {a.instance_id for a in held.values()} == set(ids[:2])
    assert not any(a.elastic for a in held.values())
    assert all(a.association_id and a.association_id.startswith("eipassoc-") for a in held.values())
    assert generation(store) > before


def test_no_public_ip_when_dynamic_addresses_are_off(
    store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    properties.set_value(store, "cloud.addresses.dodynamicpublicaddresses", "false")
    add_node(store, "n1")
    before = generation(store)
    (iid,) = pending(store, 1)
    with caplog.at_level(logging.WARNING):
        place(store)
    assert not any("pool is empty" in r.getMessage() for r in caplog.records)
    (row,) = rows(store, [iid])
    assert row.private_ip and row.public_ip is None
    assert addresses_of(store) == {}
    # The private IP assignment alone moves the generation (DHCP and routes need it).
    assert generation(store) > before


def test_reclaim_frees_auto_ips_and_keeps_elastic_ones(store: Store) -> None:
    small_pool(store, POOL)
    add_node(store, "n1")
    ids = pending(store, 2)
    place(store)
    with store.session() as s:
        # Turn the second's address into an elastic IP of the account.
        elastic = s.get(Ec2Address, POOL[1])
        assert elastic is not None
        elastic.elastic = True
        for iid in ids:
            row = s.get(Ec2Instance, iid)
            assert row is not None
            row.state = "terminated"
    assert addresses.reclaim(store) == 2
    held = addresses_of(store)
    assert list(held) == [POOL[1]]
    assert held[POOL[1]].instance_id is None and held[POOL[1]].association_id is None
    assert [r.public_ip for r in rows(store, ids)] == [None, None]
    before = generation(store)
    assert addresses.reclaim(store) == 0
    assert generation(store) == before


def test_reclaim_counts_and_handles_vanished_instances(store: Store) -> None:
    small_pool(store, POOL)
    add_node(store, "n1")
    (iid,) = pending(store, 1)
    place(store)
    with store.session() as s:
        row = s.get(Ec2Instance, iid)
        assert row is not None
        s.delete(row)
    before = generation(store)
    assert addresses.reclaim(store) == 1
    assert addresses_of(store) == {}
    assert generation(store) > before


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
