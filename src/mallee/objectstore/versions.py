"""How a write lands among a key's versions, by the bucket's versioning state.

- never enabled (""): the key has one version, "null"; a write replaces it.
- Enabled: every write adds a version with a new id; the previous latest stays.
- Suspended: writes (and delete markers) take the id "null", replacing an earlier "null"
  version but keeping versions with real ids.

Returned blob ids are no longer referenced once the transaction commits; the caller deletes
them after the commit (never before: a rollback would leave rows without data).

PutObject and CopyObject apply the same rules through writes.record (Core statements, for
speed); multipart completion, delete markers and lifecycle use put_version in their sessions.
"""

from __future__ import annotations

import secrets
from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, undefer

from mallee.store.tables.s3 import S3Bucket, S3Object

NULL = "null"


def new_version_id(bucket: S3Bucket) -> str:
    return new_version_id_for(bucket.versioning)


def new_version_id_for(versioning: str) -> str:
    return secrets.token_urlsafe(24) if versioning == "Enabled" else NULL


def shown(bucket: S3Bucket, version_id: str) -> str | None:
    return shown_for(bucket.versioning, version_id)


def shown_for(versioning: str, version_id: str) -> str | None:
    """The x-amz-version-id to report: S3 names "null" versions only in buckets that have a
    versioning state (enabled now or before), and says nothing in never-versioned ones."""
    return version_id if versioning or version_id != NULL else None


def latest(s: Session, bucket: str, key: str, with_data: bool = False) -> S3Object | None:
    query = select(S3Object).where(
        S3Object.bucket == bucket, S3Object.key == key, S3Object.is_latest.is_(True)
    )
    if with_data:
        query = query.options(undefer(S3Object.data))
    return s.scalars(query).first()


def find(
    s: Session, bucket: str, key: str, version_id: str | None, with_data: bool = False
) -> S3Object | None:
    """A key's latest version, or the one named; `with_data` loads an inline object's bytes
    too (otherwise deferred: row.data must then not be touched once the session is gone)."""
    if version_id is None:
        return latest(s, bucket, key, with_data)
    options = [undefer(S3Object.data)] if with_data else []
    return s.get(S3Object, (bucket, key, version_id), options=options)


def put_version(s: Session, bucket: S3Bucket, row: S3Object) -> list[str]:
    """Make `row` (its version_id set by new_version_id) the key's latest version."""
    freed: list[str] = []
    s.execute(
        update(S3Object)
        .where(S3Object.bucket == row.bucket, S3Object.key == row.key, S3Object.is_latest.is_(True))
        .values(is_latest=False)
    )
    if row.version_id == NULL:
        old = s.get(S3Object, (row.bucket, row.key, NULL))
        if old is not None:
            if old.blob_id:
                freed.append(old.blob_id)
            s.delete(old)
            s.flush()
    # Only the order of one key's versions matters; the maximum over the key is found through
    # the primary key index, where one over the bucket would scan every row of it.
    top = s.scalar(
        select(func.max(S3Object.sequence)).where(
            S3Object.bucket == row.bucket, S3Object.key == row.key
        )
    )
    row.sequence = (top or 0) + 1
    row.is_latest = True
    s.add(row)
    return freed


def add_delete_marker(
    s: Session, bucket: S3Bucket, key: str, account_id: str, when: datetime
) -> tuple[S3Object, list[str]]:
    """A delete marker as the key's latest version (versioned or suspended buckets only)."""
    marker = S3Object(
        bucket=bucket.name,
        key=key,
        version_id=new_version_id(bucket),
        delete_marker=True,
        account_id=account_id,
        last_modified=when,
    )
    return marker, put_version(s, bucket, marker)


def remove_version(s: Session, row: S3Object) -> list[str]:
    """Delete one version for good; the newest remaining one becomes the latest."""
    freed = [row.blob_id] if row.blob_id else []
    was_latest = row.is_latest
    s.delete(row)
    s.flush()
    if was_latest:
        newest = s.scalars(
            select(S3Object)
            .where(S3Object.bucket == row.bucket, S3Object.key == row.key)
            .order_by(S3Object.sequence.desc())
            .limit(1)
        ).first()
        if newest is not None:
            newest.is_latest = True
    return freed
