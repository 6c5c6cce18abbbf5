"""Objects: PutObject, GetObject, HeadObject, DeleteObject, DeleteObjects.

A write takes in the body first (verifying signature, Content-MD5 and checksums on the way):
a small one into memory, to be stored in the version's row, a larger one streamed into a new
backend blob (data.store). Only then is the version recorded, in one short transaction; blobs
that no version references any more are deleted after that commit.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime
from typing import Any

from sqlalchemy import select

from mallee.api.context import RequestContext
from mallee.api.errors import ServiceError
from mallee.api.http import BodyStream
from mallee.identity.authz import denied
from mallee.objectstore import versions
from mallee.services.base import Operations, Params, Result, Runtime
from mallee.services.s3 import data, errors, lookup, tagging, writes
from mallee.services.s3.access import action_name, authorize_as
from mallee.services.s3.blobs import backend, free_blobs
from mallee.services.s3.checksums import Checksums, content_md5
from mallee.services.s3.common import (
    bucket_or_404,
    new_object_acl,
    now,
    require_anonymous,
)
from mallee.services.s3.conditions import byte_range, check_conditions
from mallee.services.s3.encryption import OBJECT_ENCRYPTION
from mallee.services.s3.names import check_key
from mallee.store.tables.s3 import S3Bucket, S3Object

STATUS = "@status"
PIECE = 1 << 20
# Stored with the object and given back on GET/HEAD, as S3 does.
STORED_HEADERS = (
    "CacheControl",
    "ContentDisposition",
    "ContentEncoding",
    "ContentLanguage",
    "ContentType",
    "Expires",
    "WebsiteRedirectLocation",
)
MAX_DELETE_KEYS = 1000


def pieces(body: BodyStream | bytes | None) -> Iterator[bytes]:
    if body is None:
        return
    if isinstance(body, bytes | bytearray):
        yield bytes(body)
        return
    while piece := body.read(PIECE):
        yield piece


def announced_size(ctx: RequestContext) -> int | None:
    """The body size the request announces (decoded size for aws-chunked bodies), if any:
    a hint for choosing inline or blob storage early, never trusted for the data itself."""
    headers = ctx.http.headers
    text = headers.get("x-amz-decoded-content-length") or headers.get("content-length")
    return int(text) if text is not None and text.isdigit() else None


def stored_headers(params: Params) -> dict[str, Any]:
    out: dict[str, Any] = {k: params[k] for k in STORED_HEADERS if params.get(k) is not None}
    if isinstance(out.get("Expires"), datetime):
        out["Expires"] = out["Expires"].isoformat()
    out.setdefault("ContentType", "binary/octet-stream")
    out["Metadata"] = {str(k).lower(): str(v) for k, v in (params.get("Metadata") or {}).items()}
    return out


def object_headers(
    row: S3Object, checksums: bool = False, bucket: S3Bucket | None = None
) -> dict[str, Any]:
    """The GET/HEAD output members of a stored version (checksums only when asked for; the
    bucket, when given, decides whether a "null" version id is reported)."""
    stored: dict[str, Any] = json.loads(row.headers or "{}")
    out: dict[str, Any] = {k: stored[k] for k in STORED_HEADERS if k in stored}
    if "Expires" in out:
        out["Expires"] = datetime.fromisoformat(out["Expires"])
    out["Metadata"] = stored.get("Metadata", {})
    if checksums:
        out.update(stored.get("Checksums", {}))
    out["ETag"] = row.etag
    out["LastModified"] = row.last_modified
    out["AcceptRanges"] = "bytes"
    out.update(OBJECT_ENCRYPTION)
    shown = versions.shown(bucket, row.version_id) if bucket else _real(row.version_id)
    if shown:
        out["VersionId"] = shown
    if row.tagging:
        out["TagCount"] = tagging.tag_count(row.tagging)
    if row.storage_class != "STANDARD":
        out["StorageClass"] = row.storage_class
    return out


def put_object(rt: Runtime, ctx: RequestContext, params: Params) -> Result:
    name, key = str(params["Bucket"]), check_key(str(params["Key"]))
    bucket = lookup.bucket(rt.store, name)
    if bucket is None:
        raise errors.no_such_bucket(name)
    require_anonymous(ctx, bucket.acl, "WRITE")
    md5 = content_md5(params.get("ContentMD5"))
    tags = tagging.from_header(params.get("Tagging"))
    sums = Checksums.requested(params)
    body = sums.watch(pieces(params.get("Body")))
    stored = data.store(backend(rt), body, announced_size(ctx))
    try:
        if md5 is not None and md5 != stored.md5_hex:
            raise errors.bad_digest()
        sums.verify()
        headers = stored_headers(params) | {"Checksums": sums.output()}
        row = S3Object(
            bucket=name,
            key=key,
            account_id=ctx.principal.account_id or bucket.account_id,
            size=stored.size,
            etag=f'"{stored.md5_hex}"',
            blob_id=stored.blob_id,
            data=stored.data,
            last_modified=now(),
            headers=json.dumps(headers),
            acl=new_object_acl(params, ctx.principal.account_id or bucket.account_id),
            storage_class=str(params.get("StorageClass") or "STANDARD"),
            tagging=tags,
        )
        freed, shown = writes.record(rt.store, row, params)
    except BaseException:
        data.discard(backend(rt), stored)
        raise
    free_blobs(rt, freed)
    out: Result = {"ETag": row.etag, **sums.output(), **OBJECT_ENCRYPTION}
    if shown:
        out["VersionId"] = shown
    return out


def get_object(rt: Runtime, ctx: RequestContext, params: Params) -> Result:
    _refuse_anonymous_overrides(ctx, params)
    row, out = _read(rt, ctx, params, with_data=True)
    start, end = _ranged(row, out, params)
    if row.data is not None:
        # Small enough to have been kept in its row: sent as one body, no stream.
        out["Body"] = row.data[start:end]
    else:
        out["Body"] = data.open_bytes(backend(rt), row.blob_id, None, start, end)
    return _overrides(out, params)


def head_object(rt: Runtime, ctx: RequestContext, params: Params) -> Result:
    _refuse_anonymous_overrides(ctx, params)
    row, out = _read(rt, ctx, params)
    _ranged(row, out, params)
    return _overrides(out, params)


def _read(
    rt: Runtime, ctx: RequestContext, params: Params, with_data: bool = False
) -> tuple[S3Object, Result]:
    name, key = str(params["Bucket"]), str(params["Key"])
    version = params.get("VersionId")
    bucket, row = lookup.bucket_and_version(
        rt.store, name, key, str(version) if version else None, with_data
    )
    if bucket is None:
        raise errors.no_such_bucket(name)
    if row is None:
        _refuse_unless_lister(rt, ctx, name, key)
        raise errors.no_such_version(key, str(version)) if version else errors.no_such_key(key)
    if row.delete_marker:
        # Before the ACL check: a marker has no ACL, and its answer says only that the
        # object is gone, which a lister of the bucket may know anyway.
        _refuse_unless_lister(rt, ctx, name, key)
        headers = {"x-amz-delete-marker": "true", "x-amz-version-id": row.version_id}
        if version:
            raise errors.method_not_allowed(headers | {"Allow": "DELETE"})
        err = errors.no_such_key(key)
        err.headers.update(headers)
        raise err
    require_anonymous(ctx, row.acl, "READ")
    check_conditions(
        row.etag,
        row.last_modified,
        if_match=params.get("IfMatch"),
        if_none_match=params.get("IfNoneMatch"),
        if_modified_since=params.get("IfModifiedSince"),
        if_unmodified_since=params.get("IfUnmodifiedSince"),
    )
    # A checksum describes the whole object: never with a range (S3 does the same).
    whole = params.get("ChecksumMode") == "ENABLED" and not params.get("Range")
    return row, object_headers(row, checksums=whole, bucket=bucket)


def _refuse_unless_lister(rt: Runtime, ctx: RequestContext, name: str, key: str) -> None:
    """S3 tells that an object is missing only to callers who may list its bucket
    (s3:ListBucket); to the others a missing object answers as one they may not read, with
    the very error a refused GetObject of it gets (anything else would tell them apart)."""
    try:
        authorize_as(rt, ctx, "ListObjects", {"Bucket": name})
    except ServiceError as err:
        if err.code != "AccessDenied" or ctx.principal.kind == "anonymous":
            raise
        action = f"s3:{action_name(ctx)}"
        raise denied(ctx.principal, action, f"arn:aws:s3:::{name}/{key}") from None


def delete_object(rt: Runtime, ctx: RequestContext, params: Params) -> Result:
    name, key = str(params["Bucket"]), str(params["Key"])
    with rt.store.read() as s:
        bucket = bucket_or_404(s, name)
    require_anonymous(ctx, bucket.acl, "WRITE")
    version = params.get("VersionId")
    out, freed = _delete_one(rt, name, key, str(version) if version else None, ctx)
    free_blobs(rt, freed)
    return {STATUS: 204, **out}


def _delete_one(
    rt: Runtime, name: str, key: str, version: str | None, ctx: RequestContext
) -> tuple[Result, list[str]]:
    with rt.store.session() as s:
        bucket = locked_bucket(s, name)
        if version is not None:
            # A version is removed for good; removing the latest (a delete marker too)
            # makes the next newer remaining one the latest.
            row = s.get(S3Object, (name, key, version))
            if row is None:
                return {"VersionId": version}, []
            marker = row.delete_marker
            return _deleted(version, marker), versions.remove_version(s, row)
        if not bucket.versioning:
            row = versions.latest(s, name, key)
            return {}, versions.remove_version(s, row) if row is not None else []
        owner = ctx.principal.account_id or bucket.account_id
        marker_row, freed = versions.add_delete_marker(s, bucket, key, owner, now())
        return _deleted(marker_row.version_id, True), freed


def delete_objects(rt: Runtime, ctx: RequestContext, params: Params) -> Result:
    name = str(params["Bucket"])
    spec = params.get("Delete") or {}
    items = spec.get("Objects") or []
    if not items or len(items) > MAX_DELETE_KEYS:
        raise errors.malformed_xml()
    with rt.store.read() as s:
        bucket_or_404(s, name)
    deleted, failed, freed = [], [], []
    for item in items:
        key, version = str(item.get("Key", "")), item.get("VersionId")
        entry: dict[str, Any] = {"Key": key}
        if version:
            entry["VersionId"] = str(version)
        try:
            check_key(key)
            # Each key is a DeleteObject (DeleteObjectVersion with a version id) of its
            # own, decided by identity policy, bucket policy and ACL; refusals are listed.
            authorize_as(rt, ctx, "DeleteObject", {"Bucket": name, **entry})
            out, gone = _delete_one(rt, name, key, str(version) if version else None, ctx)
        except ServiceError as err:
            failed.append(entry | {"Code": err.code, "Message": err.message})
            continue
        freed += gone
        if out.get("DeleteMarker"):
            entry["DeleteMarker"] = True
            entry["DeleteMarkerVersionId"] = out["VersionId"]
        deleted.append(entry)
    free_blobs(rt, freed)
    result: Result = {"Errors": failed} if failed else {}
    if not spec.get("Quiet"):
        result["Deleted"] = deleted
    return result


def _ranged(row: S3Object, out: Result, params: Params) -> tuple[int, int]:
    """[start, end) the request's Range selects; sets the length, range and 206 in `out`."""
    span = byte_range(params.get("Range"), row.size)
    start, end = span if span is not None else (0, row.size)
    out["ContentLength"] = end - start
    if span is not None:
        out["ContentRange"] = f"bytes {start}-{end - 1}/{row.size}"
        out[STATUS] = 206
    return start, end


def _deleted(version: str, marker: bool) -> Result:
    out: Result = {"VersionId": version}
    if marker:
        out["DeleteMarker"] = True
    return out


def _real(version_id: str) -> str | None:
    return None if version_id == versions.NULL else version_id


def locked_bucket(s: Any, name: str) -> S3Bucket:
    """The bucket row, locked for the transaction: one writer per bucket commits at a time,
    so a key never gets two latest versions (SQLite serialises writers anyway)."""
    bucket = s.scalars(select(S3Bucket).where(S3Bucket.name == name).with_for_update()).first()
    if bucket is None:
        raise errors.no_such_bucket(name)
    assert isinstance(bucket, S3Bucket)
    return bucket


_OVERRIDES = {
    "ResponseCacheControl": "CacheControl",
    "ResponseContentDisposition": "ContentDisposition",
    "ResponseContentEncoding": "ContentEncoding",
    "ResponseContentLanguage": "ContentLanguage",
    "ResponseContentType": "ContentType",
    "ResponseExpires": "Expires",
}


def _refuse_anonymous_overrides(ctx: RequestContext, params: Params) -> None:
    """As AWS: only a signed request may choose the answer's headers; otherwise anyone's
    public object could be served as an HTML page (response-content-type=text/html)."""
    if ctx.principal.kind == "anonymous" and any(params.get(p) is not None for p in _OVERRIDES):
        raise errors.invalid_request(
            "Request specific response headers cannot be used for anonymous GET requests."
        )


def _overrides(out: Result, params: Params) -> Result:
    for param, member in _OVERRIDES.items():
        if params.get(param) is not None:
            out[member] = params[param]
    return out


OPERATIONS: Operations = {
    "PutObject": put_object,
    "GetObject": get_object,
    "HeadObject": head_object,
    "DeleteObject": delete_object,
    "DeleteObjects": delete_objects,
}
