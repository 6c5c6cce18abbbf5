"""The controller's lifecycle pass over rows, against a database and an fs backend of its own:
suspended buckets, tag filters, kept noncurrent versions, stale multipart uploads."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from mallee.controller import lifecycle as apply
from mallee.objectstore import versions
from mallee.objectstore.backends.fs import FsBackend
from mallee.services.s3.lifecycle import check_configuration
from mallee.store import Store
from mallee.store.tables.iam import IamAccount
from mallee.store.tables.s3 import S3Bucket, S3Object, S3Part, S3Upload

ACCOUNT = "123456789012"
T0 = datetime(2030, 3, 10, 15, 30, tzinfo=UTC)


def rule(**extra: Any) -> dict[str, Any]:
    return {"ID": "r", "Status": "Enabled", "Filter": {}, **extra}


@pytest.fixture
def db(store: Any) -> Store:
    with store.session() as s:
        s.add(IamAccount(id=ACCOUNT, name="acct", created_at=T0))
    assert isinstance(store, Store)
    return store


@pytest.fixture
def backend(tmp_path: Path) -> FsBackend:
    return FsBackend(tmp_path / "objects")


def make_bucket(db: Store, versioning: str, *raw_rules: dict[str, Any]) -> None:
    with db.session() as s:
        s.add(
            S3Bucket(
                name="b",
                account_id=ACCOUNT,
                region="r",
                created_at=T0,
                versioning=versioning,
                lifecycle=json.dumps(check_configuration({"Rules": list(raw_rules)})),
            )
        )


def write(db: Store, backend: FsBackend, key: str, when: datetime, tags: str | None = None) -> str:
    blob = backend.put([key.encode()])
    with db.session() as s:
        bucket = s.get(S3Bucket, "b")
        assert bucket is not None
        row = S3Object(
            bucket="b",
            key=key,
            version_id=versions.new_version_id(bucket),
            account_id=ACCOUNT,
            size=blob.size,
            etag="e",
            blob_id=blob.blob_id,
            last_modified=when,
            tagging=tags,
        )
        for freed in versions.put_version(s, bucket, row):
            backend.delete(freed)
        return row.version_id


def listing(db: Store) -> list[tuple[str, str, bool, bool]]:
    with db.read() as s:
        rows = s.scalars(select(S3Object).order_by(S3Object.key, S3Object.sequence.desc()))
        return [(r.key, r.version_id, r.is_latest, r.delete_marker) for r in rows]


def test_suspended_bucket_expires_into_a_null_marker(db: Store, backend: FsBackend) -> None:
    make_bucket(db, "Enabled", rule(Expiration={"Days": 1}))
    real = write(db, backend, "k", T0)
    with db.session() as s:
        bucket = s.get(S3Bucket, "b")
        assert bucket is not None
        bucket.versioning = "Suspended"
    write(db, backend, "k", T0 + timedelta(hours=1))
    done = apply.apply(db, backend, now=T0 + timedelta(days=3))
    assert done.expired == 1
    # The null version is replaced by the null marker; the real version stays.
    assert listing(db) == [("k", "null", True, True), ("k", real, False, False)]


def test_tag_filter_and_kept_noncurrent_versions(db: Store, backend: FsBackend) -> None:
    make_bucket(
        db,
        "Enabled",
        rule(
            ID="tagged",
            Filter={"Tag": {"Key": "t", "Value": "x"}},
            Expiration={"Days": 1},
        ),
        rule(
            ID="nc", NoncurrentVersionExpiration={"NoncurrentDays": 1, "NewerNoncurrentVersions": 1}
        ),
    )
    write(db, backend, "plain", T0)
    write(db, backend, "tagged", T0, tags=json.dumps([{"Key": "t", "Value": "x"}]))
    ids = [write(db, backend, "many", T0 + timedelta(hours=h)) for h in range(4)]
    done = apply.apply(db, backend, now=T0 + timedelta(days=5))
    assert (done.expired, done.noncurrent) == (1, 2)
    rows = listing(db)
    assert [(r[2], r[3]) for r in rows if r[0] == "plain"] == [(True, False)]
    # Of the three noncurrent versions of "many", the newest one is kept.
    assert [r[1] for r in rows if r[0] == "many"] == [ids[3], ids[2]]
    assert [r[3] for r in rows if r[0] == "tagged"] == [True, False]


def test_stale_multipart_uploads_are_aborted(db: Store, backend: FsBackend) -> None:
    make_bucket(
        db,
        "",
        rule(Filter={"Prefix": "up/"}, AbortIncompleteMultipartUpload={"DaysAfterInitiation": 2}),
    )
    blobs = []
    with db.session() as s:
        for upload_id, key, started in (
            ("old", "up/a", T0),
            ("new", "up/b", T0 + timedelta(days=3)),
            ("other", "down/c", T0),
        ):
            s.add(
                S3Upload(
                    upload_id=upload_id,
                    bucket="b",
                    key=key,
                    account_id=ACCOUNT,
                    initiated_at=started,
                )
            )
            s.flush()
            blob = backend.put([b"part"])
            blobs.append(blob.blob_id)
            s.add(
                S3Part(
                    upload_id=upload_id,
                    part_number=1,
                    size=4,
                    etag="e",
                    blob_id=blob.blob_id,
                    last_modified=started,
                )
            )
    done = apply.apply(db, backend, now=T0 + timedelta(days=4))
    assert done.aborted == 1
    with db.read() as s:
        assert sorted(s.scalars(select(S3Upload.upload_id))) == ["new", "other"]
        assert sorted(s.scalars(select(S3Part.upload_id))) == ["new", "other"]
    with pytest.raises(FileNotFoundError):
        list(backend.read(blobs[0]))
    assert b"".join(backend.read(blobs[1])) == b"part"


def test_run_without_rules_needs_no_backend(db: Store, tmp_path: Path) -> None:
    from mallee.config import Settings

    settings = Settings(data_dir=tmp_path / "nowhere")
    assert apply.run(db, settings) == apply.Outcome()
    assert not (tmp_path / "nowhere").exists()
