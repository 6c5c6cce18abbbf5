"""The hot read of GetObject and HeadObject: bucket and version in one query.

Through the ORM this took two sessions' worth of work (a bucket get, then a version select),
about two thirds of a small GET's server time. Here one prepared statement joins the bucket
to the version; the row comes back as transient instances that no session tracks.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Select, and_, bindparam, select, true
from sqlalchemy.engine import Engine

from mallee.store import Store
from mallee.store.prepared import Prepared, detached
from mallee.store.tables.s3 import S3Bucket, S3Object

_BUCKETS = S3Bucket.__table__
_OBJECTS = S3Object.__table__
# Bucket columns the readers need, labelled apart from the version's same-named ones.
_BUCKET_COLUMNS = {
    "b_name": "name",
    "b_account_id": "account_id",
    "b_versioning": "versioning",
    "b_acl": "acl",
}


def _statement(by_version: bool, with_data: bool) -> Select[Any]:
    objects = _OBJECTS.c
    on = and_(objects.bucket == _BUCKETS.c.name, objects.key == bindparam("key"))
    if by_version:
        on = and_(on, objects.version_id == bindparam("version"))
    else:
        on = and_(on, objects.is_latest == true())
    wanted = [c for c in objects if with_data or c.name != "data"]
    labelled = [_BUCKETS.c[column].label(label) for label, column in _BUCKET_COLUMNS.items()]
    return (
        select(*labelled, *wanted)
        .select_from(_BUCKETS.outerjoin(_OBJECTS, on))
        .where(_BUCKETS.c.name == bindparam("bucket"))
    )


_OBJECT_COLUMNS = tuple(c.name for c in _OBJECTS.c)
# (by version id, with the data column) -> the statement.
_LOOKUPS = {
    (by_version, with_data): Prepared(_statement(by_version, with_data))
    for by_version in (False, True)
    for with_data in (False, True)
}


def _fetch(engine: Engine, prepared: Prepared, **params: Any) -> dict[str, Any] | None:
    """The first row, columns by name, on a pooled connection of its own (not a session's)."""
    row = prepared.first(engine, **params)
    return None if row is None else row._asdict()


_BUCKET_ONLY = Prepared(
    select(*[_BUCKETS.c[column].label(label) for label, column in _BUCKET_COLUMNS.items()]).where(
        _BUCKETS.c.name == bindparam("bucket")
    )
)


def bucket(store: Store, name: str) -> S3Bucket | None:
    """The bucket (name, account_id, versioning and acl only; transient), or None."""
    row = _fetch(store.read_engine, _BUCKET_ONLY, bucket=name)
    return _bucket(row) if row is not None else None


def _bucket(row: dict[str, Any]) -> S3Bucket:
    return detached(S3Bucket, {c: row[label] for label, c in _BUCKET_COLUMNS.items()})


def bucket_and_version(
    store: Store, bucket: str, key: str, version_id: str | None, with_data: bool = False
) -> tuple[S3Bucket | None, S3Object | None]:
    """(bucket, version): the key's latest version or the one named (None when there is no
    such version; both None without the bucket). The bucket carries only name, account_id,
    versioning and acl; the version's data only when `with_data`. Both are transient: no
    session knows them."""
    prepared = _LOOKUPS[version_id is not None, with_data]
    named = {} if version_id is None else {"version": version_id}
    row = _fetch(store.read_engine, prepared, bucket=bucket, key=key, **named)
    if row is None:
        return None, None
    found = _bucket(row)
    if row["version_id"] is None:  # the outer join found no version
        return found, None
    version = {name: row[name] for name in _OBJECT_COLUMNS if name in row}
    version.setdefault("data", None)
    return found, detached(S3Object, version)
