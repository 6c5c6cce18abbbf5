"""Snapshot data: a volume's allocated extents copied into the object store as chunks, and back.

A snapshot is a grid of CHUNK-sized pieces of the volume; only pieces holding data are stored,
each as one blob (any object backend: `objectstorage.providerclient`), listed by a chunk row
(offset -> blob). Pieces are found from the volume's allocation, as its backend tells it
(SEEK_DATA/SEEK_HOLE on an overlay volume's file, `qemu-img map` on the qcow2 a live backup
wrote, `rbd diff` of an RBD snapshot: a VolumeReader), so the work is proportional to the data
written, not to the volume's size; a piece that reads as zeros all the same is not stored.

Each chunk row is written in the same transaction as a conditional UPDATE of the snapshot that
finds it still `pending`: a snapshot deleted meanwhile gets no row (its blob is deleted at
once), and nothing but `pending` ever has a partial list. Completion is one more conditional
UPDATE after the last chunk.
"""

from __future__ import annotations

import errno
import json
import logging
import os
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

from sqlalchemy import delete, select, update
from sqlalchemy.engine import CursorResult

from mallee.commands import run
from mallee.objectstore.backends import Backend, Blob
from mallee.store import Store
from mallee.store.tables.ebs import Ec2Snapshot, Ec2SnapshotChunk

log = logging.getLogger(__name__)

# 4 MiB: a 100 MiB write is 25 blobs and 25 small transactions; a piece re-copied for a few
# changed bytes stays small.
CHUNK = 4 << 20
# Blobs stored at once (a few: the storage host has other work, and memory is 2 chunks each).
UPLOADS = 3
# Chunk blobs' kind in the object store (their ids `snap-<hex>`): the orphan sweeper lists them.
BLOB_KIND = "snap"


@dataclass(frozen=True, slots=True)
class Extent:
    """`length` bytes of data at `start` in the volume, found at `at` in the file read."""

    start: int
    length: int
    at: int


@dataclass(frozen=True, slots=True)
class VolumeReader:
    """A point-in-time view of a volume's data: its size, its data extents in ascending order,
    and a function reading one piece (offset, length, the extents' parts within it; asked in
    ascending order) with its holes as zeros. Each volume backend makes its own."""

    size: int
    extents: list[Extent]
    read: Callable[[int, int, list[Extent]], bytearray]


# Writes `data` at a byte offset of a volume being made (a snapshot restored into it).
WriteAt = Callable[[int, bytes | memoryview], None]


def file_extents(fd: int, size: int) -> list[Extent]:
    """The data extents of a sparse raw file (its holes read as zeros)."""
    out: list[Extent] = []
    offset = 0
    while offset < size:
        try:
            start = os.lseek(fd, offset, os.SEEK_DATA)
        except OSError as err:
            if err.errno == errno.ENXIO:  # no data after offset
                break
            raise
        if start >= size:
            break
        end = min(os.lseek(fd, start, os.SEEK_HOLE), size)
        out.append(Extent(start, end - start, start))
        offset = end
    return out


def qcow2_extents(path: Path) -> list[Extent]:
    """The data clusters of an uncompressed qcow2 file, and where each lies in the file."""
    mapped = json.loads(run(["qemu-img", "map", "-f", "qcow2", "--output=json", str(path)]).stdout)
    return [
        Extent(int(m["start"]), int(m["length"]), int(m["offset"]))
        for m in mapped
        if m.get("data") and not m.get("zero") and "offset" in m
    ]


def pieces(
    extents: Iterable[Extent], size: int, chunk: int = CHUNK
) -> Iterator[tuple[int, int, list[Extent]]]:
    """(offset, length, the extents' parts within it) of each grid piece holding data."""
    current: int | None = None
    parts: list[Extent] = []
    for e in extents:
        start, end = e.start, e.start + e.length
        while start < end:
            grid = start - start % chunk
            stop = min(end, grid + chunk)
            if grid != current:
                if current is not None:
                    yield current, min(chunk, size - current), parts
                current, parts = grid, []
            parts.append(Extent(start, stop - start, e.at + (start - e.start)))
            start = stop
    if current is not None:
        yield current, min(chunk, size - current), parts


def read_piece(fd: int, offset: int, length: int, parts: list[Extent]) -> bytearray:
    buf = bytearray(length)
    view = memoryview(buf)
    for p in parts:
        lo = p.start - offset
        got = os.preadv(fd, [view[lo : lo + p.length]], p.at)
        if got < p.length:
            raise OSError(errno.EIO, f"short read at {p.at}: {got} of {p.length} bytes")
    return buf


@dataclass(frozen=True, slots=True)
class _Upload:
    progress: int
    offset: int
    length: int
    put: Future[Blob]


def _changed(result: object) -> bool:
    return bool(cast("CursorResult[Any]", result).rowcount)


class Snapshots:
    """Copies volumes into snapshots and snapshots into volume files, for one storage agent."""

    def __init__(self, store: Store, objects: Callable[[], Backend], chunk: int = CHUNK) -> None:
        self.store = store
        self._objects = objects
        self._backend: Backend | None = None
        self.chunk = chunk

    @property
    def objects(self) -> Backend:
        if self._backend is None:
            self._backend = self._objects()
        return self._backend

    def discard_chunks(self, snapshot_id: str) -> None:
        """Forget what an earlier attempt copied (an agent killed mid-snapshot starts over:
        the volume may have changed since, and a snapshot is one point in time)."""
        with self.store.session() as s:
            blobs = list(
                s.scalars(
                    select(Ec2SnapshotChunk.blob_id).where(
                        Ec2SnapshotChunk.snapshot_id == snapshot_id
                    )
                )
            )
            s.execute(delete(Ec2SnapshotChunk).where(Ec2SnapshotChunk.snapshot_id == snapshot_id))
            s.execute(
                update(Ec2Snapshot)
                .where(Ec2Snapshot.id == snapshot_id, Ec2Snapshot.state == "pending")
                .values(progress=0, data_bytes=0)
            )
        self.free_unreferenced(blobs)

    def copy(self, snapshot_id: str, volume: VolumeReader) -> bool:
        """Store the pieces of the volume holding data as the snapshot's chunks, raising its
        progress as they land; False when the snapshot stopped being pending (deleted meanwhile).

        Pieces are read here and stored by UPLOADS threads at once (a blob's write, checksum
        and fsync, or its upload, wait on the disk or the network with the GIL released), and
        recorded a batch per transaction."""
        todo = list(pieces(volume.extents, volume.size, self.chunk))
        zeros = bytes(self.chunk)
        flying: deque[_Upload] = deque()
        with ThreadPoolExecutor(UPLOADS, thread_name_prefix="snapshot-put") as pool:
            try:
                for index, (offset, length, parts) in enumerate(todo, start=1):
                    data = volume.read(offset, length, parts)
                    if data == zeros[:length]:
                        continue  # allocated, but zeros: a hole reads the same
                    put = pool.submit(self.objects.put, [memoryview(data)], BLOB_KIND)
                    flying.append(_Upload(index * 100 // len(todo), offset, length, put))
                    if len(flying) >= 2 * UPLOADS:
                        batch = [flying.popleft() for _ in range(UPLOADS)]
                        if not self._record(snapshot_id, batch):
                            return False
                if flying and not self._record(snapshot_id, list(flying)):
                    return False
                flying.clear()
                return True
            finally:
                # Stored but never recorded (the snapshot was deleted, or a failure): freed.
                self._abandon(flying)

    def _record(self, snapshot_id: str, batch: list[_Upload]) -> bool:
        """Record the batch's chunks if the snapshot is still pending; else free their blobs."""
        try:
            blobs = [u.put.result() for u in batch]
        except BaseException:
            self._abandon(batch)
            raise
        with self.store.session() as s:
            kept = _changed(
                s.execute(
                    update(Ec2Snapshot)
                    .where(Ec2Snapshot.id == snapshot_id, Ec2Snapshot.state == "pending")
                    .values(
                        progress=min(99, batch[-1].progress),
                        data_bytes=Ec2Snapshot.data_bytes + sum(u.length for u in batch),
                    )
                )
            )
            if kept:
                s.add_all(
                    Ec2SnapshotChunk(
                        snapshot_id=snapshot_id, offset=u.offset, length=u.length, blob_id=b.blob_id
                    )
                    for u, b in zip(batch, blobs, strict=True)
                )
        if not kept:
            self._abandon(batch)
        return kept

    def _abandon(self, uploads: Iterable[_Upload]) -> None:
        for u in uploads:
            if u.put.exception() is not None:
                continue  # nothing was stored
            try:
                self.objects.delete(u.put.result().blob_id)
            except Exception:
                log.exception("could not free an unrecorded snapshot blob")

    def restore(self, snapshot_id: str, write: WriteAt) -> None:
        """Write the snapshot's chunks, in ascending order, into a new volume of its size."""
        with self.store.read() as s:
            chunks = s.execute(
                select(Ec2SnapshotChunk.offset, Ec2SnapshotChunk.blob_id)
                .where(Ec2SnapshotChunk.snapshot_id == snapshot_id)
                .order_by(Ec2SnapshotChunk.offset)
            ).all()
            found = s.get(Ec2Snapshot, snapshot_id)
            if found is None or found.state != "completed":
                raise OSError(errno.ENOENT, f"snapshot {snapshot_id} is not there to restore")
        for offset, blob_id in chunks:
            at = int(offset)
            for piece in self.objects.read(blob_id):
                write(at, piece)
                at += len(piece)

    def free_unreferenced(self, blob_ids: Iterable[str]) -> None:
        """Delete the blobs among these no chunk names any more (their rows committed)."""
        wanted = sorted(set(blob_ids))
        if not wanted:
            return
        still: set[str] = set()
        with self.store.read() as s:
            # In slices: every database has a limit on a statement's parameters.
            for start in range(0, len(wanted), 500):
                still |= set(
                    s.scalars(
                        select(Ec2SnapshotChunk.blob_id)
                        .where(Ec2SnapshotChunk.blob_id.in_(wanted[start : start + 500]))
                        .distinct()
                    )
                )
        for blob_id in wanted:
            if blob_id not in still:
                try:
                    self.objects.delete(blob_id)
                except Exception:
                    log.exception("could not delete snapshot blob %s", blob_id)
