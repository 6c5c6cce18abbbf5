"""CopyObject, and what UploadPartCopy shares with it: naming, finding and reading a copy source.

The data is copied like any upload (the source's bytes read into a new blob, or into the new
row when small: data.store), so the copy owns its bytes: the source may be overwritten or
deleted at any time after. Multipart parts are always blobs.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl, unquote

from sqlalchemy.orm import Session

from mallee.api.context import RequestContext
from mallee.objectstore import versions
from mallee.services.base import Operations, Params, Result, Runtime
from mallee.services.s3 import data, errors, tagging, writes
from mallee.services.s3.access import authorize_as
from mallee.services.s3.blobs import backend, free_blobs
from mallee.services.s3.common import (
    bucket_or_404,
    new_object_acl,
    now,
    require_anonymous,
)
from mallee.services.s3.conditions import check_conditions
from mallee.services.s3.data import Stored
from mallee.services.s3.encryption import OBJECT_ENCRYPTION
from mallee.services.s3.names import check_key
from mallee.services.s3.objects import stored_headers
from mallee.store.tables.s3 import S3Object

COPY_TO_ITSELF = (
    "This copy request is illegal because it is trying to copy an object to itself without "
    "changing the object's metadata, storage class, website redirect location or encryption "
    "attributes."
)
# Any of these in a copy onto the source itself is a change that makes the copy legal.
_CHANGES = (
    "StorageClass",
    "WebsiteRedirectLocation",
    "ServerSideEncryption",
    "SSEKMSKeyId",
    "SSECustomerAlgorithm",
)
_RANGE = re.compile(r"bytes=(\d+)-(\d+)")
# Lookups of a source whose blob vanished under us (overwritten, then freed) before giving up.
_ATTEMPTS = 3


@dataclass(frozen=True, slots=True)
class CopySource:
    bucket: str
    key: str
    version_id: str | None = None


def parse_copy_source(value: Any) -> CopySource:
    """x-amz-copy-source: "bucket/key" or "/bucket/key", URL-encoded, maybe "?versionId=v"."""
    text = str(value or "")
    path, _, query = text.partition("?")
    bucket, _, key = unquote(path).removeprefix("/").partition("/")
    if not bucket or not key:
        raise errors.invalid_argument(
            "Copy Source must mention the source bucket and key: sourcebucket/sourcekey",
            "x-amz-copy-source",
            text,
        )
    version = dict(parse_qsl(query, keep_blank_values=True)).get("versionId")
    if version is not None and not version:
        raise errors.invalid_argument("Invalid version id specified", "x-amz-copy-source", text)
    return CopySource(bucket, key, version)


def copy_range(header: Any, size: int) -> tuple[int, int]:
    """[start, end) of an x-amz-copy-source-range ("bytes=first-last"); the whole source if none."""
    if header is None:
        return 0, size
    found = _RANGE.fullmatch(str(header).strip())
    if found is None or int(found.group(2)) < int(found.group(1)):
        raise errors.invalid_argument(
            "The x-amz-copy-source-range value must be of the form bytes=first-last where first "
            "and last are the zero-based offsets of the first and last bytes to copy",
            "x-amz-copy-source-range",
            str(header),
        )
    first, last = int(found.group(1)), int(found.group(2))
    if last >= size:
        raise errors.invalid_argument(
            f"Range specified is not valid for source object of size: {size}",
            "x-amz-copy-source-range",
            str(header),
        )
    return first, last + 1


def source_conditions(row: S3Object, params: Params) -> None:
    """x-amz-copy-source-if-*: any that fails is PreconditionFailed (a copy never says 304)."""
    check_conditions(
        row.etag,
        row.last_modified,
        if_match=params.get("CopySourceIfMatch"),
        if_none_match=params.get("CopySourceIfNoneMatch"),
        if_modified_since=params.get("CopySourceIfModifiedSince"),
        if_unmodified_since=params.get("CopySourceIfUnmodifiedSince"),
        read=False,
    )
    # check_conditions leaves an unmet If-Modified-Since to reads (304); for a copy it is a 412,
    # unless If-None-Match (which wins over it) was given and held.
    since = params.get("CopySourceIfModifiedSince")
    unmodified = since is not None and _utc(row.last_modified).replace(microsecond=0) <= _utc(since)
    if unmodified and params.get("CopySourceIfNoneMatch") is None:
        raise errors.precondition_failed("x-amz-copy-source-If-Modified-Since")


def _utc(moment: datetime) -> datetime:
    # SQLite gives back naive UTC datetimes.
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def directive(params: Params, member: str) -> str:
    value = str(params.get(member) or "COPY")
    if value not in ("COPY", "REPLACE"):
        kind = "metadata" if member == "MetadataDirective" else "tagging"
        raise errors.invalid_argument(
            f"Unknown {kind} directive.", f"x-amz-{kind}-directive", value
        )
    return value


def find_source(s: Session, ctx: RequestContext, source: CopySource) -> S3Object:
    bucket_or_404(s, source.bucket)
    row = versions.find(s, source.bucket, source.key, source.version_id, with_data=True)
    if row is None:
        if source.version_id:
            raise errors.no_such_version(source.key, source.version_id)
        raise errors.no_such_key(source.key)
    if row.delete_marker:
        if source.version_id:
            raise errors.invalid_request(
                "The source of a copy request may not specifically refer to a delete marker "
                "by version id."
            )
        raise errors.no_such_key(source.key)
    require_anonymous(ctx, row.acl, "READ")
    return row


def _refuse_copy_to_itself(name: str, key: str, row: S3Object, params: Params) -> None:
    if row.bucket != name or row.key != key or not row.is_latest:
        return
    if params.get("MetadataDirective") == "REPLACE":
        return
    if any(params.get(member) for member in _CHANGES):
        return
    raise errors.invalid_request(COPY_TO_ITSELF)


def authorize_source(rt: Runtime, ctx: RequestContext, source: CopySource) -> None:
    """The chain authorized the destination only; reading the source is a GetObject of
    it too (GetObjectVersion when the source names a version), decided as one would be:
    identity policies, its bucket policy and ACL grants, anonymous callers included."""
    params: Params = {"Bucket": source.bucket, "Key": source.key}
    if source.version_id is not None:
        params["VersionId"] = source.version_id
    authorize_as(rt, ctx, "GetObject", params)


def copy_source_bytes(
    rt: Runtime,
    ctx: RequestContext,
    params: Params,
    span: Callable[[S3Object], tuple[int, int]],
    *,
    inline: bool = False,
) -> tuple[S3Object, Stored]:
    """The source version (checked: existence, access, conditions) and a new copy of the
    bytes `span` chooses of it: a blob, or inline in the new row when `inline` allows and
    they are few enough."""
    source = parse_copy_source(params.get("CopySource"))
    authorize_source(rt, ctx, source)
    for attempt in range(_ATTEMPTS):
        with rt.store.read() as s:
            row = find_source(s, ctx, source)
        source_conditions(row, params)
        start, end = span(row)
        try:
            pieces = data.open_bytes(backend(rt), row.blob_id, row.data, start, end)
        except FileNotFoundError:
            # Overwritten and its blob freed between the lookup and the open: look again.
            if attempt == _ATTEMPTS - 1:
                raise
            continue
        if inline:
            return row, data.store(backend(rt), pieces, end - start)
        return row, Stored.of_blob(backend(rt).put(pieces))
    raise AssertionError("unreachable")


def copy_object(rt: Runtime, ctx: RequestContext, params: Params) -> Result:
    name, key = str(params["Bucket"]), check_key(str(params["Key"]))
    with rt.store.read() as s:
        bucket = bucket_or_404(s, name)
    require_anonymous(ctx, bucket.acl, "WRITE")
    metadata = directive(params, "MetadataDirective")
    tags = directive(params, "TaggingDirective")

    def whole(row: S3Object) -> tuple[int, int]:
        _refuse_copy_to_itself(name, key, row, params)
        return 0, row.size

    source, stored = copy_source_bytes(rt, ctx, params, whole, inline=True)
    owner = ctx.principal.account_id or bucket.account_id
    try:
        row = S3Object(
            bucket=name,
            key=key,
            account_id=owner,
            size=stored.size,
            etag=f'"{stored.md5_hex}"',
            blob_id=stored.blob_id,
            data=stored.data,
            last_modified=now(),
            headers=_copied_headers(source, params, metadata),
            acl=new_object_acl(params, owner),
            tagging=source.tagging
            if tags == "COPY"
            else tagging.from_header(params.get("Tagging")),
            storage_class=str(params.get("StorageClass") or "STANDARD"),
        )
        freed, shown = writes.record(rt.store, row, params)
    except BaseException:
        data.discard(backend(rt), stored)
        raise
    free_blobs(rt, freed)
    out: Result = {
        "CopyObjectResult": {"ETag": row.etag, "LastModified": row.last_modified},
        **OBJECT_ENCRYPTION,
    }
    if shown:
        out["VersionId"] = shown
    if source.version_id != versions.NULL:
        out["CopySourceVersionId"] = source.version_id
    return out


def _copied_headers(source: S3Object, params: Params, metadata: str) -> str:
    """COPY keeps the source's headers and metadata; REPLACE takes them from the request.
    The data is the same either way, so its checksums carry over."""
    old: dict[str, Any] = json.loads(source.headers or "{}")
    if metadata == "COPY":
        return json.dumps(old)
    return json.dumps(stored_headers(params) | {"Checksums": old.get("Checksums", {})})


OPERATIONS: Operations = {
    "CopyObject": copy_object,
}
