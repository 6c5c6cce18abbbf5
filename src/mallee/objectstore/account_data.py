"""The object data of an account's buckets when the account is deleted (DeleteAccount).

The rows go with the account (ON DELETE CASCADE), but their bytes are blobs in the backend
(files, or objects of the s3 backend's store) that no row would lead to any more. As for every
S3 delete, a blob goes only after the commit of the transaction that stops referencing it:
`empty_buckets` deletes the buckets' versions and multipart uploads a batch per transaction,
each batch's blobs after its commit. A crash leaves at worst one batch's blobs unreferenced,
never a row without data, and the account still there: deleting it again carries on. What
arrives in the buckets meanwhile is collected by `remaining_blobs` in the very transaction
that deletes the account, and freed after its commit.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Protocol

from sqlalchemy import Select, delete, select, tuple_
from sqlalchemy.orm import Session

from mallee.config import Settings
from mallee.objectstore.backends import Backend, make_backend
from mallee.store import Store
from mallee.store.tables.s3 import S3Bucket, S3Object, S3Part, S3Upload

log = logging.getLogger(__name__)


class Runtime(Protocol):
    """What these need of their caller's runtime (a service's `Runtime` has both)."""

    @property
    def settings(self) -> Settings: ...

    @property
    def store(self) -> Store: ...


# Versions (and uploads) removed per transaction: short enough not to hold up the buckets'
# other writers for long, and at most this many blobs are left behind by a crash.
BATCH = 500


def _buckets(account_id: str) -> Select[str]:
    return select(S3Bucket.name).where(S3Bucket.account_id == account_id)


def empty_buckets(runtime: Runtime, account_id: str) -> None:
    """Delete every version and multipart upload in the account's buckets, and their data."""
    backend: Backend | None = None
    while True:
        with runtime.store.session() as s:
            found, freed = _take_batch(s, account_id)
        if not found:
            return
        if freed:
            backend = backend or make_backend(runtime.settings, runtime.store)
            _delete_blobs(backend, freed)


def _take_batch(s: Session, account_id: str) -> tuple[bool, list[str]]:
    """(whether anything was left, blob ids freed once this transaction commits)."""
    buckets = _buckets(account_id)
    versions = s.execute(
        select(S3Object.bucket, S3Object.key, S3Object.version_id)
        .where(S3Object.bucket.in_(buckets))
        .limit(BATCH)
    ).all()
    # Locked: a part being recorded waits, then finds its upload gone (and frees its blob).
    uploads = list(
        s.scalars(
            select(S3Upload.upload_id)
            .where(S3Upload.bucket.in_(buckets))
            .limit(BATCH)
            .with_for_update()
        ).all()
    )
    freed: list[str] = []
    if versions:
        # The blobs of the rows this statement deleted, not of the ones it was asked to: a
        # concurrent overwrite may have replaced (and will free) some of them already.
        primary_key = tuple_(S3Object.bucket, S3Object.key, S3Object.version_id)
        gone = s.scalars(
            delete(S3Object)
            .where(primary_key.in_([tuple(v) for v in versions]))
            .returning(S3Object.blob_id)
            .execution_options(synchronize_session=False)
        ).all()
        freed += [blob for blob in gone if blob]
    if uploads:
        parts = s.scalars(
            delete(S3Part)
            .where(S3Part.upload_id.in_(uploads))
            .returning(S3Part.blob_id)
            .execution_options(synchronize_session=False)
        ).all()
        freed += list(parts)
        s.execute(
            delete(S3Upload)
            .where(S3Upload.upload_id.in_(uploads))
            .execution_options(synchronize_session=False)
        )
    return bool(versions or uploads), freed


def remaining_blobs(s: Session, account_id: str) -> list[str]:
    """In the transaction that deletes the account, before the delete: the blobs still in its
    buckets (written since they were emptied), which go with it once it commits. The buckets
    and uploads are locked first, so no write can add one the cascade would miss."""
    buckets = list(s.scalars(_buckets(account_id).with_for_update()).all())
    if not buckets:
        return []
    uploads = select(S3Upload.upload_id).where(S3Upload.bucket.in_(buckets))
    s.execute(uploads.with_for_update()).all()
    objects = s.scalars(
        select(S3Object.blob_id).where(S3Object.bucket.in_(buckets), S3Object.blob_id.is_not(None))
    ).all()
    parts = s.scalars(select(S3Part.blob_id).where(S3Part.upload_id.in_(uploads))).all()
    return [str(blob) for blob in objects] + list(parts)


def free_blobs(runtime: Runtime, blob_ids: list[str]) -> None:
    """Delete blobs whose rows are committed away (see remaining_blobs)."""
    if blob_ids:
        _delete_blobs(make_backend(runtime.settings, runtime.store), blob_ids)


def _delete_blobs(backend: Backend, blob_ids: Iterable[str]) -> None:
    for blob_id in blob_ids:
        try:
            backend.delete(blob_id)
        except Exception:  # the account goes all the same; the blob is left behind
            log.exception("could not delete blob %s", blob_id)
