"""Where object data lives, behind one small interface (the OSG's provider clients).

A backend stores immutable blobs under ids it chooses; the metadata store maps (bucket, key,
version) to blob ids. Keys never reach a backend, so no key can name a path. `put` returns only
once the blob is durable; readers get pieces, never the whole blob in memory.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Protocol

from mallee.config import Settings
from mallee.store import Store


@dataclass(frozen=True, slots=True)
class Blob:
    blob_id: str
    size: int
    md5_hex: str


class Backend(Protocol):
    name: str

    def put(self, pieces: Iterable[bytes]) -> Blob:
        """Store the concatenated pieces as a new blob; raises (storing nothing) if the
        iterable raises, e.g. when the request body fails its signature check."""
        ...

    def read(self, blob_id: str, start: int = 0, end: int | None = None) -> Iterator[bytes]:
        """Bytes [start, end) of the blob (end None: to its end), in pieces."""
        ...

    def concat(self, blob_ids: list[str]) -> Blob:
        """A new blob holding the given blobs one after another (multipart completion)."""
        ...

    def delete(self, blob_id: str) -> None:
        """Remove the blob; a missing one is not an error."""
        ...


def make_backend(settings: Settings, store: Store) -> Backend:
    """The backend the cloud is configured for (property objectstorage.providerclient)."""
    from mallee.services.s3.backends.fs import FsBackend

    return FsBackend(settings.data_dir / "objects")
