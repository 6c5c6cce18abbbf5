"""An object's bytes: kept inline in its metadata row when small, else in a backend blob.

A durable blob write costs an fsync of the file and one of its directory before the row's
commit (its own fsync) may reference it; a small object carried in the row is durable with
that one commit, and is read back with the row, without opening a file. Whatever the backend
(fs or s3), small objects live in the metadata store; multipart parts are always blobs.

Every reader of object bytes goes through `open_bytes`, which knows both kinds; rows written
before inline storage existed have no data and are read from their blobs.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from itertools import chain

from mallee.objectstore.backends import Backend, Blob, Piece

# The largest object stored in its row. Up to this size one WAL commit is cheaper than the
# blob's two extra fsyncs, and the bytes are small next to what a row read costs anyway; past
# it the row would bloat the database (and its page cache) that listings and every other
# metadata query share, so bigger objects go to the backend, whose reads stream.
INLINE_MAX = 64 * 1024


@dataclass(frozen=True, slots=True)
class Stored:
    """Bytes just written: inline (`data` set, no blob) or in the backend (`blob_id`)."""

    size: int
    md5_hex: str
    blob_id: str | None = None
    data: bytes | None = None

    @classmethod
    def of_blob(cls, blob: Blob) -> Stored:
        return cls(blob.size, blob.md5_hex, blob_id=blob.blob_id)

    @classmethod
    def inline(cls, data: bytes) -> Stored:
        return cls(len(data), hashlib.md5(data, usedforsecurity=False).hexdigest(), data=data)


def store(backend: Backend, pieces: Iterable[Piece], announced: int | None = None) -> Stored:
    """Take in `pieces` whole: inline when they add up to at most INLINE_MAX bytes, else as a
    new blob. Memory stays bounded: buffering stops as soon as the bytes outgrow INLINE_MAX
    and the rest streams to the backend; an `announced` size (Content-Length) over it skips
    the buffering altogether. Raises, storing nothing, when `pieces` does."""
    if announced is not None and announced > INLINE_MAX:
        return Stored.of_blob(backend.put(pieces))
    it = iter(pieces)
    head: list[Piece] = []
    size = 0
    for piece in it:
        head.append(piece)
        size += len(piece)
        if size > INLINE_MAX:
            return Stored.of_blob(backend.put(chain(head, it)))
    return Stored.inline(b"".join(head))


def discard(backend: Backend, stored: Stored) -> None:
    """Undo a `store` whose row was never committed (an inline one has nothing to undo)."""
    if stored.blob_id is not None:
        backend.delete(stored.blob_id)


def open_bytes(
    backend: Backend,
    blob_id: str | None,
    data: bytes | None,
    start: int = 0,
    end: int | None = None,
) -> Iterator[Piece]:
    """Bytes [start, end) of a stored object (end None: to its end), in pieces. A blob is
    opened now, so a FileNotFoundError (blob freed by a concurrent overwrite) surfaces here."""
    if data is not None:
        return iter((data[start:end],) if data else ())
    if blob_id is None:  # an empty object written before inline storage, or a delete marker
        return iter(())
    return backend.read(blob_id, start, end)
