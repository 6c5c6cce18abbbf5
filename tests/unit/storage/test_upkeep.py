"""What storage agents clean up after others: chunk blobs a killed agent stored but never
recorded, snapshots pending on a storage host that died, and the volumes and snapshot data
of a deleted account."""

# The agent tests' `account` fixture is imported, so every parameter named so redefines it.
# ruff: noqa: F811, F401

from __future__ import annotations

import datetime as dt
import os
import time
from pathlib import Path

from sqlalchemy import select

from mallee.config import Settings
from mallee.ids import new_id
from mallee.objectstore.backends.fs import FsBackend
from mallee.registry import components
from mallee.services.base import Runtime
from mallee.services.iam.accounts import add_account, delete_account
from mallee.storage import upkeep
from mallee.storage.agent import StorageAgent
from mallee.storage.overlay import OverlayBackend
from mallee.storage.snapshots import BLOB_KIND
from mallee.store import Store
from mallee.store.tables.ebs import EbsReleasedVolume, Ec2Snapshot, Ec2SnapshotChunk, Ec2Volume
from tests.unit.storage.test_agent import FakeExporter, _volume, account


def _agent(store: Store, tmp_path: Path, objects: FsBackend, name: str = "sc1") -> StorageAgent:
    return StorageAgent(
        store, name=name, zone="one", host="h", backend=OverlayBackend(tmp_path / "volumes"),
        exporter=FakeExporter(tmp_path), objects=lambda: objects, heartbeat_timeout=10.0,
    )  # fmt: skip


def _snapshot(store: Store, account: str, host: str, state: str, blobs: list[str]) -> str:
    sid = new_id("snap")
    with store.session() as s:
        s.add(
            Ec2Snapshot(
                id=sid, account_id=account, volume_id="vol-1", volume_size_gib=1, state=state,
                started_at=dt.datetime.now(dt.UTC), storage_host=host,
            )
        )  # fmt: skip
        s.flush()
        for n, blob_id in enumerate(blobs):
            s.add(Ec2SnapshotChunk(snapshot_id=sid, offset=n << 22, length=1 << 22,
                                   blob_id=blob_id))  # fmt: skip
    return sid


def _aged(objects: FsBackend, blob_id: str, seconds: float) -> None:
    path = objects._path(blob_id)
    when = time.time() - seconds
    os.utime(path, (when, when))


def _exists(objects: FsBackend, blob_id: str) -> bool:
    return objects._path(blob_id).exists()


def test_chunk_blobs_no_row_names_are_swept_once_old(
    store: Store, account: str, tmp_path: Path
) -> None:
    objects = FsBackend(tmp_path / "objects")
    agent = _agent(store, tmp_path, objects)
    named, orphan, young = (objects.put([b"x" * 10], BLOB_KIND).blob_id for _ in range(3))
    s3_object = objects.put([b"an S3 object's data"]).blob_id  # not a chunk: never listed
    assert named.startswith("snap-") and not s3_object.startswith("snap-")
    _snapshot(store, account, "sc1", "completed", [named])
    for blob_id in (named, orphan, s3_object):
        _aged(objects, blob_id, 2 * upkeep.ORPHAN_AGE)
    assert {b for b, _ in objects.listing(BLOB_KIND)} == {named, orphan, young}
    assert upkeep.sweep_orphan_blobs(agent.snapshots, time.time()) == 1
    assert not _exists(objects, orphan)
    assert all(_exists(objects, b) for b in (named, young, s3_object))
    # The agent sweeps on its first tick, then every SWEEP_EVERY.
    _aged(objects, young, 2 * upkeep.ORPHAN_AGE)
    agent.tick()
    assert not _exists(objects, young) and _exists(objects, named)


def test_snapshots_pending_on_a_dead_host_end_in_error(
    store: Store, account: str, tmp_path: Path
) -> None:
    objects = FsBackend(tmp_path / "objects")
    agent = _agent(store, tmp_path, objects)
    now = time.time()
    partial = objects.put([b"copied before the host died"], BLOB_KIND).blob_id
    for name, beat in (("sc-dead", now - 5 * 10.0), ("sc-slow", now - 2 * 10.0)):
        sid = components.register_self(store, type="storage", name=name, host="h2", port=8773,
                                       partition="one", now=beat)  # fmt: skip
        components.heartbeat(store, sid, now=beat)
    dead = _snapshot(store, account, "sc-dead", "pending", [partial])
    gone = _snapshot(store, account, "sc-deregistered", "pending", [])
    slow = _snapshot(store, account, "sc-slow", "pending", [])
    done = _snapshot(store, account, "sc-dead", "completed", [])
    agent.tick(now)
    with store.read() as s:
        rows = {sid: s.get_one(Ec2Snapshot, sid) for sid in (dead, gone, slow, done)}
        states = {sid: (r.state, r.status_message) for sid, r in rows.items()}
        assert not s.scalars(
            select(Ec2SnapshotChunk).where(Ec2SnapshotChunk.snapshot_id == dead)
        ).all()
    assert states[dead][0] == states[gone][0] == "error"
    assert "sc-dead" in states[dead][1] and "unreachable" in states[dead][1]
    assert states[slow] == ("pending", "") and states[done][0] == "completed"
    assert not _exists(objects, partial)


def test_a_deleted_account_frees_its_volume_files_and_snapshot_blobs(
    store: Store, account: str, tmp_path: Path
) -> None:
    objects = FsBackend(tmp_path / "objects")
    agent = _agent(store, tmp_path, objects)
    with store.session() as s:
        gone = add_account(s, "leaving").id
    vid = _volume(store, gone)
    deleted = _volume(store, gone)
    other = _volume(store, account)
    agent.tick()
    with store.session() as s:
        s.get_one(Ec2Volume, deleted).state = "deleting"
    agent.tick()
    _volume(store, gone)  # no agent took it yet: no file anywhere
    assert agent.backend.path(vid).exists() and agent.backend.path(other).exists()
    own, shared = (objects.put([b"data"], BLOB_KIND).blob_id for _ in range(2))
    _snapshot(store, gone, "sc1", "completed", [own, shared])
    _snapshot(store, account, "", "completed", [shared])  # a copy another account keeps
    runtime = Runtime(Settings(data_dir=tmp_path), store)
    delete_account(runtime, {"AccountName": "leaving", "Recursive": True})
    with store.read() as s:
        released = {(r.volume_id, r.storage_host) for r in s.scalars(select(EbsReleasedVolume))}
        assert s.get(Ec2Volume, vid) is None
    # Neither the volume already deleted nor the one never made had a file to free.
    assert released == {(vid, "sc1")}
    assert agent.has_work()
    agent.tick()
    assert not agent.backend.path(vid).exists() and agent.backend.path(other).exists()
    with store.read() as s:
        assert s.scalars(select(EbsReleasedVolume)).all() == []
    # The chunk rows went with the account: its blobs are orphans the sweep frees, unless a
    # chunk of another snapshot still names them.
    for blob_id in (own, shared):
        _aged(objects, blob_id, 2 * upkeep.ORPHAN_AGE)
    assert upkeep.sweep_orphan_blobs(agent.snapshots, time.time()) == 1
    assert not _exists(objects, own) and _exists(objects, shared)
