"""Image import in the storage agent: conversion tasks (ImportVolume) and import tasks
(ImportSnapshot) made true from their rows (mallee.store.tables.imports).

An agent claims an active task of its zone (a snapshot's: any agent) with a conditional UPDATE
of its `storage_host`, then:

1. fetches the task's objects (pinned by ETag when the caller asked: a changed one fails the
   task) from the object store into a work file under `volumes/imports/`;
2. checks the image with `qemu-img info`/`check`, always with an explicit `-f` (never probing:
   a raw image that looks like a qcow2 would otherwise be read as one), and refuses what would
   make qemu-img open any other file (backing files, external data files, vmdk extents) or
   whose virtual size does not fit the volume;
3. converts it with `qemu-img convert -f <format> -O raw` into a sparse raw file, which becomes
   the volume's file (renamed into place) or is copied into the snapshot's chunks;
4. in one transaction, makes the volume `available` (snapshot `completed`) and the task
   `completed`, each UPDATE conditional on the state it expects.

Any failure (a corrupt or truncated image, a missing object) ends the task `cancelled` with a
StatusMessage and deletes what it made: never a volume that reports available half made. A
task `cancelling` (the caller cancelled a claimed task) is let go the same way. An agent killed
midway finds its claimed task still active and starts it over: every step rewrites its files.
"""

from __future__ import annotations

import json
import logging
import math
import os
import shutil
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, cast

from sqlalchemy import and_, delete, or_, select, update
from sqlalchemy.engine import CursorResult
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from mallee.commands import CommandError, run
from mallee.storage.snapshots import (
    Extent,
    Snapshots,
    VolumeReader,
    WriteAt,
    file_extents,
    read_piece,
)
from mallee.store import Store
from mallee.store.tables.ebs import Ec2Snapshot, Ec2Volume
from mallee.store.tables.ec2 import Ec2Tag
from mallee.store.tables.imports import Ec2ImportTask
from mallee.store.tables.s3 import S3Object

log = logging.getLogger(__name__)

# API format -> qemu's driver name.
DRIVERS = {"RAW": "raw", "VMDK": "vmdk", "VHD": "vpc", "QCOW2": "qcow2"}
GIB = 1 << 30
# qemu-img check: 0 clean, 3 leaked clusters only (harmless), 63 no check for the format.
_CHECK_OK = (0, 3, 63)
CONVERT_TIMEOUT = 6 * 3600.0
# What a converted image is copied into its volume in.
COPY_PIECE = 4 << 20


class VolumeMaker(Protocol):
    """What imports need of the agent's volume backend."""

    def create(
        self, volume_id: str, size_gib: int, fill: Callable[[WriteAt], None] | None = None
    ) -> object: ...

    def delete(self, volume_id: str) -> None: ...


class ImageRejected(Exception):
    """The image cannot be imported; the message is the task's StatusMessage."""


class _Lost(Exception):
    """The task stopped being this agent's to finish (cancelled, or its resource deleted)."""


def _changed(result: object) -> int:
    return int(cast("CursorResult[Any]", result).rowcount)


def marker(task_id: str) -> str:
    return f"import:{task_id}"


# --- qemu-img ------------------------------------------------------------------------------


def inspect(path: Path, fmt: str) -> int:
    """The image's virtual size, read as `fmt`; ImageRejected when it is not a sound image of
    that format or would make qemu-img open another file."""
    driver = DRIVERS[fmt]
    try:
        out = run(["qemu-img", "info", "-f", driver, "--output=json", str(path)]).stdout
    except CommandError as err:
        raise ImageRejected(f"not a valid {fmt} image: {_last_line(err.stderr)}") from None
    info = json.loads(out)
    if info.get("backing-filename") or info.get("full-backing-filename"):
        raise ImageRejected(f"{fmt} images with a backing file are not imported")
    data = (info.get("format-specific") or {}).get("data") or {}
    if data.get("data-file"):
        raise ImageRejected(f"{fmt} images with an external data file are not imported")
    for extent in data.get("extents") or []:
        if extent.get("filename") not in (None, str(path)):
            raise ImageRejected(f"{fmt} images with extents in other files are not imported")
    if data.get("encrypt") or info.get("encrypted"):
        raise ImageRejected("encrypted images are not imported")
    size = info.get("virtual-size")
    if not isinstance(size, int) or size <= 0:
        raise ImageRejected(f"not a valid {fmt} image: no virtual size")
    if driver != "raw":
        checked = run(["qemu-img", "check", "-f", driver, str(path)], check=False)
        if checked.returncode not in _CHECK_OK:
            why = _last_line(checked.stderr or checked.stdout)
            raise ImageRejected(f"the {fmt} image is corrupt: {why}")
    return size


def convert(src: Path, fmt: str, dest: Path) -> None:
    """`src` (read as `fmt`, never probed) as a sparse raw file at `dest`."""
    dest.unlink(missing_ok=True)
    try:
        run(
            ["qemu-img", "convert", "-f", DRIVERS[fmt], "-O", "raw", str(src), str(dest)],
            timeout=CONVERT_TIMEOUT,
        )
    except CommandError as err:
        raise ImageRejected(
            f"the {fmt} image cannot be converted: {_last_line(err.stderr)}"
        ) from None


def _last_line(text: str) -> str:
    lines = [line.strip() for line in (text or "").splitlines() if line.strip()]
    return lines[-1][:500] if lines else "qemu-img failed"


# --- the tasks -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Task:
    id: str
    kind: str
    state: str
    image_format: str
    image_bytes: int
    parts: list[dict[str, Any]]
    volume_id: str
    volume_size_gib: int
    snapshot_id: str
    status_message: str


class Imports:
    """The import work of one storage agent (called from its tick)."""

    def __init__(
        self,
        store: Store,
        *,
        name: str,
        zone: str,
        volumes: VolumeMaker,
        workdir: Path,
        snapshots: Snapshots,
    ) -> None:
        self.store = store
        self.name = name
        self.zone = zone
        self.volumes = volumes
        # Where images are fetched and converted (on the storage host's volume file system).
        self.workdir = workdir
        self.snapshots = snapshots

    def _claimable(self) -> Any:
        t = Ec2ImportTask
        return and_(
            t.state == "active",
            t.storage_host == "",
            or_(t.availability_zone == self.zone, t.availability_zone == ""),
        )

    def has_work(self) -> bool:
        t = Ec2ImportTask
        mine = and_(t.storage_host == self.name, t.state.in_(("active", "cancelling")))
        with self.store.read() as s:
            return (
                s.execute(select(t.id).where(or_(self._claimable(), mine)).limit(1)).first()
                is not None
            )

    def run(self) -> None:
        t = Ec2ImportTask
        with self.store.read() as s:
            unclaimed = list(
                s.scalars(select(t.id).where(self._claimable()).order_by(t.created_at))
            )
        for task_id in unclaimed:
            with self.store.session() as s:
                s.execute(
                    update(t)
                    .where(t.id == task_id, t.state == "active", t.storage_host == "")
                    .values(storage_host=self.name)
                )
        with self.store.read() as s:
            rows = list(
                s.scalars(
                    select(t)
                    .where(t.storage_host == self.name, t.state.in_(("active", "cancelling")))
                    .order_by(t.created_at)
                )
            )
            tasks = [
                _Task(
                    r.id,
                    r.kind,
                    r.state,
                    r.image_format,
                    r.image_bytes,
                    json.loads(r.parts or "[]"),
                    r.volume_id,
                    r.volume_size_gib,
                    r.snapshot_id,
                    r.status_message,
                )
                for r in rows
            ]
        for task in tasks:
            if task.state == "cancelling":
                self._let_go(task, None)
                continue
            self.process(task)

    def process(self, task: _Task) -> None:
        work = self.workdir / task.id
        try:
            shutil.rmtree(work, ignore_errors=True)
            work.mkdir(parents=True)
            if task.kind == "import-volume":
                self._import_volume(task, work)
            elif task.kind == "import-snapshot":
                self._import_snapshot(task, work)
            else:
                # Phase 2's kinds are converted by the code that knows their later steps.
                return
        except SQLAlchemyError:
            raise  # the database, not the task: the next tick starts it over
        except _Lost as lost:
            self._let_go(task, str(lost) or None)
        except ImageRejected as err:
            log.info("%s: %s", task.id, err)
            self._let_go(task, str(err))
        except Exception as err:
            log.warning("%s: import failed: %s", task.id, err)
            self._let_go(task, f"import failed: {err}")
        finally:
            shutil.rmtree(work, ignore_errors=True)

    def _progress(self, task_id: str, **values: Any) -> None:
        """Record progress while the task is still active and this agent's; _Lost otherwise."""
        t = Ec2ImportTask
        with self.store.session() as s:
            kept = _changed(
                s.execute(
                    update(t)
                    .where(t.id == task_id, t.state == "active", t.storage_host == self.name)
                    .values(**values)
                )
            )
        if not kept:
            raise _Lost("")

    def _fetch(self, task: _Task, dest: Path) -> None:
        """The task's objects, each at its byte range of `dest`."""
        done = 0
        with open(dest, "wb") as out:
            for part in task.parts:
                at = int(part["start"])
                length = int(part["end"]) - at + 1
                written = 0
                for piece in self._object_data(part):
                    if written + len(piece) > length:
                        raise ImageRejected(f"{part['bucket']}/{part['key']} changed")
                    os.pwrite(out.fileno(), piece, at + written)
                    written += len(piece)
                if written != length:
                    raise ImageRejected(
                        f"{part['bucket']}/{part['key']} holds {written} bytes, not {length}"
                    )
                done += length
                self._progress(
                    task.id,
                    status_message="Downloading",
                    progress=min(50, done * 50 // max(1, task.image_bytes)),
                )
            os.fsync(out.fileno())

    def _object_data(self, part: dict[str, Any]) -> Iterator[bytes | memoryview]:
        o = S3Object
        with self.store.read() as s:
            row = s.scalars(
                select(o).where(
                    o.bucket == part["bucket"],
                    o.key == part["key"],
                    o.is_latest.is_(True),
                    o.delete_marker.is_(False),
                )
            ).first()
            if row is None:
                raise ImageRejected(f"{part['bucket']}/{part['key']} is gone")
            if part.get("etag") and row.etag != part["etag"]:
                raise ImageRejected(
                    f"{part['bucket']}/{part['key']} changed since the import began"
                )
            inline, blob_id = row.data, row.blob_id
        if inline is not None:
            yield inline
        elif blob_id:
            yield from self.snapshots.objects.read(blob_id)

    def _prepare(self, task: _Task, work: Path, limit: int | None) -> tuple[Path, int]:
        """Fetch, check and convert: the raw file and the image's virtual size."""
        src = work / "image"
        self._fetch(task, src)
        self._progress(task.id, status_message="Converting")
        virtual = inspect(src, task.image_format)
        if limit is not None and virtual > limit:
            raise ImageRejected(
                f"the image's virtual size ({virtual} bytes) is larger than the volume "
                f"({limit // GIB} GiB)"
            )
        raw = work / "converted.raw"
        convert(src, task.image_format, raw)
        src.unlink()
        return raw, virtual

    def _import_volume(self, task: _Task, work: Path) -> None:
        size = task.volume_size_gib * GIB
        raw, virtual = self._prepare(task, work, size)
        self._progress(task.id, status_message="Converting", bytes_converted=task.image_bytes)
        with open(raw, "rb") as fh:
            fd = fh.fileno()

            def fill(write: WriteAt) -> None:
                for extent in file_extents(fd, virtual):
                    for at in range(extent.start, extent.start + extent.length, COPY_PIECE):
                        n = min(COPY_PIECE, extent.start + extent.length - at)
                        write(at, memoryview(read_piece(fd, at, n, [Extent(at, n, at)])))

            # Made whole or not at all (the backend's promise), so a crash leaves no volume
            # that looks made; one made by an attempt killed before its commit is kept.
            self.volumes.create(task.volume_id, task.volume_size_gib, fill)
        v = Ec2Volume
        try:
            with self.store.session() as s:
                made = _changed(
                    s.execute(
                        update(v)
                        .where(
                            v.id == task.volume_id,
                            v.state == "creating",
                            v.storage_host == marker(task.id),
                        )
                        .values(state="available", storage_host=self.name)
                    )
                )
                if not made:
                    raise _Lost("The volume was deleted")
                self._complete(s, task)
        except _Lost:
            self.volumes.delete(task.volume_id)
            raise
        log.info("%s: %s imported", task.id, task.volume_id)

    def _import_snapshot(self, task: _Task, work: Path) -> None:
        raw, virtual = self._prepare(task, work, None)
        gib = max(1, math.ceil(virtual / GIB))
        snap = Ec2Snapshot
        with self.store.session() as s:
            s.execute(
                update(snap)
                .where(snap.id == task.snapshot_id, snap.state == "pending")
                .values(volume_size_gib=gib)
            )
        self.snapshots.discard_chunks(task.snapshot_id)
        with open(raw, "rb") as fh:
            fd = fh.fileno()
            reader = VolumeReader(
                gib * GIB, file_extents(fd, virtual), lambda o, n, p: read_piece(fd, o, n, p)
            )
            if not self.snapshots.copy(task.snapshot_id, reader):
                raise _Lost("The snapshot was deleted")
        with self.store.session() as s:
            made = _changed(
                s.execute(
                    update(snap)
                    .where(
                        snap.id == task.snapshot_id,
                        snap.state == "pending",
                        snap.storage_host == "",
                    )
                    .values(state="completed", progress=100)
                )
            )
            if not made:
                raise _Lost("The snapshot was deleted")
            self._complete(s, task)
        log.info("%s: %s imported", task.id, task.snapshot_id)

    def _complete(self, s: Session, task: _Task) -> None:
        t = Ec2ImportTask
        done = _changed(
            s.execute(
                update(t)
                .where(t.id == task.id, t.state == "active", t.storage_host == self.name)
                .values(
                    state="completed",
                    status_message="",
                    progress=100,
                    bytes_converted=task.image_bytes,
                )
            )
        )
        if not done:
            raise _Lost("")  # cancelled meanwhile: the transaction rolls back

    def _let_go(self, task: _Task, message: str | None) -> None:
        """End the task cancelled and delete what it made (its files, then its rows). Without a
        message the task keeps the one its cancel wrote."""
        shutil.rmtree(self.workdir / task.id, ignore_errors=True)
        t = Ec2ImportTask
        if task.volume_id:
            self.volumes.delete(task.volume_id)
        if task.snapshot_id:
            self.snapshots.discard_chunks(task.snapshot_id)
        with self.store.session() as s:
            if task.volume_id:
                s.execute(
                    update(Ec2Volume)
                    .where(
                        Ec2Volume.id == task.volume_id,
                        Ec2Volume.storage_host == marker(task.id),
                        Ec2Volume.state.in_(("creating", "deleting")),
                    )
                    .values(state="deleted", storage_host=self.name, deleted_at=time.time())
                )
            if task.snapshot_id:
                gone = s.execute(
                    delete(Ec2Snapshot).where(
                        Ec2Snapshot.id == task.snapshot_id,
                        Ec2Snapshot.storage_host == "",
                        Ec2Snapshot.state == "pending",
                    )
                )
                if _changed(gone):
                    s.execute(delete(Ec2Tag).where(Ec2Tag.resource_id == task.snapshot_id))
            values: dict[str, Any] = {"state": "cancelled"}
            if message is not None:
                values["status_message"] = message[:1000]
            s.execute(
                update(t)
                .where(
                    t.id == task.id,
                    t.storage_host == self.name,
                    t.state.in_(("active", "cancelling")),
                )
                .values(**values)
            )
        log.info("%s: cancelled (%s)", task.id, message)
