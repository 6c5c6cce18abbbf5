"""What every image builder shares: one builder at a time per directory, outputs swapped in
atomically, and a stamp of the inputs that makes a second build a no-op."""

from __future__ import annotations

import fcntl
import json
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

STAMP = "stamp.json"


@contextmanager
def locked(image_dir: Path) -> Iterator[None]:
    with (image_dir / ".lock").open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def current_stamp(image_dir: Path) -> dict[str, str] | None:
    try:
        found: dict[str, str] = json.loads((image_dir / STAMP).read_text())
    except (OSError, ValueError):
        return None
    return found


def write_stamp(image_dir: Path, stamp: dict[str, str]) -> None:
    write_atomic(image_dir / STAMP, json.dumps(stamp, indent=1, sort_keys=True).encode())


def write_atomic(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def drop_stale_builds(image_dir: Path) -> None:
    """Work directories left by a builder that was killed (the caller holds the lock)."""
    for stale in image_dir.glob(".build-*"):
        shutil.rmtree(stale, ignore_errors=True)


def install(work: Path, image_dir: Path, names: tuple[str, ...]) -> None:
    """Move a finished set into place; no stamp while the set is mixed."""
    (image_dir / STAMP).unlink(missing_ok=True)
    for name in names:
        os.replace(work / name, image_dir / name)
