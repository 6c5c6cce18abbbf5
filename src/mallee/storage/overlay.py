"""The `overlay` backend (Eucalyptus' overlay storage controller): one sparse raw file per
volume under the data directory's `volumes/`.

Raw and sparse: creating a volume of any size costs one truncate, the file takes only the
blocks written, and it is served over NBD as it is (no format layer to parse on every I/O).
Every step is idempotent, so a step the agent was killed in the middle of is simply repeated.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO


class OverlayBackend:
    def __init__(self, root: Path) -> None:
        self.root = root

    def path(self, volume_id: str) -> Path:
        return self.root / f"{volume_id}.raw"

    def create(
        self, volume_id: str, size_gib: int, fill: Callable[[BinaryIO], None] | None = None
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
                fill(f)
            os.fsync(f.fileno())
        os.replace(tmp, path)
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
