"""A newc cpio writer, so the initramfs (with its device nodes) is built without root or cpio.

Everything is owned by root in the archive whoever builds it, and the output is uncompressed:
under TCG the kernel unpacks a plain cpio faster than it inflates a gzipped one.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import BinaryIO


class Archive:
    def __init__(self, out: BinaryIO) -> None:
        self._out = out
        self._ino = 1

    def _entry(
        self, name: str, mode: int, data: bytes = b"", rdev: tuple[int, int] = (0, 0)
    ) -> None:
        nlink = 2 if stat.S_ISDIR(mode) else 1
        fields = (self._ino, mode, 0, 0, nlink, 0, len(data), 0, 0, *rdev, len(name) + 1, 0)
        self._ino += 1
        header = b"070701" + b"".join(f"{v:08x}".encode() for v in fields)
        self._out.write(_pad(header + name.encode() + b"\0"))
        self._out.write(_pad(data))

    def directory(self, name: str, mode: int = 0o755) -> None:
        self._entry(name, stat.S_IFDIR | mode)

    def file(self, name: str, data: bytes, mode: int) -> None:
        self._entry(name, stat.S_IFREG | mode, data)

    def symlink(self, name: str, target: str) -> None:
        self._entry(name, stat.S_IFLNK | 0o777, target.encode())

    def device(self, name: str, *, major: int, minor: int, mode: int = 0o600) -> None:
        self._entry(name, stat.S_IFCHR | mode, rdev=(major, minor))

    def tree(self, root: Path) -> None:
        """Every directory, file and symlink under root, parents first."""
        for dirpath, dirnames, filenames in os.walk(root):
            dirnames.sort()
            base = Path(dirpath)
            for name in [*dirnames, *sorted(filenames)]:
                path = base / name
                rel = path.relative_to(root).as_posix()
                info = path.lstat()
                if stat.S_ISLNK(info.st_mode):
                    self.symlink(rel, os.readlink(path))
                elif stat.S_ISDIR(info.st_mode):
                    self.directory(rel, stat.S_IMODE(info.st_mode))
                elif stat.S_ISREG(info.st_mode):
                    self.file(rel, path.read_bytes(), stat.S_IMODE(info.st_mode))

    def close(self) -> None:
        self._entry("TRAILER!!!", 0)


def _pad(data: bytes) -> bytes:
    return data + b"\0" * (-len(data) % 4)
