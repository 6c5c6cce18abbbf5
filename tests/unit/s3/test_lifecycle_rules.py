"""Lifecycle rules: validation, matching, due dates, and the controller's pass over rows
(suspended buckets, tag filters, kept noncurrent versions, stale multipart uploads)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from mallee.api.errors import ServiceError
from mallee.controller import lifecycle as apply
from mallee.services.s3 import versions
from mallee.services.s3.backends.fs import FsBackend
from mallee.services.s3.lifecycle import check_configuration, check_rule, due, rule_from, rules
from mallee.store import Store
from mallee.store.tables.iam import IamAccount
from mallee.store.tables.s3 import S3Bucket, S3Object, S3Part, S3Upload

ACCOUNT = "123456789012"
T0 = datetime(2030, 3, 10, 15, 30, tzinfo=UTC)


def rule(**extra: Any) -> dict[str, Any]:
    return {"ID": "r", "Status": "Enabled", "Filter": {}, **extra}


def test_due_rounds_up_to_midnight() -> None:
    # S3's own example: created 10:30 on the 15th, 3 days -> midnight starting the 19th.
    assert due(datetime(2014, 1, 15, 10, 30, tzinfo=UTC), 3) == datetime(2014, 1, 19, tzinfo=UTC)
    assert due(datetime(2014, 1, 15, tzinfo=UTC), 1) == datetime(2014, 1, 16, tzinfo=UTC)
    # SQLite hands back naive datetimes: they are UTC.
    assert due(datetime(2014, 1, 15, 23, 59), 1) == datetime(2014, 1, 17, tzinfo=UTC)


def test_matching() -> None:
    flt = {"And": {"Prefix": "logs/", "Tags": [{"Key": "a", "Value": "1"}]}}
    r = rule_from(check_rule(rule(Filter=flt, Expiration={"Days": 1})))
    assert r.matches("logs/x", 5, {"a": "1", "b": "2"})
    assert not r.matches("logs/x", 5, {"a": "2"})
    assert not r.matches("other/x", 5, {"a": "1"})
    sized = {"And": {"ObjectSizeGreaterThan": 10, "ObjectSizeLessThan": 20}}
    r = rule_from(check_rule(rule(Filter=sized, Expiration={"Days": 1})))
    assert [r.matches("k", n, {}) for n in (10, 11, 19, 20)] == [False, True, True, False]
    legacy = check_rule({"Status": "Disabled", "Prefix": "p/", "Expiration": {"Days": 1}})
    r = rule_from(legacy)
    assert r.prefix == "p/" and not r.enabled and r.id
    tagged = rule(Filter={"Tag": {"Key": "k", "Value": "v"}}, Expiration={"Days": 1})
    assert rule_from(check_rule(tagged)).tags == {"k": "v"}


def test_expiration_kinds() -> None:
    r = rule_from(check_rule(rule(Expiration={"Days": 2})))
    assert not r.current_expired(T0, datetime(2030, 3, 12, 23, tzinfo=UTC))
    assert r.current_expired(T0, datetime(2030, 3, 13, tzinfo=UTC))
    dated = check_rule(rule(Expiration={"Date": datetime(2030, 4, 1, tzinfo=UTC)}))
    r = rules(json.dumps([dated]))[0]
    assert r.date == datetime(2030, 4, 1, tzinfo=UTC)
    assert not r.current_expired(T0, datetime(2030, 3, 31, tzinfo=UTC))
    assert r.current_expired(T0, datetime(2030, 4, 1, tzinfo=UTC))


@pytest.mark.parametrize(
    ("config", "code"),
    [
        (None, "MalformedXML"),
        ({"Rules": []}, "MalformedXML"),
        ({"Rules": [rule(Expiration={"Days": -1})]}, "InvalidArgument"),
        ({"Rules": [rule(Expiration={})]}, "MalformedXML"),
        (
            {"Rules": [rule(Transitions=[{"Days": 1, "StorageClass": "GLACIER"}])]},
            "InvalidStorageClass",
        ),
        (
            {
                "Rules": [
                    rule(
                        NoncurrentVersionExpiration={
                            "NoncurrentDays": 1,
                            "NewerNoncurrentVersions": 0,
                        }
                    )
                ]
            },
            "InvalidArgument",
        ),
        (
            {
                "Rules": [
                    rule(
                        Filter={"Tag": {"Key": "k", "Value": "v"}},
                        Expiration={"ExpiredObjectDeleteMarker": True},
                    )
                ]
            },
            "InvalidRequest",
        ),
        (
            {
                "Rules": [
                    rule(
                        Filter={"And": {"ObjectSizeGreaterThan": 5, "ObjectSizeLessThan": 5}},
                        Expiration={"Days": 1},
                    )
                ]
            },
            "InvalidArgument",
        ),
    ],
)
def test_invalid_configurations(config: Any, code: str) -> None:
    with pytest.raises(ServiceError) as err:
        check_configuration(config)
    assert err.value.code == code


# The controller's pass, against a database and an fs backend of its own.


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
