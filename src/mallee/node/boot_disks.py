"""The disks an instance starts with besides its image: its EBS volumes (the root one when it
is EBS-backed) and its instance-store (ephemeral) disks.

A launch made the volumes with the instance (`creating`, attached `attaching`); a stopped
instance's volumes stay attached but unexported. Either way the VM starts only once every
volume is made (`in-use`) and exported for this attachment by its storage host: until then
the instance stays pending (`NotReady`). A volume the storage agent could not make fails the
launch (LaunchError). Once the VM runs, mallee.node.volumes finds them plugged and marks the
attachments `attached`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from sqlalchemy import select

from mallee.node.hypervisor.base import BootVolume, LaunchError
from mallee.node.volumes import volume_source
from mallee.store import Store
from mallee.store.tables.ebs import Ec2Volume, Ec2VolumeAttachment, StorageHost, nbd_export_name


class NotReady(Exception):
    """A volume of the instance is not made or not exported yet: try again next tick."""


class NoRootVolume(LaunchError):
    """An EBS-backed instance has no volume at its root device (detached while it was
    stopped): it cannot boot, but it is not lost either."""


@dataclass(frozen=True, slots=True)
class BootDisks:
    root_volume: str
    volumes: tuple[BootVolume, ...]
    ephemeral: tuple[tuple[str, int], ...]


def _root(devices: dict[str, str], root_device: str) -> str:
    """The volume at the root device (a /dev/sda1 root is also found at /dev/sda)."""
    return devices.get(root_device) or devices.get(root_device.rstrip("0123456789"), "")


def boot_disks(
    store: Store, instance_id: str, root_device: str, ebs_root: bool, mappings: str, disk_gb: int
) -> BootDisks:
    """What the instance's VM starts with; NotReady while a volume is not exported yet."""
    a, v, h = Ec2VolumeAttachment, Ec2Volume, StorageHost
    with store.read() as s:
        rows = s.execute(
            select(
                a.volume_id,
                a.device,
                a.exported,
                a.export_tag,
                v.state,
                v.status_message,
                h.nbd_socket,
                v.availability_zone,
                v.backend,
                v.backend_pool,
            )
            .join(v, v.id == a.volume_id)
            .outerjoin(h, h.name == v.storage_host)
            .where(a.instance_id == instance_id, a.state != "detaching")
            .order_by(a.device)
        ).all()
    volumes: list[BootVolume] = []
    devices: dict[str, str] = {}
    for volume_id, device, exported, tag, state, message, socket, zone, backend, pool in rows:
        if state == "error":
            raise LaunchError(f"volume {volume_id} ({device}) could not be made: {message}")
        export = nbd_export_name(volume_id, tag)
        source = volume_source(store, zone, backend, pool, socket or "", export)
        if state != "in-use" or not exported or source is None:
            raise NotReady(f"{volume_id} is {state}, {'' if exported else 'not '}exported")
        devices[device] = volume_id
        volumes.append(BootVolume(volume_id, source))
    root = _root(devices, root_device) if ebs_root else ""
    if ebs_root and not root:
        raise NoRootVolume(f"no volume is attached at the root device {root_device}")
    ephemeral = tuple(
        (str(m["VirtualName"]), disk_gb)
        for m in json.loads(mappings or "[]")
        if m.get("VirtualName")
    )
    return BootDisks(root, tuple(volumes), ephemeral)
