"""EBS volumes hot-plugged into a running QEMU over QMP.

How QEMU opens a volume depends on the backend it was made on (`blockdev_options`): an
`overlay` volume is the storage host's NBD export, a `ceph-rbd` one is its RBD image, which
QEMU's rbd driver opens straight from the Ceph cluster. Plugging is `blockdev-add` (a block
node named after the volume) then `device_add` (a virtio-blk-pci disk, id `dev-<volume>`);
unplugging is `device_del`, the guest's DEVICE_DELETED, then `blockdev-del`. What a VM has
plugged is read back from QEMU itself (its block nodes and peripherals), so a new agent adopts
it as it is.

The guest finds a volume by its disk's serial: the volume id without its dash, exactly the 20
characters virtio-blk keeps (as AWS's NVMe volumes do); device names (/dev/vdb) follow the
order of plugging, not the name AttachVolume was given.
"""

from __future__ import annotations

import contextlib
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mallee.qmp import Qmp, QmpError

PREFIX = "vol-"
# How long a detach waits for the guest to let go of the disk, per attempt (the agent tries
# again on its next pass).
RELEASE_WAIT = 10.0
# The NBD client reconnects for this long when the storage daemon restarts, holding guest I/O
# meanwhile instead of failing it.
RECONNECT_DELAY = 30


@dataclass(frozen=True, slots=True)
class NbdVolume:
    """An `overlay` volume: its attachment's export (nbd_export_name; "": the volume id) on
    the storage host's NBD socket."""

    socket: str
    export: str = ""


@dataclass(frozen=True, slots=True)
class RbdVolume:
    """A `ceph-rbd` volume: the image named after it in `pool`, reached with the Ceph client
    configuration `conf` (its monitors, and the keyring of `user` when the cluster uses cephx)
    as client `user`."""

    pool: str
    conf: str
    user: str


VolumeSource = NbdVolume | RbdVolume


def blockdev_options(
    volume_id: str, source: VolumeSource, node_name: str | None = None
) -> dict[str, Any]:
    """The `blockdev-add` arguments (also `-blockdev`'s JSON) that open the volume's bytes as
    the block node `node_name` (the volume id unless given)."""
    node: dict[str, Any] = {"node-name": node_name or volume_id}
    if isinstance(source, RbdVolume):
        return {
            **node,
            "driver": "rbd",
            "pool": source.pool,
            "image": volume_id,
            "conf": source.conf,
            "user": source.user,
        }
    return {
        **node,
        "driver": "nbd",
        "server": {"type": "unix", "path": source.socket},
        "export": source.export or volume_id,
        "reconnect-delay": RECONNECT_DELAY,
    }


def boot_args(volume_id: str, source: VolumeSource) -> list[str]:
    """QEMU arguments that start a VM with the volume plugged, exactly as `plug` would plug it
    (same block node, device id and serial), so what a VM has plugged reads the same."""
    device = f"virtio-blk-pci,drive={volume_id},id={_device(volume_id)},serial={serial(volume_id)}"
    return ["-blockdev", json.dumps(blockdev_options(volume_id, source)), "-device", device]


def serial(volume_id: str) -> str:
    return volume_id.replace("-", "")[:20]


def _device(volume_id: str) -> str:
    return f"dev-{volume_id}"


def _nodes(q: Qmp) -> set[str]:
    found: list[dict[str, Any]] = q.execute("query-named-block-nodes")
    return {
        str(n.get("node-name")) for n in found if str(n.get("node-name", "")).startswith(PREFIX)
    }


def _devices(q: Qmp) -> set[str]:
    found: list[dict[str, Any]] = q.execute("qom-list", path="/machine/peripheral")
    return {str(d["name"])[4:] for d in found if str(d.get("name", "")).startswith(_device(PREFIX))}


def plugged(qmp_path: Path) -> dict[str, bool]:
    """Volume id -> whether its disk is in the VM (False: only its block node is left)."""
    with Qmp(qmp_path) as q:
        nodes, devices = _nodes(q), _devices(q)
    return {v: v in devices for v in nodes | devices}


def plug(qmp_path: Path, volume_id: str, source: VolumeSource) -> None:
    """Open the volume's bytes and add its disk (each part only when missing)."""
    with Qmp(qmp_path, timeout=15.0) as q:
        if volume_id not in _nodes(q):
            q.execute("blockdev-add", **blockdev_options(volume_id, source))
        if volume_id not in _devices(q):
            q.execute(
                "device_add",
                driver="virtio-blk-pci",
                id=_device(volume_id),
                drive=volume_id,
                serial=serial(volume_id),
            )


def unplug(qmp_path: Path, volume_id: str, wait: float = RELEASE_WAIT) -> bool:
    """Remove the disk and its block node; False while the guest still holds the disk after
    `wait` seconds (the caller asks again later).

    A disk the guest holds on to cannot be taken away (QEMU unplugs a PCI device only when the
    guest ejects it), and its block node cannot go before it: dropping the node's connection
    instead would let its NBD client reconnect once the volume is exported to another VM.
    """
    with Qmp(qmp_path, timeout=15.0) as q:
        if volume_id in _devices(q):
            # Repeated while an earlier unplug is pending, QEMU refuses: the wait still works.
            with contextlib.suppress(QmpError):
                q.execute("device_del", id=_device(volume_id))
            deadline = time.monotonic() + wait
            while volume_id in _devices(q):
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                # Two DEVICE_DELETED come per disk (its virtio backend, then the device).
                with contextlib.suppress(QmpError):
                    q.wait_event("DEVICE_DELETED", left)
        if volume_id in _nodes(q):
            node: dict[str, Any] = {"node-name": volume_id}
            q.execute("blockdev-del", **node)
    return True
