"""Public IPs against a real store: auto-assignment at placement, reclaim."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

from mallee.controller import addresses
from mallee.registry import properties
from mallee.store import Store
from mallee.store.tables.ec2 import Ec2Instance
from mallee.store.tables.network import Ec2Address, network_generation
from tests.unit.controller.test_scheduler import add_node, pending, place, rows
from tests.unit.placement.test_address_pool import POOL, addresses_of, small_pool


@pytest.fixture(autouse=True)
def fresh_properties() -> Iterator[None]:
    # The property cache is keyed by the store object's id, which a later test may reuse.
    properties._cache.clear()
    yield
    properties._cache.clear()


def generation(store: Store) -> int:
    with store.read() as s:
        return network_generation(s)


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
