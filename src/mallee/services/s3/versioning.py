"""Versioning: Put/GetBucketVersioning and ListObjectVersions.

How writes and deletes land among a key's versions is in objectstore/versions.py. Listing
walks the bucket's versions in (key, newest first) order, in batches, from a cursor: a key
(inclusive or not) and, within that key, the sequence below which versions are still to come.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from mallee.api.context import RequestContext
from mallee.services.base import Operations, Params, Result, Runtime
from mallee.services.s3 import errors
from mallee.services.s3.common import bucket_or_404, owner_of, require_anonymous
from mallee.services.s3.listing import after_prefix, common_prefix, key_encoder, max_keys_of
from mallee.store.tables.s3 import S3Object

BATCH = 1000
STATES = ("Enabled", "Suspended")


@dataclass
class Cursor:
    key: str = ""
    # Whether `key` itself is still to come (with all its versions).
    inclusive: bool = False
    # Versions of `key` older than this sequence are still to come (None: none of them).
    below: int | None = None


@dataclass
class VersionPage:
    rows: list[S3Object] = field(default_factory=list)
    prefixes: list[str] = field(default_factory=list)
    truncated: bool = False
    next_key: str = ""
    next_version: str | None = None


def _batch(s: Session, bucket: str, at: Cursor, prefix: str) -> list[S3Object]:
    key = S3Object.key
    if at.inclusive:
        where: Any = key >= at.key
    elif at.below is not None:
        where = or_(key > at.key, and_(key == at.key, S3Object.sequence < at.below))
    else:
        where = key > at.key
    query = select(S3Object).where(S3Object.bucket == bucket, where)
    if prefix:
        query = query.where(key.startswith(prefix, autoescape=True))
    query = query.order_by(key, S3Object.sequence.desc()).limit(BATCH)
    return list(s.scalars(query).all())


def scan_versions(
    s: Session, bucket: str, *, prefix: str, delimiter: str, start: Cursor, max_keys: int
) -> VersionPage:
    page = VersionPage()
    at = start
    if prefix > at.key:
        at = Cursor(prefix, inclusive=True)
    while True:
        rows = _batch(s, bucket, at, prefix)
        for row in rows:
            common = common_prefix(row.key, prefix, delimiter)
            if len(page.rows) + len(page.prefixes) >= max_keys:
                page.truncated = True
                return page
            if common is not None:
                page.prefixes.append(common)
                page.next_key, page.next_version = common, None
                at = Cursor(after_prefix(common), inclusive=True)
                break
            page.rows.append(row)
            page.next_key, page.next_version = row.key, row.version_id
            at = Cursor(row.key, below=row.sequence)
        else:
            if len(rows) < BATCH:
                return page


def _start(s: Session, bucket: str, params: Params) -> Cursor:
    key_marker = str(params.get("KeyMarker") or "")
    version_marker = params.get("VersionIdMarker")
    if not version_marker:
        prefix, delimiter = str(params.get("Prefix") or ""), str(params.get("Delimiter") or "")
        if key_marker and common_prefix(key_marker, prefix, delimiter) == key_marker:
            # A NextKeyMarker that is a common prefix: that whole "directory" was listed.
            return Cursor(after_prefix(key_marker), inclusive=True)
        return Cursor(key_marker)
    if not key_marker:
        raise errors.invalid_argument(
            "A version-id marker cannot be specified without a key marker.",
            "version-id-marker",
            str(version_marker),
        )
    row = s.get(S3Object, (bucket, key_marker, str(version_marker)))
    if row is None:
        raise errors.invalid_argument(
            "Invalid version id specified", "version-id-marker", str(version_marker)
        )
    return Cursor(key_marker, below=row.sequence)


def _entry(row: S3Object, enc: Any, owner: dict[str, str]) -> dict[str, Any]:
    item: dict[str, Any] = {
        "Key": enc(row.key),
        "VersionId": row.version_id,
        "IsLatest": row.is_latest,
        "LastModified": row.last_modified,
        "Owner": owner,
    }
    if not row.delete_marker:
        item.update(ETag=row.etag, Size=row.size, StorageClass=row.storage_class)
    return item


def put_bucket_versioning(rt: Runtime, ctx: RequestContext, params: Params) -> Result:
    if ctx.principal.kind == "anonymous":
        raise errors.access_denied()
    config = params.get("VersioningConfiguration") or {}
    status = config.get("Status")
    mfa = config.get("MFADelete")
    if status not in STATES or mfa not in (None, "Enabled", "Disabled"):
        raise errors.malformed_xml()
    if mfa == "Enabled" or params.get("MFA"):
        # There are no MFA devices here to check a token against.
        raise errors.mfa_delete_not_supported()
    with rt.store.session() as s:
        bucket_or_404(s, str(params["Bucket"])).versioning = str(status)
    return {}


def get_bucket_versioning(rt: Runtime, ctx: RequestContext, params: Params) -> Result:
    if ctx.principal.kind == "anonymous":
        raise errors.access_denied()
    with rt.store.read() as s:
        state = bucket_or_404(s, str(params["Bucket"])).versioning
    # A bucket that never had versioning answers an empty configuration.
    return {"Status": state} if state else {}


def list_object_versions(rt: Runtime, ctx: RequestContext, params: Params) -> Result:
    name = str(params["Bucket"])
    prefix = str(params.get("Prefix") or "")
    delimiter = str(params.get("Delimiter") or "")
    max_keys = max_keys_of(params)
    enc = key_encoder(params)
    with rt.store.read() as s:
        bucket = bucket_or_404(s, name)
        require_anonymous(ctx, bucket.acl, "READ")
        start = _start(s, name, params)
        page = scan_versions(
            s, name, prefix=prefix, delimiter=delimiter, start=start, max_keys=max_keys
        )
        owners = {a: owner_of(s, a) for a in {r.account_id for r in page.rows}}
    out: Result = {
        "Name": name,
        "Prefix": enc(prefix),
        "KeyMarker": enc(str(params.get("KeyMarker") or "")),
        "VersionIdMarker": str(params.get("VersionIdMarker") or ""),
        "MaxKeys": max_keys,
        "IsTruncated": page.truncated,
        "Versions": [
            _entry(r, enc, owners[r.account_id]) for r in page.rows if not r.delete_marker
        ],
        "DeleteMarkers": [
            _entry(r, enc, owners[r.account_id]) for r in page.rows if r.delete_marker
        ],
        "CommonPrefixes": [{"Prefix": enc(p)} for p in page.prefixes],
    }
    if delimiter:
        out["Delimiter"] = enc(delimiter)
    if params.get("EncodingType"):
        out["EncodingType"] = "url"
    if page.truncated:
        out["NextKeyMarker"] = enc(page.next_key)
        if page.next_version is not None:
            out["NextVersionIdMarker"] = page.next_version
    return out


OPERATIONS: Operations = {
    "PutBucketVersioning": put_bucket_versioning,
    "GetBucketVersioning": get_bucket_versioning,
    "ListObjectVersions": list_object_versions,
}
