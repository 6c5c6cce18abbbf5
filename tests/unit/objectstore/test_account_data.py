"""An account's object data on DeleteAccount (objectstore/account_data.py, through
iam/accounts.delete_account): every blob of its buckets goes, never before the rows that
reference it, and a deletion cut short by a crash is carried on by the next one."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select

from mallee.config import Settings
from mallee.objectstore import account_data
from mallee.objectstore.backends.fs import FsBackend
from mallee.services.base import Runtime
from mallee.services.iam import accounts
from mallee.store import Store
from mallee.store.tables.iam import IamAccount
from mallee.store.tables.s3 import S3Bucket, S3Object, S3Part, S3Upload

WHEN = datetime(2024, 1, 2, tzinfo=UTC)


@pytest.fixture
def runtime(store: Store, tmp_path: Path) -> Runtime:
    return Runtime(Settings(data_dir=tmp_path), store)


@pytest.fixture
def backend(runtime: Runtime) -> FsBackend:
    return FsBackend(runtime.settings.data_dir / "objects")


def blob_files(backend: FsBackend) -> set[str]:
    return {p.name for p in backend.root.rglob("*") if p.is_file() and p.parent != backend.tmp}


def account_with_data(runtime: Runtime, backend: FsBackend, name: str, objects: int) -> str:
    """A new account with a bucket of `objects` versions and an upload of two parts."""
    with runtime.store.session() as s:
        account_id = accounts.add_account(s, name).id
        bucket = f"{name}-bucket"
        s.add(S3Bucket(name=bucket, account_id=account_id, region="r", created_at=WHEN))
        s.flush()
        for n in range(objects):
            blob = backend.put([f"{name} object {n}".encode()])
            s.add(
                S3Object(
                    bucket=bucket,
                    key=f"k{n}",
                    version_id="null",
                    account_id=account_id,
                    size=blob.size,
                    blob_id=blob.blob_id,
                    last_modified=WHEN,
                )
            )
        upload = f"{name}-upload"
        s.add(
            S3Upload(
                upload_id=upload, bucket=bucket, key="big", account_id=account_id, initiated_at=WHEN
            )
        )
        s.flush()
        for number in (1, 2):
            blob = backend.put([f"{name} part {number}".encode()])
            s.add(
                S3Part(
                    upload_id=upload,
                    part_number=number,
                    size=blob.size,
                    etag='"e"',
                    blob_id=blob.blob_id,
                    last_modified=WHEN,
                )
            )
    return account_id


def referenced(store: Store) -> set[str]:
    with store.read() as s:
        objects = {b for b in s.scalars(select(S3Object.blob_id)) if b}
        parts = set(s.scalars(select(S3Part.blob_id)))
    return objects | parts


def test_deleting_an_account_deletes_its_blobs_and_no_one_elses(
    runtime: Runtime, backend: FsBackend
) -> None:
    account_with_data(runtime, backend, "gone", objects=3)
    account_with_data(runtime, backend, "stays", objects=2)
    kept = referenced(runtime.store)
    assert len(blob_files(backend)) == 9
    accounts.delete_account(runtime, {"AccountName": "gone", "Recursive": True})
    assert blob_files(backend) == referenced(runtime.store)
    assert len(blob_files(backend)) == 4
    assert referenced(runtime.store) < kept


def test_a_crash_midway_leaves_no_row_without_its_data(
    runtime: Runtime, backend: FsBackend, monkeypatch: pytest.MonkeyPatch
) -> None:
    account_id = account_with_data(runtime, backend, "gone", objects=5)
    monkeypatch.setattr(account_data, "BATCH", 2)
    real = account_data._delete_blobs

    def crash(*_: object) -> None:
        raise RuntimeError("the process died")

    monkeypatch.setattr(account_data, "_delete_blobs", crash)
    with pytest.raises(RuntimeError):
        accounts.delete_account(runtime, {"AccountName": "gone", "Recursive": True})
    # The first batch (two versions, the upload's two parts) is committed away; its blobs
    # are what the crash leaves behind, and every row left still has its data.
    orphans = blob_files(backend) - referenced(runtime.store)
    assert len(orphans) == 4
    assert referenced(runtime.store) <= blob_files(backend)
    with runtime.store.read() as s:
        assert s.get(IamAccount, account_id) is not None
    # Deleting it again carries on: nothing but that batch's blobs is left.
    monkeypatch.setattr(account_data, "_delete_blobs", real)
    accounts.delete_account(runtime, {"AccountName": "gone", "Recursive": True})
    assert referenced(runtime.store) == set()
    assert blob_files(backend) == orphans
    with runtime.store.read() as s:
        assert s.get(IamAccount, account_id) is None


def test_data_written_after_the_buckets_were_emptied_goes_with_the_account(
    runtime: Runtime, backend: FsBackend, monkeypatch: pytest.MonkeyPatch
) -> None:
    account_with_data(runtime, backend, "gone", objects=2)
    # As if every version and upload arrived between the emptying and the account's delete.
    monkeypatch.setattr(accounts, "empty_buckets", lambda *_: None)
    accounts.delete_account(runtime, {"AccountName": "gone", "Recursive": True})
    assert blob_files(backend) == set()
    assert referenced(runtime.store) == set()
