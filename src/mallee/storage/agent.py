"""`mallee storage`: the storage controller of one availability zone (Eucalyptus' SC).

It makes the volume rows of its zone come true, each step a conditional UPDATE from the state
it expects, after the work it stands for is done (and that work idempotent): a volume
`creating` gets its data and becomes `available`; `deleting` loses it and becomes `deleted`; a
modification `modifying` grows it. Where the data is depends on the backend the volume was made
on (mallee.storage.backends: chosen by `<zone>.storage.blockstoragemanager` when the agent
claims a new volume, then recorded on it): a sparse file (overlay) or an RBD image (ceph-rbd).
Every overlay volume with an attachment row is exported over NBD (mallee.storage.daemon); an
RBD image needs no export, the node's QEMU opens it. Either way the attachment is marked
`exported` once the node can open the volume, so the instance's node plugs it in; a volume
whose attachment is gone is exported no more. Attachments of terminated
instances are let go here too (their volumes become available, or are deleted when the
attachment said DeleteOnTermination).

Killed at any moment and started again, the agent adopts its qemu-storage-daemon (or starts a
new one and exports again what the rows say), and repeats at most the step it was in.
"""

from __future__ import annotations

import datetime as dt
import logging
import socket
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

from sqlalchemy import and_, delete, exists, or_, select, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from mallee.config import Settings
from mallee.objectstore.backends import Backend, make_backend
from mallee.registry import components
from mallee.registry.heartbeat import Heartbeat, interval_for
from mallee.runloop import stop_on_signals, wait_for_work
from mallee.storage import upkeep
from mallee.storage.backends import Backends, Backup, CephClient, Fill, VolumeBackend, chosen
from mallee.storage.daemon import DaemonError, StorageDaemon
from mallee.storage.imports import Imports
from mallee.storage.overlay import OverlayBackend
from mallee.storage.rbd import RbdBackend
from mallee.storage.snapshots import Snapshots, WriteAt
from mallee.store import Store
from mallee.store.tables.ebs import (
    EbsReleasedVolume,
    Ec2Snapshot,
    Ec2Volume,
    Ec2VolumeAttachment,
    Ec2VolumeModification,
    StorageHost,
    export_volume,
    nbd_export_name,
)
from mallee.store.tables.ec2 import Ec2Instance, Ec2Tag

log = logging.getLogger(__name__)

TICK = 0.5
REPORT_EVERY = 5.0
# How often what the daemon really exports is asked (between, the agent's own record serves).
VERIFY_EVERY = 2.0
# Deleted volumes stay visible to nobody but are kept this long, then their rows go.
PURGE_AFTER = 3600.0
PURGE_EVERY = 60.0


class Exporter(Protocol):
    """What the agent needs of its NBD server (StorageDaemon; a fake in unit tests)."""

    @property
    def nbd_path(self) -> Path: ...

    def running(self) -> bool: ...

    def ensure(self) -> bool: ...

    def exports(self) -> set[str]: ...

    def export(self, name: str, path: Path) -> None: ...

    def unexport(self, name: str) -> None: ...

    def resize(self, volume_id: str, size: int) -> None: ...

    def backup(self, volume_id: str, target: Path, size: int) -> None: ...


def _no_objects() -> Backend:
    raise RuntimeError("this storage agent was given no object store")


class StorageAgent:
    def __init__(
        self,
        store: Store,
        *,
        name: str,
        zone: str,
        host: str,
        backend: OverlayBackend,
        exporter: Exporter,
        objects: Callable[[], Backend] = _no_objects,
        rbd: Callable[[CephClient, str], VolumeBackend] = RbdBackend,
        heartbeat_timeout: float = 30.0,
    ) -> None:
        self.store = store
        # Snapshot data lives in the object store (made on first use: an s3 backend talks to
        # its store when made).
        self.snapshots = Snapshots(store, objects)
        self.name = name
        self.zone = zone
        self.host = host
        # The overlay; a volume's own backend is `self.backends.of(...)`.
        self.backend = backend
        self.backends = Backends(store, zone, backend, rbd)
        self.exporter = exporter
        self.imports = Imports(
            store,
            name=name,
            zone=zone,
            backends=self.backends,
            workdir=backend.root / "imports",
            snapshots=self.snapshots,
        )
        self.heartbeat_timeout = heartbeat_timeout
        # What the daemon exports (export names), as last seen or made; None: ask it.
        self._exported: set[str] | None = None
        self._verified = 0.0
        self._reported = 0.0
        self._purged = 0.0
        self._swept = 0.0

    # --- the loop ---------------------------------------------------------------------------

    def tick(self, now: float | None = None) -> None:
        now = time.time() if now is None else now
        self.create_volumes()
        # Starts, cancels and reaps conversions; they run in threads of their own.
        self.imports.run()
        # Before exports: a volume not exported when its snapshot starts stays unexported (no
        # guest writes it) until the copy is done, so reading its file is point-in-time.
        self.take_snapshots()
        self.modify_volumes()
        self.release_terminated()
        self.sync_exports(now)
        self.delete_volumes(now)
        self.release_storage()
        if now - self._reported >= REPORT_EVERY:
            self._reported = now
            self.report(now)
            upkeep.fail_snapshots_of_dead_hosts(
                self.snapshots, self.name, now, self.heartbeat_timeout
            )
        if now - self._swept >= upkeep.SWEEP_EVERY:
            self._swept = now
            upkeep.sweep_orphan_blobs(self.snapshots, now)
        if now - self._purged >= PURGE_EVERY:
            self._purged = now
            self.purge(now)

    def has_work(self) -> bool:
        """Whether a volume of the zone waits for this agent (a cheap indexed read)."""
        v, a = Ec2Volume, Ec2VolumeAttachment
        waiting = select(v.id).where(
            v.availability_zone == self.zone,
            or_(
                and_(v.state.in_(("creating", "deleting")), v.storage_host.in_(("", self.name))),
                and_(
                    v.storage_host == self.name,
                    exists().where(
                        a.volume_id == v.id,
                        a.exported.is_(False),
                        # A stopped instance's volumes wait unexported for its start.
                        ~exists().where(
                            Ec2Instance.id == a.instance_id, Ec2Instance.state == "stopped"
                        ),
                    ),
                ),
            ),
        )
        snapshots = select(Ec2Snapshot.id).where(
            Ec2Snapshot.storage_host == self.name, Ec2Snapshot.state == "pending"
        )
        released = select(EbsReleasedVolume.volume_id).where(
            EbsReleasedVolume.storage_host == self.name
        )
        with self.store.read() as s:
            if any(
                s.execute(q.limit(1)).first() is not None for q in (waiting, snapshots, released)
            ):
                return True
        return self.imports.has_work()

    # --- volumes ------------------------------------------------------------------------------

    def _mine(self, s: Session, state: str, *, unclaimed: bool = False) -> list[Ec2Volume]:
        hosts = ("", self.name) if unclaimed else (self.name,)
        return list(
            s.scalars(
                select(Ec2Volume).where(
                    Ec2Volume.availability_zone == self.zone,
                    Ec2Volume.state == state,
                    Ec2Volume.storage_host.in_(hosts),
                )
            ).all()
        )

    def _backend(self, volume: Ec2Volume) -> VolumeBackend:
        return self.backends.of(volume.backend, volume.backend_pool)

    def create_volumes(self) -> None:
        with self.store.read() as s:
            waiting = [
                (v.id, v.size_gib, v.storage_host, v.snapshot_id, v.backend, v.backend_pool)
                for v in self._mine(s, "creating", unclaimed=True)
            ]
        for volume_id, size, holder, snapshot_id, backend_name, pool in waiting:
            if not holder:
                backend_name, pool = chosen(self.store, self.zone)
                if not self._claim(volume_id, backend_name, pool):
                    continue  # another storage agent of the zone took it
            fill: Fill | None = None
            if snapshot_id:

                def fill(write: WriteAt, snapshot_id: str = snapshot_id) -> None:
                    self.snapshots.restore(snapshot_id, write)

            try:
                self.backends.of(backend_name, pool).create(volume_id, size, fill)
            except OSError as err:
                log.warning("%s: cannot make it: %s", volume_id, err)
                self._move(volume_id, "creating", "error", status_message=str(err)[:1000])
                continue
            # A volume a launch made for its instance is attached from the start.
            self._move(
                volume_id, "creating", "in-use" if self._attached(volume_id) else "available"
            )

    def _attached(self, volume_id: str) -> bool:
        with self.store.read() as s:
            return s.get(Ec2VolumeAttachment, volume_id) is not None

    # --- snapshots ----------------------------------------------------------------------------

    def take_snapshots(self) -> None:
        """Copy each pending snapshot of this host's volumes into the object store. One found
        here with chunks already was being taken by an agent killed meanwhile: it starts over."""
        with self.store.read() as s:
            waiting = s.execute(
                select(Ec2Snapshot.id, Ec2Snapshot.volume_id)
                .where(Ec2Snapshot.storage_host == self.name, Ec2Snapshot.state == "pending")
                .order_by(Ec2Snapshot.started_at)
            ).all()
        for snapshot_id, volume_id in waiting:
            self.snapshots.discard_chunks(snapshot_id)
            try:
                taken = self._take(snapshot_id, volume_id)
            except SQLAlchemyError:
                raise  # the database, not the snapshot: the next tick starts it over
            except Exception as err:
                # The volume's file, the daemon, qemu-img or the object store failed it: the
                # snapshot ends in error rather than being retried for ever.
                log.warning("%s: cannot copy %s: %s", snapshot_id, volume_id, err)
                self._end_snapshot(snapshot_id, "error", status_message=str(err)[:1000])
                self.snapshots.discard_chunks(snapshot_id)
                continue
            if taken:
                self._end_snapshot(snapshot_id, "completed", progress=100)
            else:
                log.info("%s: deleted while it was being taken", snapshot_id)

    def _take(self, snapshot_id: str, volume_id: str) -> bool:
        with self.store.read() as s:
            volume = s.get(Ec2Volume, volume_id)
            if volume is None:
                raise OSError(f"volume {volume_id} is gone")
            backend = self._backend(volume)
        backup: Backup | None = None
        if backend.nbd_exported and self._exported_names(volume_id):
            # A guest may be writing it: the backend copies it as it is now, and reads that.

            def backup(target: Path, size: int) -> None:
                self.exporter.backup(volume_id, target, size)

        with backend.reader(volume_id, snapshot_id, backup) as volume_data:
            return self.snapshots.copy(snapshot_id, volume_data)

    def _end_snapshot(self, snapshot_id: str, state: str, **values: Any) -> None:
        with self.store.session() as s:
            done = s.execute(
                update(Ec2Snapshot)
                .where(Ec2Snapshot.id == snapshot_id, Ec2Snapshot.state == "pending")
                .values(state=state, **values)
            )
        if getattr(done, "rowcount", 0):
            log.info("%s: pending -> %s", snapshot_id, state)

    def _claim(self, volume_id: str, backend: str, pool: str) -> bool:
        with self.store.session() as s:
            done = s.execute(
                update(Ec2Volume)
                .where(Ec2Volume.id == volume_id, Ec2Volume.storage_host == "")
                .values(storage_host=self.name, backend=backend, backend_pool=pool)
            )
            return bool(getattr(done, "rowcount", 0))

    def _move(self, volume_id: str, expected: str, new: str, **values: Any) -> bool:
        with self.store.session() as s:
            done = s.execute(
                update(Ec2Volume)
                .where(Ec2Volume.id == volume_id, Ec2Volume.state == expected)
                .values(state=new, **values)
            )
            moved = bool(getattr(done, "rowcount", 0))
        if moved:
            log.info("%s: %s -> %s", volume_id, expected, new)
        return moved

    def delete_volumes(self, now: float) -> None:
        with self.store.read() as s:
            waiting = [
                (v.id, v.storage_host, self._backend(v))
                for v in self._mine(s, "deleting", unclaimed=True)
            ]
        for volume_id, holder, backend in waiting:
            if holder == self.name:
                self._unexport_volume(volume_id)
                backend.delete(volume_id)
            # A volume no agent claimed has no data anywhere: only its row changes.
            self._move(volume_id, "deleting", "deleted", deleted_at=now)

    def modify_volumes(self) -> None:
        with self.store.read() as s:
            waiting = s.execute(
                select(
                    Ec2VolumeModification.volume_id,
                    Ec2VolumeModification.target_size,
                    Ec2Volume.backend,
                    Ec2Volume.backend_pool,
                )
                .join(Ec2Volume, Ec2Volume.id == Ec2VolumeModification.volume_id)
                .where(
                    Ec2Volume.storage_host == self.name,
                    Ec2Volume.state.in_(("available", "in-use")),
                    Ec2VolumeModification.state == "modifying",
                )
            ).all()
        for volume_id, target, backend_name, pool in waiting:
            fields: dict[str, Any] = {"progress": 100, "ended_at": _utcnow()}
            try:
                self.backends.of(backend_name, pool).grow(volume_id, target)
                if self._exported_names(volume_id):
                    self.exporter.resize(volume_id, target << 30)
                fields["state"] = "completed"
            except (OSError, DaemonError) as err:
                fields.update(state="failed", status_message=str(err)[:1000])
            with self.store.session() as s:
                mod = s.get(Ec2VolumeModification, volume_id)
                if mod is None or mod.state != "modifying":
                    continue
                for key, value in fields.items():
                    setattr(mod, key, value)
                if fields["state"] == "completed":
                    s.execute(
                        update(Ec2Volume)
                        .where(Ec2Volume.id == volume_id)
                        .values(size_gib=mod.target_size, volume_type=mod.target_type)
                    )

    def release_terminated(self) -> None:
        """Attachments of instances that are terminated (or gone) end; their volumes become
        available, or are deleted when the attachment said DeleteOnTermination."""
        a, v, i = Ec2VolumeAttachment, Ec2Volume, Ec2Instance
        with self.store.read() as s:
            ended = s.execute(
                select(a.volume_id, a.delete_on_termination)
                .join(v, v.id == a.volume_id)
                .outerjoin(i, i.id == a.instance_id)
                .where(
                    v.availability_zone == self.zone, or_(i.id.is_(None), i.state == "terminated")
                )
            ).all()
        for volume_id, delete_it in ended:
            with self.store.session() as s:
                gone = s.execute(delete(a).where(a.volume_id == volume_id))
                if not getattr(gone, "rowcount", 0):
                    continue
                s.execute(
                    update(v)
                    # A launch's volume may end before it was made (creating): deleted too.
                    .where(
                        v.id == volume_id,
                        v.state.in_(("in-use", "creating") if delete_it else ("in-use",)),
                    )
                    .values(state="deleting" if delete_it else "available")
                )
            log.info(
                "%s: its instance ended; %s", volume_id, "deleting" if delete_it else "available"
            )

    def release_storage(self) -> None:
        """Delete the files of this host's volumes whose rows went with their account
        (ebs_released_volumes); each row goes once its file is gone."""
        r = EbsReleasedVolume
        with self.store.read() as s:
            found = list(
                s.scalars(select(r.volume_id).where(r.storage_host == self.name).limit(500))
            )
        for volume_id in found:
            self._unexport_volume(volume_id)
            self.backend.delete(volume_id)
            with self.store.session() as s:
                s.execute(delete(r).where(r.volume_id == volume_id))
            log.info("%s: its account was deleted; its file is gone", volume_id)

    # --- exports ------------------------------------------------------------------------------

    def _exported_names(self, volume_id: str) -> list[str]:
        return [e for e in self._exports() if export_volume(e) == volume_id]

    def _unexport_volume(self, volume_id: str) -> None:
        for name in self._exported_names(volume_id):
            self.exporter.unexport(name)
            self._exports().discard(name)

    def forget_exports(self) -> None:
        """Ask the daemon again what it exports (after a failure: it may have restarted)."""
        self._exported = None

    def _exports(self) -> set[str]:
        if self._exported is None and not self.exporter.running():
            self._exported = set()
            self._verified = time.monotonic()
        if self._exported is None:
            self._exported = self.exporter.exports()
            self._verified = time.monotonic()
        return self._exported

    def sync_exports(self, now: float) -> None:
        """Export every attachment of this host's NBD-served volumes, each under a name of its
        own (nbd_export_name); stop exporting the others. An attachment is ready for its node
        once its export is there, or, on a backend the node's QEMU opens itself (ceph-rbd),
        once the volume exists."""
        if time.monotonic() - self._verified >= VERIFY_EVERY:
            self._exported = None
        a, v = Ec2VolumeAttachment, Ec2Volume
        with self.store.read() as s:
            found = s.execute(
                select(a.volume_id, a.export_tag, a.exported, v.backend, v.backend_pool)
                .join(v, v.id == a.volume_id)
                .where(v.storage_host == self.name, v.state == "in-use")
                # A stopped instance has no VM: its volumes are exported again when it starts.
                .where(
                    ~exists().where(Ec2Instance.id == a.instance_id, Ec2Instance.state == "stopped")
                )
            ).all()
            idle = s.scalars(
                select(a.volume_id)
                .join(Ec2Instance, Ec2Instance.id == a.instance_id)
                .where(a.exported.is_(True), Ec2Instance.state == "stopped")
            ).all()
        rows, direct = [], []
        for vid, tag, done, backend_name, pool in found:
            backend = self.backends.of(backend_name, pool)
            if backend.nbd_exported:
                rows.append((vid, tag, done))
            elif not done and backend.exists(vid):
                direct.append(vid)
        if idle:
            with self.store.session() as s:
                s.execute(
                    update(a)
                    .where(
                        a.volume_id.in_(list(idle)),
                        exists().where(
                            Ec2Instance.id == a.instance_id, Ec2Instance.state == "stopped"
                        ),
                    )
                    .values(exported=False)
                )
        # export name -> (volume, whether its row says exported)
        wanted = {nbd_export_name(vid, tag): (vid, done) for vid, tag, done in rows}
        if wanted and self.exporter.ensure():
            self._exported = set()  # a new daemon: it exports nothing yet
        have = self._exports()
        # Stale exports first: a client of an earlier attachment is cut off before the volume
        # is served again.
        for name in sorted(have - set(wanted)):
            self.exporter.unexport(name)
            have.discard(name)
        for name in sorted(set(wanted) - have):
            path = self.backend.path(wanted[name][0])
            if not path.exists():
                log.warning("%s: attached, but its file is missing", wanted[name][0])
                continue
            self.exporter.export(name, path)
            have.add(name)
        ready = [vid for name, (vid, done) in wanted.items() if not done and name in have]
        ready += direct
        if ready:
            # Not for an instance that stopped since the read: its export may be withdrawn by
            # the next pass, and its node must wait for the one after its start.
            stopped = exists().where(
                Ec2Instance.id == a.instance_id, Ec2Instance.state == "stopped"
            )
            with self.store.session() as s:
                s.execute(update(a).where(a.volume_id.in_(ready), ~stopped).values(exported=True))

    # --- what the agent reports ---------------------------------------------------------------

    def report(self, now: float) -> None:
        with self.store.session() as s:
            s.merge(
                StorageHost(
                    name=self.name,
                    zone=self.zone,
                    host=self.host,
                    nbd_socket=str(self.exporter.nbd_path),
                    capacity_bytes=self._capacity(),
                    reported_at=now,
                )
            )

    def _capacity(self) -> int:
        """What the backend new volumes go to could hold; 0 (no limit known) when it does not
        answer, so a Ceph cluster that is away does not stop the report."""
        try:
            return self.backends.chosen().capacity_bytes()
        except OSError as err:
            log.warning("cannot learn the capacity of the zone's backend: %s", err)
            return 0

    def purge(self, now: float) -> None:
        """Rows of volumes deleted long ago (their tags with them)."""
        with self.store.session() as s:
            old = list(
                s.scalars(
                    select(Ec2Volume.id).where(
                        Ec2Volume.storage_host.in_(("", self.name)),
                        Ec2Volume.state == "deleted",
                        Ec2Volume.deleted_at < now - PURGE_AFTER,
                    )
                ).all()
            )
            if old:
                s.execute(delete(Ec2Tag).where(Ec2Tag.resource_id.in_(old)))
                s.execute(delete(Ec2Volume).where(Ec2Volume.id.in_(old)))


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(microsecond=0)


def storage_name(settings: Settings) -> str:
    return settings.service_name or f"storage-{socket.gethostname()}"


def run_storage(settings: Settings) -> int:
    store = Store(settings.database_url)
    host = socket.gethostname()
    name = storage_name(settings)
    volumes = settings.data_dir / "volumes"
    daemon = StorageDaemon(volumes / "run")
    agent = StorageAgent(
        store,
        name=name,
        zone=settings.zone,
        host=host,
        backend=OverlayBackend(volumes),
        exporter=daemon,
        objects=lambda: make_backend(settings, store),
        heartbeat_timeout=float(settings.heartbeat_timeout),
    )
    # 8773 as Eucalyptus' SC (the agent listens on no port of its own; the registry wants one).
    service_id = components.register_self(
        store, type="storage", name=name, host=host, port=8773, partition=settings.zone
    )
    adopted = daemon.pid()
    how = f"adopting qemu-storage-daemon {adopted}" if adopted else "starting its NBD server"
    log.info("storage %s up for zone %s (%s)", name, settings.zone, how)
    beat = Heartbeat(store, service_id, interval=interval_for(settings.heartbeat_timeout))
    beat.start()
    stop = stop_on_signals()
    try:
        while not stop.is_set():
            try:
                agent.tick()
            except Exception:
                # One failed pass (the database away, the daemon restarting) must not end the
                # agent; the next pass starts from the rows again.
                log.exception("storage tick failed")
                agent.forget_exports()
            wait_for_work(stop, TICK, agent.has_work)
    finally:
        # The daemon keeps serving the nodes' volumes: the next agent adopts it.
        agent.imports.stop()
        beat.stop()
        store.dispose()
    return 0
