"""The fs backend reads blobs as mapped windows: any range, across window edges, byte-exact."""

from __future__ import annotations

import mmap
import os
from pathlib import Path

import pytest

from mallee.services.s3.backends import fs
from mallee.services.s3.backends.fs import FsBackend

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
