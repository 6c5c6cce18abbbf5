"""Inline object data: where data.store puts bytes, how open_bytes reads both kinds, and a
database from before inline storage reading its objects after the migration."""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from mallee.objectstore.backends.fs import FsBackend
from mallee.services.s3 import lookup
from mallee.services.s3.data import INLINE_MAX, Stored, discard, open_bytes, store
from mallee.store import Store
from mallee.store.tables.s3 import S3Bucket, S3Object
from tests.migrations import sqlite_store_at

BEFORE_INLINE = "4efbae5c2ad4"


@pytest.fixture
def backend(tmp_path: Path) -> FsBackend:
    return FsBackend(tmp_path / "objects")


def blob_files(backend: FsBackend) -> list[Path]:
    return [p for p in backend.root.rglob("*") if p.is_file()]


def chunks(data: bytes, size: int) -> Iterator[bytes]:
    for at in range(0, len(data), size):
        yield data[at : at + size]


@pytest.mark.parametrize("size", [0, 1, INLINE_MAX - 1, INLINE_MAX])
def test_small_bodies_stay_inline(backend: FsBackend, size: int) -> None:
    data = bytes(range(256)) * (size // 256) + bytes(size % 256)
    stored = store(backend, chunks(data, 1000))
    assert stored == Stored(size, hashlib.md5(data).hexdigest(), data=data)
    assert blob_files(backend) == []


@pytest.mark.parametrize("size", [INLINE_MAX + 1, 5 * INLINE_MAX])
def test_larger_bodies_go_to_a_blob(backend: FsBackend, size: int) -> None:
    data = bytes(size)
    stored = store(backend, chunks(data, 4096))
    assert stored.data is None and stored.blob_id is not None
    assert (stored.size, stored.md5_hex) == (size, hashlib.md5(data).hexdigest())
    assert b"".join(open_bytes(backend, stored.blob_id, None)) == data


def test_buffering_stops_once_past_the_threshold(backend: FsBackend) -> None:
    taken = 0

    def endless() -> Iterator[bytes]:
        nonlocal taken
        while True:
            taken += 1
            if taken > 100:
                raise RuntimeError("the body broke")
            yield bytes(4096)

    # The fall back to a blob streams the rest on: a failing body stores nothing at all.
    with pytest.raises(RuntimeError):
        store(backend, endless())
    assert taken == 101
    assert blob_files(backend) == []


def test_an_announced_large_size_skips_buffering(backend: FsBackend) -> None:
    stored = store(backend, [b"abc"], announced=INLINE_MAX + 1)
    assert stored.blob_id is not None and stored.size == 3
    discard(backend, stored)
    assert blob_files(backend) == []
    # An announced small size is a hint only: what arrives decides.
    stored = store(backend, chunks(bytes(INLINE_MAX + 5), 1000), announced=10)
    assert stored.blob_id is not None and stored.size == INLINE_MAX + 5


def test_open_bytes_reads_ranges_of_either_kind(backend: FsBackend) -> None:
    data = bytes(range(200))
    blob = backend.put([data])
    for blob_id, inline in ((None, data), (blob.blob_id, None)):
        assert b"".join(open_bytes(backend, blob_id, inline)) == data
        assert b"".join(open_bytes(backend, blob_id, inline, 10, 20)) == data[10:20]
        assert b"".join(open_bytes(backend, blob_id, inline, 150)) == data[150:]
    assert list(open_bytes(backend, None, b"")) == []
    assert list(open_bytes(backend, None, None)) == []


def test_objects_written_before_the_migration_read_through_their_blobs(tmp_path: Path) -> None:
    old = sqlite_store_at(tmp_path / "old.db", BEFORE_INLINE)
    url = old.url
    old.dispose()
    backend = FsBackend(tmp_path / "objects")
    contents = b"written before inline storage"
    blob = backend.put([contents])
    # Rows as the code before the change wrote them (no data column yet; FKs are checked by
    # the store's engine, not by this bare connection).
    with sqlite3.connect(tmp_path / "old.db") as db:
        db.execute(
            "INSERT INTO s3_buckets (name, account_id, region, created_at, versioning, acl) "
            "VALUES ('old', '000000000001', 'eucalyptus', ?, '', '')",
            (datetime.now(UTC).isoformat(" "),),
        )
        db.execute(
            "INSERT INTO s3_objects (bucket, key, version_id, is_latest, delete_marker, "
            "account_id, size, etag, blob_id, last_modified, headers, acl, storage_class, "
            "sequence) VALUES ('old', 'k', 'null', 1, 0, '000000000001', ?, ?, ?, ?, '{}', '', "
            "'STANDARD', 1)",
            (blob.size, f'"{blob.md5_hex}"', blob.blob_id, datetime.now(UTC).isoformat(" ")),
        )
    store_ = Store(url)
    try:
        store_.migrate()
        bucket, row = lookup.bucket_and_version(store_, "old", "k", None, with_data=True)
        assert bucket is not None and row is not None
        assert row.data is None and row.blob_id == blob.blob_id
        assert b"".join(open_bytes(backend, row.blob_id, row.data)) == contents
        with store_.read() as s:
            found = s.get(S3Object, ("old", "k", "null"))
            assert found is not None and found.size == blob.size
            assert s.get(S3Bucket, "old") is not None
    finally:
        store_.dispose()
