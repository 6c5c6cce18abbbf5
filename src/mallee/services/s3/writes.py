"""The hot write of PutObject and CopyObject: a new version recorded with Core statements.

The rules are versions.put_version's (see objectstore/versions.py for how versioning states
decide the version id and what a write replaces); multipart completion and delete markers apply
them inside their ORM sessions. Here they run as a handful of pre-built statements on one
connection: through the ORM (bucket lock, latest version, flushes, identity map) recording a
small object's version cost several times its commit, which is the one fsync that makes it
durable.
"""

from __future__ import annotations

from typing import Any, cast

from sqlalchemy import (
    Connection,
    Table,
    and_,
    bindparam,
    delete,
    func,
    insert,
    select,
    true,
    update,
)

from mallee.objectstore import versions
from mallee.services.base import Params
from mallee.services.s3 import errors
from mallee.services.s3.common import check_write_conditions
from mallee.store import Store
from mallee.store.tables.s3 import S3Bucket, S3Object

_BUCKETS = cast(Table, S3Bucket.__table__)
_OBJECTS = cast(Table, S3Object.__table__)
_COLUMNS = tuple(c.name for c in _OBJECTS.c)
# Bind names apart from the column names: Core reserves those for an UPDATE's SET values.
_KEY = and_(_OBJECTS.c.bucket == bindparam("in_bucket"), _OBJECTS.c.key == bindparam("in_key"))
_NULL_VERSION = and_(_KEY, _OBJECTS.c.version_id == versions.NULL)

# The bucket row, locked for the transaction: one writer per bucket commits at a time, so a
# key never gets two latest versions (SQLite serialises writers anyway).
_LOCK_BUCKET = (
    select(_BUCKETS.c.versioning).where(_BUCKETS.c.name == bindparam("in_bucket")).with_for_update()
)
_LATEST = select(_OBJECTS.c.etag, _OBJECTS.c.delete_marker).where(
    _KEY, _OBJECTS.c.is_latest == true()
)
_NOT_LATEST = update(_OBJECTS).where(_KEY, _OBJECTS.c.is_latest == true()).values(is_latest=False)
_DROP_NULL = (
    delete(_OBJECTS).where(_NULL_VERSION).returning(_OBJECTS.c.blob_id, _OBJECTS.c.sequence)
)
# Only the order of one key's versions matters; the maximum over the key is found through the
# primary key index, where one over the bucket would scan every row of it.
_TOP = select(func.max(_OBJECTS.c.sequence)).where(_KEY)
_INSERT = insert(_OBJECTS)


def record(store: Store, row: S3Object, params: Params) -> tuple[list[str], str | None]:
    """Record the transient `row` (its bytes already durable) as its key's latest version,
    with PutObject's If-None-Match / If-Match checked under the bucket lock; sets its
    version_id and sequence. (blobs no longer referenced once committed, version id to
    report)."""
    where = {"in_bucket": row.bucket, "in_key": row.key}
    with store.engine.begin() as conn:
        bucket = conn.execute(_LOCK_BUCKET, where).first()
        if bucket is None:
            raise errors.no_such_bucket(row.bucket)
        versioning = str(bucket.versioning)
        if params.get("IfNoneMatch") is not None or params.get("IfMatch") is not None:
            check_write_conditions(conn.execute(_LATEST, where).first(), params)
        row.version_id = versions.new_version_id_for(versioning)
        freed, top = _replace_latest(conn, versioning, row.version_id, where)
        row.sequence, row.is_latest, row.delete_marker = top + 1, True, False
        conn.execute(_INSERT, _values(row))
    return freed, versions.shown_for(versioning, row.version_id)


def _replace_latest(
    conn: Connection, versioning: str, version_id: str, where: dict[str, str]
) -> tuple[list[str], int]:
    """Make way for a new latest version: (blobs freed, highest sequence left to follow).

    A bucket that never had versioning holds one "null" version per key and nothing else,
    so dropping that one is all there is to do (two statements fewer on the hot path)."""
    if versioning:
        conn.execute(_NOT_LATEST, where)
    freed: list[str] = []
    top = 0
    if version_id == versions.NULL:
        for old in conn.execute(_DROP_NULL, where):
            top = int(old.sequence)
            if old.blob_id:
                freed.append(str(old.blob_id))
    if versioning:
        top = int(conn.execute(_TOP, where).scalar() or 0)
    return freed, top


def _values(row: S3Object) -> dict[str, Any]:
    # Read through __dict__: a column never set (a default) is then left to the table.
    return {name: row.__dict__[name] for name in _COLUMNS if name in row.__dict__}
