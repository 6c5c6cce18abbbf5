"""The node's part of EBS: plug the volumes attached to its running instances into their VMs.

From the attachment rows of this node's instances (mallee.store.tables.ebs):
- `attaching`, once the storage agent exported the volume: hot-plug it, then `attached`;
- `attached`: every few seconds, check the VM still has it (a VM started again after a crash or
  a reboot has none of its predecessor's disks) and plug it again when it does not;
- `detaching`: unplug it, then remove the row and make the volume `available` in one
  transaction (the storage agent then stops exporting it).
A volume plugged into a VM with no row for it (a detach completed while the agent was down
halfway, an attachment the storage agent released) is unplugged. What is plugged is read from
the VMs themselves, so a restarted agent carries on from what they show.
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable, Collection
from dataclasses import dataclass

from sqlalchemy import delete, select, update

from mallee.node.hypervisor.base import Hypervisor
from mallee.node.hypervisor.hotplug import NbdVolume, RbdVolume, VolumeSource
from mallee.registry import properties
from mallee.store import Store
from mallee.store.tables.ebs import Ec2Volume, Ec2VolumeAttachment, StorageHost, nbd_export_name
from mallee.store.tables.ec2 import Ec2Instance

log = logging.getLogger(__name__)

# How often the VMs with volumes are asked what they have plugged.
CHECK_EVERY = 2.0

Submit = Callable[[str, Callable[[], None]], None]


@dataclass(frozen=True, slots=True)
class Attachment:
    volume_id: str
    instance_id: str
    state: str
    exported: bool
    nbd_socket: str
    # The attachment's NBD export (nbd_export_name).
    export: str = ""
    # How QEMU opens it (volume_source); None until it can.
    source: VolumeSource | None = None


def volume_source(
    store: Store, zone: str, backend: str, pool: str, nbd_socket: str, export: str
) -> VolumeSource | None:
    """How this node's QEMU opens a volume, from its row: a ceph-rbd volume's image with the
    zone's Ceph client settings, else its attachment's NBD export; None while the storage host
    has not reported its NBD server."""
    if backend == "ceph-rbd":
        return RbdVolume(
            pool=pool,
            conf=properties.get_str(store, f"{zone}.storage.cephconfigfile"),
            user=properties.get_str(store, f"{zone}.storage.cephuser"),
        )
    return NbdVolume(nbd_socket, export) if nbd_socket else None


class VolumePlugs:
    def __init__(self, store: Store, hv: Hypervisor, node: str) -> None:
        self.store = store
        self.hv = hv
        self.node = node
        self._checked = 0.0
        # Instances that had volumes plugged at the last check: checked again even without
        # rows, so what is left of a released attachment is unplugged.
        self._with_volumes: set[str] = set()

    def attachments(self) -> list[Attachment]:
        """The attachment rows of this node's running instances (one query, every tick)."""
        a, v, i, h = Ec2VolumeAttachment, Ec2Volume, Ec2Instance, StorageHost
        with self.store.read() as s:
            found = s.execute(
                select(
                    a.volume_id,
                    a.instance_id,
                    a.state,
                    a.exported,
                    h.nbd_socket,
                    a.export_tag,
                    v.availability_zone,
                    v.backend,
                    v.backend_pool,
                )
                .join(i, i.id == a.instance_id)
                .join(v, v.id == a.volume_id)
                .outerjoin(h, h.name == v.storage_host)
                .where(i.node == self.node, i.state == "running")
            ).all()
        out = []
        for volume_id, instance_id, state, exported, socket, tag, zone, backend, pool in found:
            export = nbd_export_name(volume_id, tag)
            source = volume_source(self.store, zone, backend, pool, socket or "", export)
            out.append(
                Attachment(volume_id, instance_id, state, exported, socket or "", export, source)
            )
        return out

    def reconcile(self, alive: Collection[str], submit: Submit) -> bool:
        """Queue the steps the rows ask for; whether there were any."""
        rows = [r for r in self.attachments() if r.instance_id in alive]
        by_instance: dict[str, list[Attachment]] = {}
        for row in rows:
            by_instance.setdefault(row.instance_id, []).append(row)
        check = time.monotonic() - self._checked >= CHECK_EVERY
        if check:
            self._checked = time.monotonic()
            wanted = set(by_instance) | (self._with_volumes & set(alive))
        else:
            wanted = {
                iid
                for iid, mine in by_instance.items()
                if any(
                    r.state == "detaching" or (r.state == "attaching" and r.exported) for r in mine
                )
            }
        for instance_id in wanted:
            mine = by_instance.get(instance_id, [])
            submit(instance_id, functools.partial(self.step, instance_id, mine))
        return bool(wanted) and not check

    def step(self, instance_id: str, rows: list[Attachment]) -> None:
        """Make one VM's disks match its attachment rows."""
        plugged = self.hv.volumes(instance_id)
        if plugged:
            self._with_volumes.add(instance_id)
        else:
            self._with_volumes.discard(instance_id)
        for row in rows:
            if row.state == "attaching" and row.exported:
                self._plug(row)
                self._attached(row)
            elif row.state == "attached" and not plugged.get(row.volume_id):
                log.info(
                    "%s lost %s (a new VM process): plugging it again", instance_id, row.volume_id
                )
                self._plug(row)
            elif row.state == "detaching" and self.hv.unplug_volume(instance_id, row.volume_id):
                self._detached(row)
        known = {r.volume_id for r in rows}
        for volume_id in set(plugged) - known:
            log.info(
                "%s: %s has no attachment here any more: unplugging it", instance_id, volume_id
            )
            self.hv.unplug_volume(instance_id, volume_id)

    def _plug(self, row: Attachment) -> None:
        if row.source is None:
            raise RuntimeError(f"{row.volume_id}: its storage host has not reported its NBD server")
        self.hv.plug_volume(row.instance_id, row.volume_id, row.source)
        self._with_volumes.add(row.instance_id)

    def _attached(self, row: Attachment) -> None:
        a = Ec2VolumeAttachment
        with self.store.session() as s:
            s.execute(
                update(a)
                .where(
                    a.volume_id == row.volume_id,
                    a.instance_id == row.instance_id,
                    a.state == "attaching",
                )
                .values(state="attached")
            )
        log.info("%s: %s attached", row.instance_id, row.volume_id)

    def _detached(self, row: Attachment) -> None:
        a, v = Ec2VolumeAttachment, Ec2Volume
        with self.store.session() as s:
            gone = s.execute(
                delete(a).where(
                    a.volume_id == row.volume_id,
                    a.instance_id == row.instance_id,
                    a.state == "detaching",
                )
            )
            if getattr(gone, "rowcount", 0):
                s.execute(
                    update(v)
                    .where(v.id == row.volume_id, v.state == "in-use")
                    .values(state="available")
                )
        log.info("%s: %s detached", row.instance_id, row.volume_id)
