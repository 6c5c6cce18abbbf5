"""The fs backend reads blobs as mapped windows: any range, across window edges, byte-exact."""

from __future__ import annotations

import mmap
import os
from pathlib import Path

import pytest

from mallee.objectstore.backends import fs
from mallee.objectstore.backends.fs import FsBackend

SIZE = 2 * fs.PIECE + 12345
GRAIN = mmap.ALLOCATIONGRANULARITY


@pytest.fixture
def stored(tmp_path: Path) -> tuple[FsBackend, str, bytes]:
    backend = FsBackend(tmp_path / "objects")
    data = os.urandom(SIZE)
    blob = backend.put([data[:1000], data[1000:]])
    assert blob.size == SIZE
    return backend, blob.blob_id, data


@pytest.mark.parametrize(
    ("start", "end"),
    [
        (0, None),
        (5000, fs.PIECE + 7),  # unaligned start, across a window edge
        (fs.PIECE - 1, fs.PIECE + 1),
        (3 * GRAIN + 17, None),
        (SIZE - 1, None),
        (10, 10),  # empty
        (SIZE + 5, None),  # past the end: nothing
        (100, SIZE + 100),  # an end past the size stops at the size
    ],
)
def test_ranges_read_back_exactly(
    stored: tuple[FsBackend, str, bytes], start: int, end: int | None
) -> None:
    backend, blob_id, data = stored
    pieces = list(backend.read(blob_id, start, end))
    assert all(0 < len(p) <= fs.PIECE for p in pieces)
    assert b"".join(pieces) == data[start:end]


def test_a_blob_deleted_while_read_is_read_to_its_end(
    stored: tuple[FsBackend, str, bytes],
) -> None:
    backend, blob_id, data = stored
    pieces = backend.read(blob_id)
    first = bytes(next(pieces))
    backend.delete(blob_id)  # a concurrent overwrite frees the old blob
    assert first + b"".join(pieces) == data


def test_concat_joins_mapped_pieces(stored: tuple[FsBackend, str, bytes]) -> None:
    backend, blob_id, data = stored
    other = backend.put([b"tail"])
    joined = backend.concat([blob_id, other.blob_id])
    assert b"".join(backend.read(joined.blob_id)) == data + b"tail"


def test_blobs_are_owner_only_whatever_the_umask(tmp_path: Path) -> None:
    """Objects are accounts' private data: no other local user may read them."""
    old = os.umask(0o022)
    try:
        backend = FsBackend(tmp_path / "objects")
        blob = backend.put([b"private"])
    finally:
        os.umask(old)
    path = backend._path(blob.blob_id)
    made = [path, path.parent, path.parent.parent, tmp_path / "objects", backend.tmp]
    assert [oct(p.stat().st_mode & 0o777) for p in made] == ["0o600"] + ["0o700"] * 4
