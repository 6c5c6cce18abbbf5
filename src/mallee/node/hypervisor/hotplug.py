"""EBS volumes hot-plugged into a running QEMU over QMP, as disks served by NBD.

Plugging is `blockdev-add` (an nbd block node, named after the volume, connected to the storage
host's NBD socket) then `device_add` (a virtio-blk-pci disk, id `dev-<volume>`); unplugging is
`device_del`, the guest's DEVICE_DELETED, then `blockdev-del`. What a VM has plugged is read
back from QEMU itself (its block nodes and peripherals), so a new agent adopts it as it is.

The guest finds a volume by its disk's serial: the volume id without its dash, exactly the 20
characters virtio-blk keeps (as AWS's NVMe volumes do); device names (/dev/vdb) follow the
order of plugging, not the name AttachVolume was given.
"""

from __future__ import annotations

import contextlib
import time
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


def plug(qmp_path: Path, volume_id: str, nbd_socket: str) -> None:
    """Connect the volume's NBD export and add its disk (each part only when missing)."""
    with Qmp(qmp_path, timeout=15.0) as q:
        if volume_id not in _nodes(q):
            node: dict[str, Any] = {
                "node-name": volume_id,
                "driver": "nbd",
                "server": {"type": "unix", "path": nbd_socket},
                "export": volume_id,
                "reconnect-delay": RECONNECT_DELAY,
            }
            q.execute("blockdev-add", **node)
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
