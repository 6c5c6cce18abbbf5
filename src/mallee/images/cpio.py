"""A newc cpio writer, so the initramfs (with its device nodes) is built without root or cpio."""

from __future__ import annotations

import gzip
import stat


class Archive:
    def __init__(self) -> None:
        self._parts: list[bytes] = []
        self._ino = 1

    def _entry(
        self, name: str, mode: int, data: bytes = b"", rdev: tuple[int, int] = (0, 0)
    ) -> None:
        fields = [
            self._ino,
            mode,
            0,
            0,
            1,
            0,
            len(data),
            0,
            0,
            rdev[0],
            rdev[1],
            len(name) + 1,
            0,
        ]
        self._ino += 1
        header = b"070701" + b"".join(f"{v:08x}".encode() for v in fields)
        self._parts.append(_pad(header + name.encode() + b"\0"))
        self._parts.append(_pad(data))

    def directory(self, name: str) -> None:
        self._entry(name, stat.S_IFDIR | 0o755)

    def file(self, name: str, data: bytes, mode: int) -> None:
        self._entry(name, stat.S_IFREG | mode, data)

    def symlink(self, name: str, target: str) -> None:
        self._entry(name, stat.S_IFLNK | 0o777, target.encode())

    def device(self, name: str, *, char: bool, major: int, minor: int) -> None:
        kind = stat.S_IFCHR if char else stat.S_IFBLK
        self._entry(name, kind | 0o600, rdev=(major, minor))

    def gzipped(self) -> bytes:
        self._entry("TRAILER!!!", 0)
        return gzip.compress(b"".join(self._parts), compresslevel=6, mtime=0)


def _pad(data: bytes) -> bytes:
    return data + b"\0" * (-len(data) % 4)
