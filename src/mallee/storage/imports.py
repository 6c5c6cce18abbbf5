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
midway finds its claimed task still active and starts it over: every step rewrites its files,
and what the killed attempt left running is killed first (mallee.storage.import_children).

The work runs off the agent's tick, each task in a thread of its own (its heavy parts are
qemu-img and rbd processes and file I/O), at most `workers` at once per agent, so one account's
imports never hold up another's CreateVolume; the tick only starts, cancels and reaps them, and
claims no more tasks than it has room for (fewest running per account first), leaving the rest
to the zone's other agents. An image is bounded before it is converted: its virtual size (the
volume's size; for a snapshot AWS's 16 TiB EBS maximum and what the zone could hold) and the
room its files need on the storage host's file system (the task fails, the agent goes on).
An imported volume is made on the zone's backend (`<zone>.storage.blockstoragemanager`, as a
new volume), recorded on its row before any data is written, so a restart uses the same one.
"""

from __future__ import annotations

import json
import logging
import math
import os
import shutil
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar, cast

from sqlalchemy import and_, delete, or_, select, update
from sqlalchemy.engine import CursorResult
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from mallee.commands import CommandError, run
from mallee.storage import import_children
from mallee.storage import import_launch as launch
from mallee.storage.backends import Backends, VolumeBackend, chosen
from mallee.storage.snapshots import Snapshots, VolumeReader, file_extents, read_piece
from mallee.store import Store
from mallee.store.tables.ebs import Ec2Snapshot, Ec2Volume, StorageHost
from mallee.store.tables.ec2 import Ec2Tag
from mallee.store.tables.imports import Ec2ImportTask
from mallee.store.tables.s3 import S3Object

log = logging.getLogger(__name__)
T = TypeVar("T")

# API format -> qemu's driver name.
DRIVERS = {"RAW": "raw", "VMDK": "vmdk", "VHD": "vpc", "QCOW2": "qcow2"}
GIB = 1 << 30
# qemu-img check: 0 clean, 3 leaked clusters only (harmless), 63 no check for the format.
_CHECK_OK = (0, 3, 63)
CONVERT_TIMEOUT = 6 * 3600.0
# Conversions at once per agent: each is a qemu-img process busy on a core.
WORKERS = 2
# AWS's largest EBS volume, so the largest snapshot an image may become.
MAX_SNAPSHOT_GIB = 16384
# Left free on the storage host's file system whatever an import needs.
FREE_MARGIN = 256 << 20


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


def data_bytes(path: Path, fmt: str) -> int:
    """At most what the image's data takes once converted to a sparse raw file (what qemu-img
    says a qcow2 of it needs: its allocated clusters, never its virtual size)."""
    try:
        out = run(
            ["qemu-img", "measure", "-f", DRIVERS[fmt], "-O", "qcow2", "--output=json", str(path)]
        ).stdout
    except CommandError as err:
        raise ImageRejected(f"not a valid {fmt} image: {_last_line(err.stderr)}") from None
    return int(json.loads(out)["required"])


def convert(
    src: Path, fmt: str, dest: Path, started: list[subprocess.Popen[bytes]] | None = None
) -> None:
    """`src` (read as `fmt`, never probed) as a sparse raw file at `dest`, by a qemu-img whose
    pid is in the work directory while it runs (and in `started`, for a cancel to kill)."""
    dest.unlink(missing_ok=True)
    argv = ["qemu-img", "convert", "-f", DRIVERS[fmt], "-O", "raw", str(src), str(dest)]
    try:
        import_children.run_tracked(argv, dest.parent, CONVERT_TIMEOUT, started or [])
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
    details: str = "{}"
    account_id: str = ""


def _task(r: Ec2ImportTask) -> _Task:
    return _Task(
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
        r.details,
        r.account_id,
    )


def _fair(items: list[T], load: Counter[str], count: int, account: Callable[[T], str]) -> list[T]:
    """Up to `count` of `items` (in their order), each time of the account with the fewest
    picked or running (`load`, counted up as they are picked), so that no account's many
    tasks keep another's waiting."""
    left, picked = list(items), list[T]()
    while left and len(picked) < count:
        best = min(range(len(left)), key=lambda i: (load[account(left[i])], i))
        item = left.pop(best)
        load[account(item)] += 1
        picked.append(item)
    return picked


@dataclass(eq=False)
class _Running:
    """A task being worked on in a thread of this agent."""

    task: _Task
    thread: threading.Thread | None = None
    # What the work raised past its own handling (the database failing, or a kill in tests).
    error: BaseException | None = None
    # Its qemu-img while one runs (killed when the task is cancelled).
    children: list[subprocess.Popen[bytes]] = field(default_factory=list)
    cancelled: bool = False


class Imports:
    """The import work of one storage agent: its tick calls run(), the work runs in threads."""

    def __init__(
        self,
        store: Store,
        *,
        name: str,
        zone: str,
        backends: Backends,
        workdir: Path,
        snapshots: Snapshots,
        workers: int = WORKERS,
    ) -> None:
        self.store = store
        self.name = name
        self.zone = zone
        self.backends = backends
        # Where images are fetched and converted (on the storage host's volume file system).
        self.workdir = workdir
        self.snapshots = snapshots
        self.workers = max(1, workers)
        self._running: dict[str, _Running] = {}
        # Bytes each running task's next step needs on the work file system.
        self._reserved: dict[str, int] = {}
        self._room_lock = threading.Lock()

    # --- the tick's part ------------------------------------------------------------------

    def _claimable(self) -> Any:
        t = Ec2ImportTask
        return and_(
            t.state == "active",
            t.storage_host == "",
            or_(t.availability_zone == self.zone, t.availability_zone == ""),
        )

    def running(self) -> list[str]:
        """The tasks this agent works on now."""
        return list(self._running)

    def has_work(self) -> bool:
        if any(r.thread is not None and not r.thread.is_alive() for r in self._running.values()):
            return True  # a task ended: reap it
        t = Ec2ImportTask
        waiting = and_(
            t.storage_host == self.name,
            t.state.in_(("active", "cancelling")),
            t.id.not_in(list(self._running)),
        )
        wanted = or_(self._claimable(), waiting) if self._room() else waiting
        with self.store.read() as s:
            return s.execute(select(t.id).where(wanted).limit(1)).first() is not None

    def _room(self) -> int:
        return self.workers - len(self._running)

    def run(self) -> None:
        """Reap ended work, kill the processes of cancelled work, claim as many tasks as there
        is room for and start them; let go the cancelled ones not running."""
        self._reap()
        t = Ec2ImportTask
        with self.store.read() as s:
            rows = list(
                s.scalars(
                    select(t)
                    .where(t.storage_host == self.name, t.state.in_(("active", "cancelling")))
                    .order_by(t.created_at)
                )
            )
            mine = [_task(r) for r in rows]
        for task in mine:
            running = self._running.get(task.id)
            if running is not None and task.state == "cancelling" and not running.cancelled:
                running.cancelled = True
                for child in list(running.children):
                    child.kill()
        waiting = [x for x in mine if x.id not in self._running]
        for task in waiting:
            if task.state == "cancelling":
                self._let_go(task, None)
        ready = [x for x in waiting if x.state == "active"]
        ready += self._claim(self._room() - len(ready))
        load = Counter(r.task.account_id for r in self._running.values())
        for task in _fair(ready, load, self._room(), lambda x: x.account_id):
            self._start(task)

    def _claim(self, count: int) -> list[_Task]:
        if count <= 0:
            return []
        t = Ec2ImportTask
        load = Counter(r.task.account_id for r in self._running.values())
        with self.store.read() as s:
            found = s.execute(
                select(t.id, t.account_id)
                .where(self._claimable())
                .order_by(t.created_at)
                .limit(max(100, count * 10))
            ).all()
        claimed: list[_Task] = []
        # In the fair order; one another agent takes meanwhile is passed over.
        for task_id, _ in _fair(list(found), load, len(found), lambda row: str(row[1])):
            if len(claimed) == count:
                break
            with self.store.session() as s:
                taken = _changed(
                    s.execute(
                        update(t)
                        .where(t.id == task_id, t.state == "active", t.storage_host == "")
                        .values(storage_host=self.name)
                    )
                )
                row = s.get(t, task_id) if taken else None
                if row is not None:
                    claimed.append(_task(row))
        return claimed

    def _start(self, task: _Task) -> None:
        running = _Running(task)
        running.thread = threading.Thread(
            target=self._work, args=(running,), name=f"import {task.id}", daemon=True
        )
        self._running[task.id] = running
        running.thread.start()

    def _work(self, running: _Running) -> None:
        try:
            self.process(running.task, running.children)
        except BaseException as err:  # handed to the tick that reaps it
            running.error = err

    def _reap(self) -> None:
        ended = [
            r for r in self._running.values() if r.thread is not None and not r.thread.is_alive()
        ]
        for running in ended:
            del self._running[running.task.id]
            error = running.error
            if error is None:
                continue
            if not isinstance(error, Exception):
                raise error
            # The database failed it (or a bug): the task is still this agent's and active,
            # so a later tick starts it over.
            log.warning("%s: import interrupted: %s", running.task.id, error)

    def join(self, timeout: float | None = None) -> None:
        """Wait for the work running now to end (it is reaped by the next run())."""
        for running in list(self._running.values()):
            if running.thread is not None:
                running.thread.join(timeout)

    def stop(self) -> None:
        """The agent is stopping: kill the conversions it runs (the next agent starts their
        tasks over; its pid files would find them otherwise)."""
        for running in list(self._running.values()):
            for child in list(running.children):
                child.kill()

    # --- one task (in its thread) -----------------------------------------------------------

    def process(self, task: _Task, children: list[subprocess.Popen[bytes]] | None = None) -> None:
        work = self.workdir / task.id
        started = children if children is not None else []
        try:
            if work.exists():
                # An attempt this agent was killed in may have left its qemu-img running.
                import_children.kill_leftovers(work)
            shutil.rmtree(work, ignore_errors=True)
            work.mkdir(parents=True)
            if task.kind == "import-volume":
                self._import_volume(task, work, started)
            elif task.kind == "import-snapshot":
                self._import_snapshot(task, work, started)
            elif task.kind == "import-instance":
                self._import_instance(task, work, started)
            elif task.kind == "import-image":
                self._import_image(task, work, started)
        except SQLAlchemyError:
            raise  # the database, not the task: a later tick starts it over
        except _Lost as lost:
            self._let_go(task, str(lost) or None)
        except ImageRejected as err:
            log.info("%s: %s", task.id, err)
            self._let_go(task, str(err))
        except Exception as err:
            log.warning("%s: import failed: %s", task.id, err)
            self._let_go(task, f"import failed: {err}")
        finally:
            with self._room_lock:
                self._reserved.pop(task.id, None)
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

    def _reserve(self, task_id: str, need: int, what: str) -> None:
        """Room for `need` more bytes on the work file system, beside what the other running
        tasks said they need; ImageRejected (the task fails, not the agent) without it."""
        with self._room_lock:
            others = sum(n for t, n in self._reserved.items() if t != task_id)
            free = shutil.disk_usage(self.workdir).free
            if need + others + FREE_MARGIN > free:
                raise ImageRejected(
                    f"the storage host has no room to {what} the image: it needs {need} "
                    f"bytes, {max(0, free - others - FREE_MARGIN)} are free"
                )
            self._reserved[task_id] = need

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

    def _snapshot_limit(self) -> list[tuple[int, str]]:
        """The bounds a snapshot's image must fit, checked in this order (the first one it
        exceeds is the reason given): AWS's EBS maximum, then what the zone could hold."""
        bounds = [(MAX_SNAPSHOT_GIB * GIB, f"the {MAX_SNAPSHOT_GIB} GiB an EBS volume may hold")]
        with self.store.read() as s:
            capacity = s.scalar(
                select(StorageHost.capacity_bytes)
                .where(StorageHost.zone == self.zone)
                .order_by(StorageHost.capacity_bytes.desc())
                .limit(1)
            )
        if capacity:
            gib = int(capacity) >> 30
            bounds.append((gib * GIB, f"what availability zone {self.zone} could hold ({gib} GiB)"))
        return bounds

    def _prepare(
        self,
        task: _Task,
        work: Path,
        bounds: list[tuple[int, str]],
        started: list[subprocess.Popen[bytes]],
    ) -> tuple[Path, int]:
        """Fetch, check, bound and convert: the raw file and the image's virtual size."""
        src = work / "image"
        self._reserve(task.id, task.image_bytes, "fetch")
        self._fetch(task, src)
        self._progress(task.id, status_message="Converting")
        virtual = inspect(src, task.image_format)
        for most, why in bounds:
            if virtual > most:
                raise ImageRejected(
                    f"the image's virtual size ({virtual} bytes) is larger than {why}"
                )
        self._reserve(task.id, data_bytes(src, task.image_format), "convert")
        raw = work / "converted.raw"
        convert(src, task.image_format, raw, started)
        src.unlink()
        return raw, virtual

    def _volume_limit(self, task: _Task) -> list[tuple[int, str]]:
        return [(task.volume_size_gib * GIB, f"the volume ({task.volume_size_gib} GiB)")]

    def _volume_backend(self, task: _Task) -> VolumeBackend:
        """The backend of the task's volume: the zone's choice, recorded on the volume's row
        the first time (as the agent records a new volume's), its own after that."""
        v = Ec2Volume
        backend, pool = chosen(self.store, self.zone)
        mine = and_(
            v.id == task.volume_id, v.state == "creating", v.storage_host == marker(task.id)
        )
        with self.store.session() as s:
            s.execute(
                update(v).where(mine, v.backend == "").values(backend=backend, backend_pool=pool)
            )
            row = s.execute(select(v.backend, v.backend_pool).where(mine)).first()
        if row is None:
            raise _Lost("The volume was deleted")
        return self.backends.of(row[0], row[1])

    def _fill_volume(self, task: _Task, backend: VolumeBackend, raw: Path) -> Path:
        """The task's volume made of the converted image; the file its data is in after.
        Made whole or not at all (the backend's promise), so a crash leaves no volume that
        looks made; one made by an attempt killed before its commit is kept."""
        return backend.import_file(task.volume_id, task.volume_size_gib, raw)

    def _made_volume(self, s: Session, task: _Task, state: str) -> None:
        v = Ec2Volume
        made = _changed(
            s.execute(
                update(v)
                .where(
                    v.id == task.volume_id,
                    v.state == "creating",
                    v.storage_host == marker(task.id),
                )
                .values(state=state, storage_host=self.name)
            )
        )
        if not made:
            raise _Lost("The volume was deleted")

    def _import_volume(
        self, task: _Task, work: Path, started: list[subprocess.Popen[bytes]]
    ) -> None:
        backend = self._volume_backend(task)
        raw, _ = self._prepare(task, work, self._volume_limit(task), started)
        self._progress(task.id, status_message="Converting", bytes_converted=task.image_bytes)
        self._fill_volume(task, backend, raw)
        try:
            with self.store.session() as s:
                self._made_volume(s, task, "available")
                self._complete(s, task)
        except _Lost:
            backend.delete(task.volume_id)
            raise
        log.info("%s: %s imported", task.id, task.volume_id)

    def _copy_snapshot(self, task: _Task, raw: Path, virtual: int, gib: int) -> None:
        """The converted image as the task's snapshot's chunks (of a `gib` GiB volume)."""
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

    def _made_snapshot(self, s: Session, task: _Task) -> None:
        snap = Ec2Snapshot
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

    def _import_snapshot(
        self, task: _Task, work: Path, started: list[subprocess.Popen[bytes]]
    ) -> None:
        raw, virtual = self._prepare(task, work, self._snapshot_limit(), started)
        self._copy_snapshot(task, raw, virtual, max(1, math.ceil(virtual / GIB)))
        with self.store.session() as s:
            self._made_snapshot(s, task)
            self._complete(s, task)
        log.info("%s: %s imported", task.id, task.snapshot_id)

    def _import_instance(
        self, task: _Task, work: Path, started: list[subprocess.Popen[bytes]]
    ) -> None:
        """converting (the volume) -> snapshotting -> registering and launching, the last in
        the one transaction that completes the task, so a restart repeats no row."""
        self._progress(task.id, step="converting")
        backend = self._volume_backend(task)
        raw, virtual = self._prepare(task, work, self._volume_limit(task), started)
        self._progress(task.id, status_message="Converting", bytes_converted=task.image_bytes)
        data = self._fill_volume(task, backend, raw)
        try:
            self._progress(task.id, step="snapshotting", status_message="Snapshotting")
            self._copy_snapshot(task, data, virtual, task.volume_size_gib)
            self._progress(task.id, step="registering", status_message="Registering")
            details = json.loads(task.details or "{}")
            with self.store.session() as s:
                self._made_snapshot(s, task)
                self._made_volume(s, task, "in-use")
                image_id = launch.write_image(s, details["image"], task.snapshot_id, None)
                instance_id = launch.write_instance(s, details, task.volume_id)
                self._complete(s, task, instance_id=instance_id, image_id=image_id)
        except _Lost:
            backend.delete(task.volume_id)
            raise
        log.info("%s: %s launched (%s, %s)", task.id, instance_id, task.volume_id, image_id)

    def _import_image(
        self, task: _Task, work: Path, started: list[subprocess.Popen[bytes]]
    ) -> None:
        """converting -> snapshotting -> registering (with the task's completion)."""
        self._progress(task.id, step="converting")
        raw, virtual = self._prepare(task, work, self._snapshot_limit(), started)
        gib = max(1, math.ceil(virtual / GIB))
        self._progress(task.id, step="snapshotting", status_message="Snapshotting")
        self._copy_snapshot(task, raw, virtual, gib)
        self._progress(task.id, step="registering", status_message="Registering")
        details = json.loads(task.details or "{}")
        with self.store.session() as s:
            self._made_snapshot(s, task)
            image_id = launch.write_image(s, details["image"], task.snapshot_id, gib)
            self._complete(s, task, image_id=image_id)
        log.info("%s: %s registered of %s", task.id, image_id, task.snapshot_id)

    def _complete(self, s: Session, task: _Task, **made: str) -> None:
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
                    step="",
                    **made,
                )
            )
        )
        if not done:
            raise _Lost("")  # cancelled meanwhile: the transaction rolls back

    def _let_go(self, task: _Task, message: str | None) -> None:
        """End the task cancelled and delete what it made (its files, then its rows). A task
        the caller cancelled keeps the message its cancel wrote, whatever stopped its work."""
        shutil.rmtree(self.workdir / task.id, ignore_errors=True)
        t = Ec2ImportTask
        if task.volume_id:
            with self.store.read() as s:
                found = s.execute(
                    select(Ec2Volume.backend, Ec2Volume.backend_pool).where(
                        Ec2Volume.id == task.volume_id,
                        Ec2Volume.storage_host == marker(task.id),
                    )
                ).first()
            if found is not None:
                self.backends.of(found[0], found[1]).delete(task.volume_id)
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
            mine = and_(t.id == task.id, t.storage_host == self.name)
            s.execute(update(t).where(mine, t.state == "cancelling").values(state="cancelled"))
            values: dict[str, Any] = {"state": "cancelled"}
            if message is not None:
                values["status_message"] = message[:1000]
            s.execute(update(t).where(mine, t.state == "active").values(**values))
        log.info("%s: cancelled (%s)", task.id, message)
