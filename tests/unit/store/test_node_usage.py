"""node_usage, kept by triggers, always equals the sum over the nodes' holding instances."""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path

from sqlalchemy import MetaData, Table, delete, func, insert, select, update

from mallee.ids import new_id
from mallee.store import Store
from mallee.store.tables.compute import NodeUsageRow
from mallee.store.tables.ec2 import Ec2Instance
from mallee.store.tables.iam import IamAccount
from tests.migrations import sqlite_store_at
from tests.unit.services.ec2.test_capacity import ZONE, add_instance

HOLDING = ("pending", "running", "stopping", "shutting-down")
BEFORE_COUNTERS = "9fff7e189be3"


def _launch(store: Store, node: str | None, size: tuple[int, int, int], state: str) -> str:
    return add_instance(store, node, state, size)


def _launch_before_counters(
    store: Store, node: str, size: tuple[int, int, int], state: str
) -> None:
    """As _launch, in a database at BEFORE_COUNTERS, whose IAM tables predate the ones in code
    (which the system account's bootstrap reads): the owning account is written as SQL."""
    cores, memory, disk = size
    with store.session() as s:
        if s.scalar(select(func.count()).select_from(Ec2Instance)) == 0:
            s.execute(
                insert(IamAccount.__table__).values(
                    id="000000000001", name="old", created_at=dt.datetime.now(dt.UTC)
                )
            )
        values: dict[str, object] = dict(
            id=new_id("i"),
            account_id="000000000001",
            reservation_id=new_id("r"),
            image_id="emi-00000000",
            instance_type="custom",
            cores=cores,
            memory_mb=memory,
            disk_gb=disk,
            availability_zone=ZONE,
            state=state,
            node=node,
            launch_time=dt.datetime.now(dt.UTC),
            state_changed_at=time.time(),
        )
        # Only the columns the old table has (later migrations add more), with the defaults
        # the model gives the ones not set here.
        old = Table("ec2_instances", MetaData(), autoload_with=s.connection())
        for column in old.c:
            default = Ec2Instance.__table__.c[column.name].default
            if column.name not in values and default is not None and default.is_scalar:
                values[column.name] = default.arg
        s.execute(insert(old).values(**values))


def _set(store: Store, iid: str, **values: object) -> None:
    with store.session() as s:
        s.execute(update(Ec2Instance).where(Ec2Instance.id == iid).values(**values))


def _counters(store: Store) -> dict[str, tuple[int, int, int, int]]:
    with store.read() as s:
        rows = s.execute(select(NodeUsageRow)).scalars().all()
        return {r.node: (r.cores, r.memory_mb, r.disk_gb, r.instances) for r in rows if r.instances}


def _recomputed(store: Store) -> dict[str, tuple[int, int, int, int]]:
    i = Ec2Instance
    with store.read() as s:
        rows = s.execute(
            select(i.node, func.sum(i.cores), func.sum(i.memory_mb), func.sum(i.disk_gb))
            .add_columns(func.count())
            .where(i.node.is_not(None), i.state.in_(HOLDING))
            .group_by(i.node)
        ).all()
    return {r[0]: (int(r[1]), int(r[2]), int(r[3]), int(r[4])) for r in rows}


def test_counters_follow_every_change(store: Store) -> None:
    a = _launch(store, None, (1, 256, 5), "pending")  # not placed yet: holds nothing
    b = _launch(store, "n1", (2, 512, 10), "pending")
    c = _launch(store, "n1", (1, 128, 5), "stopped")  # not holding
    assert _counters(store) == {"n1": (2, 512, 10, 1)} == _recomputed(store)
    steps: list[tuple[str, dict[str, object]]] = [
        (a, {"node": "n1"}),  # placed
        (a, {"state": "running"}),  # holding -> holding: unchanged
        (c, {"state": "pending"}),  # started again
        (b, {"node": "n2"}),  # moved (migration)
        (b, {"cores": 4, "memory_mb": 1024}),  # resized while holding
        (a, {"state": "shutting-down"}),
        (a, {"state": "terminated"}),  # released
        (c, {"state": "stopped", "node": None}),
    ]
    for iid, values in steps:
        _set(store, iid, **values)
        assert _counters(store) == _recomputed(store), values
    assert _counters(store) == {"n2": (4, 1024, 10, 1)}
    with store.session() as s:
        s.execute(delete(Ec2Instance).where(Ec2Instance.id == b))
    assert _counters(store) == {} == _recomputed(store)


def test_upgrade_counts_the_instances_already_there(tmp_path: Path) -> None:
    old = sqlite_store_at(tmp_path / "old.db", BEFORE_COUNTERS)
    _launch_before_counters(old, "n1", (2, 512, 10), "running")
    _launch_before_counters(old, "n1", (1, 256, 5), "pending")
    _launch_before_counters(old, "n1", (8, 8192, 50), "terminated")
    old.dispose()
    store = Store(old.url)
    try:
        store.migrate()
        assert _counters(store) == {"n1": (3, 768, 15, 2)}
        _launch(store, "n1", (1, 256, 5), "pending")
        assert _counters(store) == {"n1": (4, 1024, 20, 3)}
    finally:
        store.dispose()
