"""Placement against a real store: policies, capacity, addresses, silent and disabled nodes."""

from __future__ import annotations

import datetime as dt
import time

import pytest

from mallee.cloud_identity import system_account_id
from mallee.controller.scheduler import Scheduler
from mallee.controller.vmstate import handle_silent_nodes
from mallee.ids import new_id
from mallee.registry import components
from mallee.services.iam.bootstrap import ensure_system_account
from mallee.store import Store
from mallee.store.tables.compute import NodeRow
from mallee.store.tables.ec2 import Ec2Instance

ZONE = "one"


def add_node(store: Store, name: str, cores: int = 4, subnet: str = "10.1.0.0/29") -> str:
    sid = components.register_self(
        store, type="node", name=name, host="h", port=8775, partition=ZONE
    )
    with store.session() as s:
        s.add(
            NodeRow(
                name=name,
                zone=ZONE,
                hypervisor="fake",
                cores=cores,
                memory_mb=cores * 1024,
                disk_gb=cores * 10,
                subnet=subnet,
                netns="",
                reported_at=time.time(),
            )
        )
    return sid


def pending(store: Store, count: int, cores: int = 1) -> list[str]:
    ensure_system_account(store)
    account = system_account_id(store)
    ids = [new_id("i") for _ in range(count)]
    with store.session() as s:
        for n, iid in enumerate(ids):
            s.add(
                Ec2Instance(
                    id=iid,
                    account_id=account,
                    reservation_id="r-1",
                    launch_index=n,
                    image_id="emi-00000000",
                    instance_type="m1.small",
                    cores=cores,
                    memory_mb=256,
                    disk_gb=5,
                    availability_zone=ZONE,
                    launch_time=dt.datetime.now(dt.UTC),
                    state_changed_at=time.time(),
                )
            )
    return ids


def rows(store: Store, ids: list[str]) -> list[Ec2Instance]:
    with store.read() as s:
        return [s.get(Ec2Instance, i) for i in ids]  # type: ignore[misc]


def place(store: Store, policy: str = "ROUNDROBIN", scheduler: Scheduler | None = None) -> int:
    sched = scheduler or Scheduler(policy=policy)
    return sched.place_pending(store, zone=ZONE, heartbeat_timeout=30)


def test_round_robin_spreads_and_greedy_fills(store: Store) -> None:
    add_node(store, "n1")
    add_node(store, "n2")
    ids = pending(store, 4)
    assert place(store) == 4
    assert [r.node for r in rows(store, ids)] == ["n1", "n2", "n1", "n2"]
    more = pending(store, 2)
    assert place(store, "GREEDY") == 2
    assert [r.node for r in rows(store, more)] == ["n1", "n1"]


def test_addresses_are_unique_per_node_and_skip_the_gateway(store: Store) -> None:
    add_node(store, "n1", cores=8)
    ids = pending(store, 3)
    place(store)
    placed = rows(store, ids)
    assert [r.private_ip for r in placed] == ["10.1.0.2", "10.1.0.3", "10.1.0.4"]
    assert len({r.mac for r in placed}) == 3


def test_no_room_terminates_with_a_reason(store: Store) -> None:
    add_node(store, "n1", cores=2)
    ids = pending(store, 3)
    assert place(store) == 2
    last = rows(store, ids)[2]
    assert last.state == "terminated"
    assert last.state_reason_code == "Server.InsufficientInstanceCapacity"


def test_small_subnet_is_a_capacity_limit(store: Store) -> None:
    # /30: gateway .1 and one instance address.
    add_node(store, "n1", cores=8, subnet="10.2.0.0/30")
    ids = pending(store, 2)
    assert place(store) == 1
    assert [r.state for r in rows(store, ids)] == ["pending", "terminated"]


@pytest.mark.parametrize("admin_state", ["DISABLED", "STOPPED"])
def test_disabled_nodes_take_nothing(store: Store, admin_state: str) -> None:
    add_node(store, "n1")
    add_node(store, "n2")
    components.modify_service(store, "n1", admin_state)
    ids = pending(store, 2)
    place(store)
    assert {r.node for r in rows(store, ids)} == {"n2"}


def test_silent_node_releases_pending_and_finishes_shutdowns(store: Store) -> None:
    add_node(store, "n1")
    ids = pending(store, 2)
    place(store)
    with store.session() as s:
        s.get(Ec2Instance, ids[1]).state = "shutting-down"  # type: ignore[union-attr]
    later = time.time() + 3600
    assert handle_silent_nodes(store, now=later) == 2
    first, second = rows(store, ids)
    assert (first.state, first.node, first.private_ip) == ("pending", None, None)
    assert second.state == "terminated"
