"""ebs_usage, kept by triggers, always equals each account's volumes not yet deleted and their
GiB: a quota on volumes reads one row."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from sqlalchemy import column, delete, func, insert, select, table, update

from mallee.ids import new_id
from mallee.store import Store
from mallee.store.tables.ebs import EbsUsage, Ec2Volume
from mallee.store.tables.iam import IamAccount
from tests.migrations import sqlite_store_at

BEFORE_USAGE = "e1b5b00702cd"


def _account(store: Store, account_id: str) -> str:
    with store.session() as s:
        s.execute(
            insert(IamAccount.__table__).values(
                id=account_id, name=f"a{account_id}", created_at=dt.datetime.now(dt.UTC)
            )
        )
    return account_id


def _volume(store: Store, account_id: str, size: int, state: str = "creating") -> str:
    vid = new_id("vol")
    with store.session() as s:
        s.execute(
            insert(Ec2Volume.__table__).values(
                id=vid, account_id=account_id, availability_zone="one", size_gib=size,
                volume_type="gp2", snapshot_id="", state=state, storage_host="",
                created_at=dt.datetime.now(dt.UTC), auto_enable_io=False, io_enabled=True,
                status_message="",
            )
        )  # fmt: skip
    return vid


def _set(store: Store, vid: str, **values: object) -> None:
    with store.session() as s:
        s.execute(update(Ec2Volume).where(Ec2Volume.id == vid).values(**values))


def _usage(store: Store) -> dict[str, tuple[int, int]]:
    with store.read() as s:
        rows = s.scalars(select(EbsUsage)).all()
        return {r.account_id: (r.volumes, r.volume_gib) for r in rows if r.volumes}


def _recomputed(store: Store) -> dict[str, tuple[int, int]]:
    v = Ec2Volume
    with store.read() as s:
        rows = s.execute(
            select(v.account_id, func.count(), func.sum(v.size_gib))
            .where(v.state != "deleted")
            .group_by(v.account_id)
        ).all()
    return {r[0]: (int(r[1]), int(r[2])) for r in rows}


def test_usage_follows_every_change(store: Store) -> None:
    one, two = _account(store, "111111111111"), _account(store, "222222222222")
    a = _volume(store, one, 10)
    b = _volume(store, one, 5, state="available")
    c = _volume(store, two, 1)
    assert _usage(store) == {one: (2, 15), two: (1, 1)} == _recomputed(store)
    steps: list[tuple[str, dict[str, object]]] = [
        (a, {"state": "available"}),  # holding -> holding: unchanged
        (a, {"state": "in-use"}),
        (b, {"size_gib": 50}),  # ModifyVolume grew it
        (a, {"state": "deleting"}),  # still holds its data
        (a, {"state": "deleted"}),  # released
        (c, {"state": "error"}),  # a failed volume is still the account's until deleted
    ]
    for vid, values in steps:
        _set(store, vid, **values)
        assert _usage(store) == _recomputed(store), values
    assert _usage(store) == {one: (1, 50), two: (1, 1)}
    # Purged rows of deleted volumes change nothing; a row deleted while holding releases.
    with store.session() as s:
        s.execute(delete(Ec2Volume).where(Ec2Volume.id.in_([a, c])))
    assert _usage(store) == {one: (1, 50)} == _recomputed(store)
    # An account deleted with its volumes (ON DELETE CASCADE) leaves no usage.
    with store.session() as s:
        s.execute(delete(IamAccount).where(IamAccount.id == one))
    assert _usage(store) == {} == _recomputed(store)


def test_upgrade_counts_the_volumes_already_there(tmp_path: Path) -> None:
    old = sqlite_store_at(tmp_path / "old.db", BEFORE_USAGE)
    account = _account(old, "333333333333")
    # As SQL: the model has columns later migrations add.
    columns = ("id", "account_id", "availability_zone", "size_gib", "volume_type", "snapshot_id",
               "state", "storage_host", "created_at", "auto_enable_io", "io_enabled",
               "status_message")  # fmt: skip
    volumes = table("ec2_volumes", *(column(c) for c in columns))
    for size, state in ((3, "available"), (4, "in-use"), (100, "deleted")):
        with old.session() as s:
            s.execute(
                insert(volumes).values(
                    id=new_id("vol"), account_id=account, availability_zone="one",
                    size_gib=size, volume_type="gp2", snapshot_id="", state=state,
                    storage_host="", created_at=dt.datetime.now(dt.UTC), auto_enable_io=False,
                    io_enabled=True, status_message="",
                )
            )  # fmt: skip
    old.dispose()
    store = Store(old.url)
    try:
        store.migrate()
        assert _usage(store) == {account: (2, 7)}
        _volume(store, account, 1)
        assert _usage(store) == {account: (3, 8)}
    finally:
        store.dispose()
