"""The node agent's state changes: conditional, durable on return, committed in groups."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from sqlalchemy.exc import OperationalError

from mallee.node.transitions import Transitions
from mallee.store import Store
from mallee.store.tables.compute import InstanceConsole
from mallee.store.tables.network import network_generation
from mallee.store.upsert import upsert
from tests.unit.node.rows import instance, row_of


def generation(store: Store) -> int:
    with store.read() as s:
        return network_generation(s)


def test_concurrent_moves_all_land_and_each_learns_its_own_outcome(
    store: Store, images: dict[str, str]
) -> None:
    moves = Transitions(store)
    pending = [instance(store, images) for _ in range(12)]
    already = instance(store, images, state="running")
    outcomes: dict[str, bool] = {}
    start = threading.Barrier(len(pending) + 1)

    def move(iid: str) -> None:
        start.wait()
        outcomes[iid] = moves.move(iid, "pending", "running")

    threads = [threading.Thread(target=move, args=(i,)) for i in [*pending, already]]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert outcomes == {**dict.fromkeys(pending, True), already: False}
    assert {row_of(store, i).state for i in pending} == {"running"}


def test_leaving_the_network_moves_the_generation_once_per_commit(
    store: Store, images: dict[str, str]
) -> None:
    moves = Transitions(store)
    before = generation(store)
    iid = instance(store, images, state="shutting-down")
    assert moves.move(iid, "shutting-down", "terminated", terminated_at=1.0)
    row = row_of(store, iid)
    assert (row.state, row.terminated_at) == ("terminated", 1.0)
    assert generation(store) == before + 1
    # Staying on the network (pending -> running) changes no firewall.
    assert moves.move(instance(store, images), "pending", "running")
    assert generation(store) == before + 1


def test_a_failed_commit_reaches_every_caller_and_changes_nothing(
    store: Store, images: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    moves = Transitions(store)
    iid = instance(store, images)

    def broken(*_: Any, **__: Any) -> Any:
        raise OperationalError("BEGIN", {}, Exception("database is locked"))

    monkeypatch.setattr(store, "session", broken)
    with pytest.raises(OperationalError):
        moves.move(iid, "pending", "running")
    monkeypatch.undo()
    assert row_of(store, iid).state == "pending"
    assert moves.move(iid, "pending", "running")


def test_upsert_inserts_new_keys_and_overwrites_existing_ones(
    store: Store, images: dict[str, str]
) -> None:
    a, b = instance(store, images), instance(store, images)
    with store.session() as s:
        upsert(s, InstanceConsole, [{"instance_id": a, "output": "one", "updated_at": 1.0}])
    with store.session() as s:
        upsert(
            s,
            InstanceConsole,
            [
                {"instance_id": a, "output": "two", "updated_at": 2.0},
                {"instance_id": b, "output": "three", "updated_at": 3.0},
            ],
        )
    with store.read() as s:
        got = {r.instance_id: (r.output, r.updated_at) for r in s.query(InstanceConsole)}
    assert got == {a: ("two", 2.0), b: ("three", 3.0)}


def test_stopping_makes_the_volumes_wait_for_their_next_export(
    store: Store, images: dict[str, str]
) -> None:
    # A quick StartInstances must not find the volumes still marked exported while the storage
    # agent, which saw the instance stopped, withdraws their exports.
    from mallee.store.tables.ebs import Ec2VolumeAttachment
    from tests.unit.node.rows import ebs_volume

    moves = Transitions(store)
    iid = instance(store, images, state="stopping")
    volume_id = ebs_volume(store, iid, exported=True)
    other = instance(store, images, state="running")
    kept = ebs_volume(store, other, exported=True)
    assert moves.move(iid, "stopping", "stopped")
    with store.read() as s:
        assert s.get(Ec2VolumeAttachment, volume_id).exported is False  # type: ignore[union-attr]
        assert s.get(Ec2VolumeAttachment, kept).exported is True  # type: ignore[union-attr]
