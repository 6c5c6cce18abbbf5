"""The data directory holds every account's secrets: the database (secret keys in plain text),
instance disks (with their user-data), object data, credentials. Its files are the owner's alone.

Every mallee process starts with `private_umask()`, so all it creates, and all its children
create, is 0600 / 0700; the two children that set a umask of their own (dnsmasq, QEMU) have
their files made private where they are started. `make_private()` creates the directory, or
tightens one an older mallee left readable: once, walking the whole tree.
"""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path

log = logging.getLogger(__name__)

UMASK = 0o077
# Present once every file under the directory was made private; a later start then trusts
# the umask instead of walking what may be millions of object files again.
MARKER = ".private"
_MARKER_TEXT = (
    "mallee removed every group and other permission under this directory.\n"
    "Delete this file to have the next start check every file again.\n"
)


class SharedDirectoryError(RuntimeError):
    """The data directory is a shared one (/tmp and the like): tightening it would break it."""


def private_umask() -> None:
    os.umask(UMASK)


def make_private(data_dir: Path) -> int:
    """`data_dir` made (0700) or tightened; returns how many entries had to change."""
    if not data_dir.exists():
        data_dir.mkdir(parents=True, mode=0o700)
        _mark(data_dir)
        return 0
    mode = data_dir.stat().st_mode
    if mode & (stat.S_ISVTX | stat.S_IWOTH):
        raise SharedDirectoryError(
            f"the data directory {data_dir} is shared (world-writable or sticky): "
            "use a directory of its own"
        )
    if not mode & 0o077 and (data_dir / MARKER).exists():
        return 0
    changed = tighten(data_dir)
    _mark(data_dir)
    if changed:
        log.warning("made %d files and directories under %s private to their owner",
                    changed, data_dir)  # fmt: skip
    return changed


def tighten(root: Path) -> int:
    """Remove group and other permissions from `root` and everything under it (symbolic links
    are neither changed nor followed); returns how many entries changed."""
    changed = int(_strip(root))
    for top, dirs, files in os.walk(root):
        for name in (*dirs, *files):
            changed += _strip(Path(top) / name)
    return changed


def _strip(path: Path) -> bool:
    try:
        mode = path.lstat().st_mode
    except FileNotFoundError:
        return False  # removed since it was listed
    if stat.S_ISLNK(mode) or not mode & 0o077:
        return False
    os.chmod(path, stat.S_IMODE(mode) & ~0o077)
    return True


def _mark(data_dir: Path) -> None:
    fd = os.open(data_dir / MARKER, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, _MARKER_TEXT.encode())
    finally:
        os.close(fd)
