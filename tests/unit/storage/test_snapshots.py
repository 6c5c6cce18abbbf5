"""Snapshots taken by the storage agent: sparse reads, chunks in the object store, restores,
live backups of exported volumes, and an agent killed mid-snapshot."""

# The agent tests' `account` fixture is imported, so every parameter named so redefines it.
# ruff: noqa: F811, F401

from __future__ import annotations

import datetime as dt
import os
import shutil
import subprocess
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from mallee.ids import new_id
from mallee.objectstore.backends import Blob, Piece
from mallee.objectstore.backends.fs import FsBackend
from mallee.storage.agent import StorageAgent
from mallee.storage.daemon import StorageDaemon
from mallee.storage.overlay import OverlayBackend
from mallee.storage.snapshots import UPLOADS, Extent, file_extents, pieces
from mallee.store import Store
from mallee.store.tables.ebs import Ec2Snapshot, Ec2SnapshotChunk, Ec2Volume, export_volume
from tests.unit.storage.test_agent import FakeExporter, _volume, account

MiB = 1 << 20
needs_qemu = pytest.mark.skipif(
    shutil.which("qemu-img") is None or shutil.which("qemu-storage-daemon") is None,
    reason="needs qemu-img and qemu-storage-daemon",
)


class Killed(BaseException):
    """What SIGKILL looks like from inside: nothing after it runs."""


class Objects(FsBackend):
    """The fs backend, counting puts; it can 'kill' the agent or delete a snapshot mid-copy."""

    def __init__(self, root: Path) -> None:
        super().__init__(root)
        self.puts = 0
        self.kill_after: int | None = None
        self.on_put: Any = None

    def put(self, pieces: Iterable[Piece], kind: str = "") -> Blob:
        blob = super().put(pieces, kind)
        self.puts += 1
        if self.on_put is not None:
            self.on_put(self.puts)
        if self.kill_after is not None and self.puts >= self.kill_after:
            raise Killed
        return blob

    def blob_ids(self) -> set[str]:
        return {p.name for p in (*self.root.glob("??/??/*"), *self.root.glob("*-/??/??/*"))}


@pytest.fixture
def objects(tmp_path: Path) -> Objects:
    return Objects(tmp_path / "objects")


def agent_for(store: Store, tmp_path: Path, objects: Objects) -> StorageAgent:
    return StorageAgent(
        store,
        name="sc1",
        zone="one",
        host="h",
        backend=OverlayBackend(tmp_path / "volumes"),
        exporter=QcowExporter(tmp_path),
        objects=lambda: objects,
    )


class QcowExporter(FakeExporter):
    """Exports nothing really; its backup is the file copied to qcow2 as QEMU's would be."""

    def backup(self, volume_id: str, target: Path, size: int) -> None:
        target.parent.mkdir(parents=True, exist_ok=True)
        (source,) = (p for name, p in self.served.items() if export_volume(name) == volume_id)
        subprocess.run(
            ["qemu-img", "convert", "-f", "raw", "-O", "qcow2", str(source), str(target)],
            check=True,
        )  # fmt: skip


def write(path: Path, offset: int, data: bytes) -> None:
    with open(path, "r+b") as f:
        f.seek(offset)
        f.write(data)


def pattern(n: int, seed: int = 7) -> bytes:
    return bytes((i * seed + i // 4096) % 251 for i in range(n))


def available(store: Store, account: str, agent: StorageAgent, size: int = 1) -> str:
    vid = _volume(store, account, size_gib=size)
    agent.tick()
    return vid


def snapshot(store: Store, account: str, vid: str) -> str:
    sid = new_id("snap")
    with store.session() as s:
        v = s.get_one(Ec2Volume, vid)
        s.add(
            Ec2Snapshot(
                id=sid, account_id=account, volume_id=vid, volume_size_gib=v.size_gib,
                state="pending", started_at=dt.datetime.now(dt.UTC), storage_host=v.storage_host,
            )
        )  # fmt: skip
    return sid


def snapshot_row(store: Store, sid: str) -> Ec2Snapshot:
    with store.read() as s:
        return s.get_one(Ec2Snapshot, sid)


def chunks(store: Store, sid: str) -> list[tuple[int, int, str]]:
    with store.read() as s:
        c = Ec2SnapshotChunk
        rows = s.execute(
            select(c.offset, c.length, c.blob_id).where(c.snapshot_id == sid).order_by(c.offset)
        ).all()
        return [(int(o), int(n), str(b)) for o, n, b in rows]


def restored(store: Store, account: str, agent: StorageAgent, sid: str, size: int = 1) -> Path:
    vid = _volume(store, account, size_gib=size, snapshot_id=sid)
    agent.tick()
    with store.read() as s:
        assert s.get_one(Ec2Volume, vid).state == "available"
    return agent.backend.path(vid)


def test_file_extents_find_only_the_data(tmp_path: Path) -> None:
    path = tmp_path / "f"
    with open(path, "wb") as f:
        f.truncate(64 * MiB)
    write(path, 5 * MiB, b"x" * 4096)
    write(path, 40 * MiB, b"y" * (2 * MiB))
    with open(path, "rb") as f:
        found = file_extents(f.fileno(), 64 * MiB)
    assert sum(e.length for e in found) < 4 * MiB
    covered = [(e.start, e.start + e.length) for e in found]
    assert any(a <= 5 * MiB < b for a, b in covered)
    assert any(a <= 40 * MiB and 42 * MiB <= b for a, b in covered)


def test_pieces_follow_the_grid_and_clip_the_last() -> None:
    got = list(pieces([Extent(3 * MiB, 3 * MiB, 100), Extent(9 * MiB, MiB, 9 * MiB)], 10 * MiB))
    assert [(o, n) for o, n, _ in got] == [(0, 4 * MiB), (4 * MiB, 4 * MiB), (8 * MiB, 2 * MiB)]
    assert got[0][2] == [Extent(3 * MiB, MiB, 100)]
    assert got[1][2] == [Extent(4 * MiB, 2 * MiB, 100 + MiB)]


def test_snapshot_is_sparse_chunked_and_restores_the_same_bytes(
    store: Store,
    account: str,
    tmp_path: Path,
    objects: Objects,
) -> None:
    agent = agent_for(store, tmp_path, objects)
    vid = available(store, account, agent, size=1)
    path = agent.backend.path(vid)
    data = pattern(9 * MiB)
    write(path, 100 * MiB + 123, data)
    write(path, 900 * MiB, b"tail")
    write(path, 500 * MiB, bytes(MiB))  # written, but zeros: nothing to store
    sid = snapshot(store, account, vid)
    assert agent.has_work()
    agent.tick()
    row = snapshot_row(store, sid)
    assert (row.state, row.progress) == ("completed", 100)
    stored = chunks(store, sid)
    assert [o for o, _, _ in stored] == [100 * MiB, 104 * MiB, 108 * MiB, 900 * MiB]
    assert all(n == 4 * MiB for _, n, _ in stored)
    assert row.data_bytes == 16 * MiB and objects.puts == 4
    # A bigger volume from it: the same bytes where they were, zeros elsewhere, still sparse.
    copy = restored(store, account, agent, sid, size=2)
    assert copy.stat().st_size == 2 << 30
    assert copy.stat().st_blocks * 512 < 32 * MiB
    with open(copy, "rb") as f:
        f.seek(100 * MiB + 123)
        assert f.read(len(data)) == data
        f.seek(900 * MiB)
        assert f.read(4) == b"tail"
        f.seek(1 << 30)
        assert f.read(4096) == bytes(4096)


@needs_qemu
def test_an_exported_volume_is_copied_through_a_backup(
    store: Store,
    account: str,
    tmp_path: Path,
    objects: Objects,
) -> None:
    agent = agent_for(store, tmp_path, objects)
    vid = available(store, account, agent)
    path = agent.backend.path(vid)
    write(path, 7 * MiB, b"live" * 1024)
    exporter = agent.exporter
    assert isinstance(exporter, QcowExporter)
    exporter.ensure()
    exporter.export(vid, path)
    sid = snapshot(store, account, vid)
    agent.take_snapshots()
    assert snapshot_row(store, sid).state == "completed"
    assert [o for o, _, _ in chunks(store, sid)] == [4 * MiB]
    assert not list((tmp_path / "volumes" / "snapshots").glob("*"))  # the backup is gone
    with open(restored(store, account, agent, sid), "rb") as f:
        f.seek(7 * MiB)
        assert f.read(4096) == b"live" * 1024


def test_an_agent_killed_mid_snapshot_starts_it_over(
    store: Store,
    account: str,
    tmp_path: Path,
    objects: Objects,
) -> None:
    agent = agent_for(store, tmp_path, objects)
    vid = available(store, account, agent)
    path = agent.backend.path(vid)
    data = pattern(40 * MiB, 13)
    write(path, 0, data)
    sid = snapshot(store, account, vid)
    objects.kill_after = 8
    with pytest.raises(Killed):
        agent.tick()
    half = snapshot_row(store, sid)
    assert half.state == "pending" and half.progress < 100
    assert len(chunks(store, sid)) < 10  # some recorded perhaps, never all
    # A new agent (its process started again) takes it over from the start.
    objects.kill_after = None
    again = agent_for(store, tmp_path, objects)
    again.tick()
    row = snapshot_row(store, sid)
    assert (row.state, row.progress, row.data_bytes) == ("completed", 100, 40 * MiB)
    stored = chunks(store, sid)
    assert [o for o, _, _ in stored] == [i * 4 * MiB for i in range(10)]
    # The first attempt's recorded blobs were freed. At most those stored in the instant
    # before a kill, their rows not yet written, are left behind (no row names them).
    assert len(stored) <= len(objects.blob_ids()) <= len(stored) + 2 * UPLOADS
    with open(restored(store, account, again, sid), "rb") as f:
        assert f.read(len(data)) == data


def test_a_snapshot_deleted_while_taken_leaves_no_chunk_or_blob(
    store: Store,
    account: str,
    tmp_path: Path,
    objects: Objects,
) -> None:
    agent = agent_for(store, tmp_path, objects)
    vid = available(store, account, agent)
    write(agent.backend.path(vid), 0, pattern(12 * MiB))
    sid = snapshot(store, account, vid)

    def delete_it(puts: int) -> None:
        if puts == 2:  # what DeleteSnapshot does, between two chunks
            with store.session() as s:
                blobs = [c.blob_id for c in s.query(Ec2SnapshotChunk).filter_by(snapshot_id=sid)]
                s.query(Ec2SnapshotChunk).filter_by(snapshot_id=sid).delete()
                s.query(Ec2Snapshot).filter_by(id=sid).delete()
            for b in blobs:
                objects.delete(b)

    objects.on_put = delete_it
    agent.tick()
    assert chunks(store, sid) == []
    assert objects.blob_ids() == set()
    assert not agent.has_work()


def test_a_volume_whose_file_is_gone_fails_the_snapshot(
    store: Store,
    account: str,
    tmp_path: Path,
    objects: Objects,
) -> None:
    agent = agent_for(store, tmp_path, objects)
    vid = available(store, account, agent)
    os.unlink(agent.backend.path(vid))
    sid = snapshot(store, account, vid)
    agent.tick()
    row = snapshot_row(store, sid)
    assert row.state == "error" and row.status_message
    assert not agent.has_work()


@needs_qemu
def test_the_daemon_backs_up_a_volume_it_exports(tmp_path: Path) -> None:
    daemon = StorageDaemon(tmp_path / "run")
    try:
        backend = OverlayBackend(tmp_path / "volumes")
        vid = "vol-0123456789abcdef0"
        path = backend.create(vid, 1)
        write(path, 3 * MiB, b"q" * 8192)
        daemon.ensure()
        daemon.export(vid, path)
        target = tmp_path / "volumes" / "snapshots" / "snap-1.qcow2"
        daemon.backup(vid, target, 1 << 30)
        daemon.backup(vid, target, 1 << 30)  # again: the first one's node is gone
        out = subprocess.run(
            ["qemu-img", "compare", "-f", "raw", "-F", "qcow2", str(path), str(target)],
            capture_output=True,
            text=True,
            check=False,
        )
        assert out.returncode == 0, out.stdout + out.stderr
        assert target.stat().st_size < 8 * MiB
    finally:
        daemon.stop()
