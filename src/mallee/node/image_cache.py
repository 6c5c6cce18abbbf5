"""The node's image cache: each registered image's file, once, by content digest."""

from __future__ import annotations

import hashlib
import os
import shutil
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path

from sqlalchemy import select

from mallee.store import Store
from mallee.store.tables.ec2 import Ec2Image

KNOWN_SECONDS = 5.0


class ImageError(RuntimeError):
    pass


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


class ImageCache:
    def __init__(
        self,
        root: Path,
        store: Store,
        read_blob: Callable[[str], Iterable[bytes | memoryview]] | None = None,
    ) -> None:
        self.root = root
        self.store = store
        # Images registered from the object store live in its backend ("blob:<id>").
        self._read_blob = read_blob
        # One copy per image even when several launches want it at once.
        self._lock = threading.Lock()
        # image id -> (valid until, location, digest): every launch asks for three images.
        self._known: dict[str, tuple[float, str, str | None]] = {}
        root.mkdir(parents=True, exist_ok=True)

    def _where(self, image_id: str) -> tuple[str, str | None]:
        """(location, digest) of the image; read again after a few seconds (a rebuilt default
        image keeps its id and gets new bits)."""
        now = time.monotonic()
        hit = self._known.get(image_id)
        if hit is not None and hit[0] > now:
            return hit[1], hit[2]
        with self.store.read() as s:
            found = s.execute(
                select(Ec2Image.location, Ec2Image.digest).where(Ec2Image.id == image_id)
            ).first()
        if found is None:
            raise ImageError(f"image {image_id} is not registered")
        location, digest = found
        self._known[image_id] = (now + KNOWN_SECONDS, location, digest)
        return location, digest

    def path(self, image_id: str) -> Path:
        location, digest = self._where(image_id)
        if digest is None:
            raise ImageError(f"image {image_id} has no content digest yet")
        cached = self.root / digest
        if cached.exists():
            return cached
        with self._lock:
            if not cached.exists():
                self._fetch(image_id, location, digest, cached)
        return cached

    def _fetch(self, image_id: str, location: str, digest: str, cached: Path) -> None:
        tmp = self.root / f".{digest}.{os.getpid()}"
        if location.startswith("blob:") and self._read_blob is not None:
            source = location
            try:
                with tmp.open("wb") as out:
                    for piece in self._read_blob(location.removeprefix("blob:")):
                        out.write(piece)
            except OSError as err:
                tmp.unlink(missing_ok=True)
                raise ImageError(f"image {image_id}: cannot read {location}: {err}") from err
        elif location.startswith("file:"):
            source = location.removeprefix("file:")
            try:
                shutil.copyfile(source, tmp)
            except OSError as err:
                raise ImageError(f"image {image_id}: cannot read {source}: {err}") from err
        else:
            raise ImageError(f"image {image_id}: fetching {location} is not supported")
        if _sha256(tmp) != digest:
            tmp.unlink()
            raise ImageError(f"image {image_id}: {source} changed since it was registered")
        os.replace(tmp, cached)
