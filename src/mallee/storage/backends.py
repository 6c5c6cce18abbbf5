"""What the storage agent needs of a volume backend, and which backend a volume is on.

A zone's new volumes are made on the backend its property `<zone>.storage.blockstoragemanager`
names when the storage agent claims them; the volume row records it (and, for ceph-rbd, the
pool), so a later change of the property leaves existing volumes where they are. Everything
else the agent does is one path for every backend: only what is behind `VolumeBackend` differs.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from mallee.registry import properties
from mallee.storage.snapshots import VolumeReader, WriteAt
from mallee.store import Store

OVERLAY = "overlay"
CEPH_RBD = "ceph-rbd"

Fill = Callable[[WriteAt], None]
# Copies a volume that is in use, as it is at this moment, into a new qcow2 file of a size.
Backup = Callable[[Path, int], None]


class VolumeBackend(Protocol):
    @property
    def name(self) -> str:
        """What a volume on it records (`<zone>.storage.blockstoragemanager`'s value)."""

    @property
    def pool(self) -> str:
        """Where in the backend its volumes are: the Ceph pool; "" for the overlay."""

    @property
    def nbd_exported(self) -> bool:
        """Whether the nodes reach its volumes through the storage host's NBD server (else
        QEMU opens them itself, and an attachment is ready once the volume exists)."""

    def exists(self, volume_id: str) -> bool: ...

    def create(self, volume_id: str, size_gib: int, fill: Fill | None = None) -> object:
        """Make the volume, all zeros or what `fill` writes; it exists only once whole, and a
        second call for a volume that exists does nothing."""

    def import_file(self, volume_id: str, size_gib: int, raw: Path) -> Path:
        """Make the volume of the sparse raw file `raw` (an import's converted image, on the
        storage host), grown to `size_gib`; as create(), whole or not at all, and kept when it
        exists. The file that holds the data after (the backend may take `raw` itself)."""

    def grow(self, volume_id: str, size_gib: int) -> None: ...

    def delete(self, volume_id: str) -> None:
        """Remove the volume and anything an interrupted step left of it (idempotent)."""

    def capacity_bytes(self) -> int:
        """The largest volume data it could hold in all."""

    def reader(
        self, volume_id: str, snapshot_id: str, backup: Backup | None
    ) -> AbstractContextManager[VolumeReader]:
        """The volume's data as it is now; `backup` is given when the volume is exported (a
        guest may be writing it) for a backend that copies it that way."""


@dataclass(frozen=True, slots=True)
class CephClient:
    """How the storage controller reaches the zone's Ceph cluster (the zone's properties)."""

    conf: str
    user: str
    keyring: str

    @classmethod
    def of_zone(cls, store: Store, zone: str) -> CephClient:
        return cls(
            conf=properties.get_str(store, f"{zone}.storage.cephconfigfile"),
            user=properties.get_str(store, f"{zone}.storage.cephuser"),
            keyring=properties.get_str(store, f"{zone}.storage.cephkeyringfile"),
        )


def chosen(store: Store, zone: str) -> tuple[str, str]:
    """(backend, pool) a new volume of the zone is made on now."""
    backend = properties.get_str(store, f"{zone}.storage.blockstoragemanager")
    if backend != CEPH_RBD:
        return OVERLAY, ""
    pools = properties.get_str(store, f"{zone}.storage.cephvolumepools")
    return CEPH_RBD, pools.split(",")[0]


class Backends:
    """The backends one storage agent works with: its overlay, and ceph-rbd per pool with the
    zone's Ceph client settings as they are when asked."""

    def __init__(
        self,
        store: Store,
        zone: str,
        overlay: VolumeBackend,
        rbd: Callable[[CephClient, str], VolumeBackend],
    ) -> None:
        self.store = store
        self.zone = zone
        self.overlay = overlay
        self._rbd = rbd

    def of(self, backend: str, pool: str) -> VolumeBackend:
        if backend == CEPH_RBD:
            return self._rbd(CephClient.of_zone(self.store, self.zone), pool)
        return self.overlay

    def chosen(self) -> VolumeBackend:
        return self.of(*chosen(self.store, self.zone))
