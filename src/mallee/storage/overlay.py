"""The `overlay` backend (Eucalyptus' overlay storage controller): one sparse raw file per
volume under the data directory's `volumes/`.

Raw and sparse: creating a volume of any size costs one truncate, the file takes only the
blocks written, and it is served over NBD as it is (no format layer to parse on every I/O).
Every step is idempotent, so a step the agent was killed in the middle of is simply repeated.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

from mallee.storage.snapshots import VolumeReader, WriteAt, file_extents, qcow2_extents, read_piece


class OverlayBackend:
    name = "overlay"
    pool = ""
    # Served to the nodes by the storage host's qemu-storage-daemon.
    nbd_exported = True

    def __init__(self, root: Path) -> None:
        self.root = root

    def path(self, volume_id: str) -> Path:
        return self.root / f"{volume_id}.raw"

    def exists(self, volume_id: str) -> bool:
        return self.path(volume_id).exists()

    def create(
        self, volume_id: str, size_gib: int, fill: Callable[[WriteAt], None] | None = None
    ) -> Path:
        """The volume's file of `size_gib`, all zeros or what `fill` writes into it (a
        snapshot's data), made under a temporary name and renamed into place, so a crash never
        leaves a file that looks made."""
        self.root.mkdir(parents=True, exist_ok=True)
        path = self.path(volume_id)
        if path.exists():
            return path
        tmp = path.with_suffix(".tmp")
        with open(tmp, "wb") as f:
            f.truncate(size_gib << 30)
            if fill is not None:
                fill(lambda at, data: _pwrite_all(f.fileno(), data, at))
            os.fsync(f.fileno())
        os.replace(tmp, path)
        return path

    def import_file(self, volume_id: str, size_gib: int, raw: Path) -> Path:
        """The converted image becomes the volume's file: grown to size and renamed into
        place (the same file system), never copied, so an import needs its data's room once."""
        path = self.path(volume_id)
        if path.exists():
            return path
        with open(raw, "r+b") as f:
            if os.fstat(f.fileno()).st_size < size_gib << 30:
                f.truncate(size_gib << 30)
            os.fsync(f.fileno())
        os.replace(raw, path)
        return path

    def grow(self, volume_id: str, size_gib: int) -> None:
        path = self.path(volume_id)
        if path.stat().st_size < size_gib << 30:
            os.truncate(path, size_gib << 30)

    def delete(self, volume_id: str) -> None:
        self.path(volume_id).unlink(missing_ok=True)
        self.path(volume_id).with_suffix(".tmp").unlink(missing_ok=True)

    def capacity_bytes(self) -> int:
        """The whole size of the file system the volumes live on."""
        self.root.mkdir(parents=True, exist_ok=True)
        return shutil.disk_usage(self.root).total

    @contextlib.contextmanager
    def reader(
        self, volume_id: str, snapshot_id: str, backup: Callable[[Path, int], None] | None
    ) -> Iterator[VolumeReader]:
        """The file itself when no guest has it; else a point-in-time copy the daemon makes
        (`backup`), read from its qcow2 clusters."""
        path = self.path(volume_id)
        size = path.stat().st_size
        if backup is None:
            with open(path, "rb") as fh:
                fd = fh.fileno()
                yield VolumeReader(
                    size, file_extents(fd, size), lambda o, n, p: read_piece(fd, o, n, p)
                )
            return
        copy = self.root / "snapshots" / f"{snapshot_id}.qcow2"
        try:
            backup(copy, size)
            with open(copy, "rb") as fh:
                fd = fh.fileno()
                yield VolumeReader(
                    size, qcow2_extents(copy), lambda o, n, p: read_piece(fd, o, n, p)
                )
        finally:
            copy.unlink(missing_ok=True)


def _pwrite_all(fd: int, data: bytes | memoryview, at: int) -> None:
    view = memoryview(data)
    while view:
        done = os.pwrite(fd, view, at)
        if done <= 0:
            raise OSError(errno.EIO, f"could not write at {at}")
        view, at = view[done:], at + done
