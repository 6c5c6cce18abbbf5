"""ListObjects and ListObjectsV2: keys in UTF-8 byte order, prefixes, delimiters, paging.

Keys are read from the database in order, in batches, starting after the marker. A common
prefix is emitted once, and the scan then jumps past every key that shares it, so a bucket of a
million keys under one "directory" lists that directory in one step.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from sqlalchemy import false, select
from sqlalchemy.orm import Session

from mallee.api.context import RequestContext
from mallee.services import page_tokens
from mallee.services.base import Operations, Params, Result, Runtime
from mallee.services.s3 import errors
from mallee.services.s3.common import bucket_or_404, owner_of, require_anonymous
from mallee.services.s3.names import prefix_matches_some
from mallee.store.tables.s3 import S3Object

BATCH = 1000
MAX_KEYS = 1000


@dataclass
class Page:
    contents: list[S3Object] = field(default_factory=list)
    prefixes: list[str] = field(default_factory=list)
    truncated: bool = False
    # The last key or prefix returned: where the next page starts.
    last: str = ""


def after_prefix(prefix: str) -> str:
    """The smallest string greater than every string that starts with `prefix`."""
    return prefix[:-1] + chr(ord(prefix[-1]) + 1) if prefix else ""


def scan(
    s: Session, bucket: str, *, prefix: str, delimiter: str, start_after: str, max_keys: int
) -> Page:
    page = Page()
    cursor, inclusive = start_after, False
    if start_after and common_prefix(start_after, prefix, delimiter) == start_after:
        # The marker is a common prefix a previous page returned (ListObjects' NextMarker):
        # nothing under it comes again.
        cursor, inclusive = after_prefix(start_after), True
    if prefix and prefix > cursor:
        cursor, inclusive = prefix, True
    while True:
        rows = _batch(s, bucket, cursor, inclusive, prefix)
        if not rows:
            return page
        for row in rows:
            if prefix and not row.key.startswith(prefix):
                return page
            cursor, inclusive = row.key, False
            common = common_prefix(row.key, prefix, delimiter)
            if len(page.contents) + len(page.prefixes) >= max_keys:
                page.truncated = True
                return page
            if common is not None:
                page.prefixes.append(common)
                page.last = common
                cursor, inclusive = after_prefix(common), True
                break
            page.contents.append(row)
            page.last = row.key
        else:
            if len(rows) < BATCH:
                return page


def _batch(s: Session, bucket: str, cursor: str, inclusive: bool, prefix: str) -> list[S3Object]:
    key = S3Object.key
    query = select(S3Object).where(
        S3Object.bucket == bucket,
        S3Object.is_latest.is_(True),
        S3Object.delete_marker.is_(False),
        key >= cursor if inclusive else key > cursor,
    )
    if prefix:
        query = query.where(
            key.startswith(prefix, autoescape=True) if prefix_matches_some(prefix) else false()
        )
    return list(s.scalars(query.order_by(key).limit(BATCH)).all())


def common_prefix(key: str, prefix: str, delimiter: str) -> str | None:
    if not delimiter:
        return None
    at = key.find(delimiter, len(prefix))
    return key[: at + len(delimiter)] if at >= 0 else None


def max_keys_of(params: Params) -> int:
    value = params.get("MaxKeys")
    if value is None:
        return MAX_KEYS
    if int(value) < 0:
        raise errors.invalid_argument("Provided max-keys not an integer or within integer range")
    return min(int(value), MAX_KEYS)


def key_encoder(params: Params) -> Any:
    kind = params.get("EncodingType")
    if kind is None:
        return lambda text: text
    if kind != "url":
        raise errors.invalid_argument("Invalid Encoding Method specified in Request")
    return lambda text: quote(text, safe="/") if text else text


def _page(rt: Runtime, ctx: RequestContext, params: Params, start_after: str) -> tuple[Page, Any]:
    name = str(params["Bucket"])
    with rt.store.read() as s:
        bucket = bucket_or_404(s, name)
        require_anonymous(ctx, bucket.acl, "READ")
        page = scan(
            s,
            name,
            prefix=str(params.get("Prefix") or ""),
            delimiter=str(params.get("Delimiter") or ""),
            start_after=start_after,
            max_keys=max_keys_of(params),
        )
        owners = {a: owner_of(s, a) for a in {r.account_id for r in page.contents}}
    return page, owners


def list_objects(rt: Runtime, ctx: RequestContext, params: Params) -> Result:
    page, owners = _page(rt, ctx, params, str(params.get("Marker") or ""))
    enc = key_encoder(params)
    out = _common(params, page, enc, lambda r: owners[r.account_id])
    out["Marker"] = enc(str(params.get("Marker") or ""))
    if page.truncated and params.get("Delimiter"):
        out["NextMarker"] = enc(page.last)
    return out


def list_objects_v2(rt: Runtime, ctx: RequestContext, params: Params) -> Result:
    token = params.get("ContinuationToken")
    start = _decode_token(str(token)) if token else str(params.get("StartAfter") or "")
    page, owners = _page(rt, ctx, params, start)
    enc = key_encoder(params)
    fetch_owner = bool(params.get("FetchOwner"))
    out = _common(params, page, enc, lambda r: owners[r.account_id] if fetch_owner else None)
    out["KeyCount"] = len(page.contents) + len(page.prefixes)
    if token:
        out["ContinuationToken"] = str(token)
    if params.get("StartAfter"):
        out["StartAfter"] = enc(str(params["StartAfter"]))
    if page.truncated:
        out["NextContinuationToken"] = page_tokens.encode(page.last)
    return out


def _common(params: Params, page: Page, enc: Any, owner: Any) -> Result:
    contents = []
    for row in page.contents:
        item: dict[str, Any] = {
            "Key": enc(row.key),
            "LastModified": row.last_modified,
            "ETag": row.etag,
            "Size": row.size,
            "StorageClass": row.storage_class,
        }
        who = owner(row)
        if who is not None:
            item["Owner"] = who
        contents.append(item)
    out: Result = {
        "Name": str(params["Bucket"]),
        "Prefix": enc(str(params.get("Prefix") or "")),
        "MaxKeys": max_keys_of(params),
        "IsTruncated": page.truncated,
        "Contents": contents,
        "CommonPrefixes": [{"Prefix": enc(p)} for p in page.prefixes],
    }
    if params.get("Delimiter"):
        out["Delimiter"] = enc(str(params["Delimiter"]))
    if params.get("EncodingType"):
        out["EncodingType"] = "url"
    return out


def _decode_token(token: str) -> str:
    key = page_tokens.decode(token)
    if key is None:
        raise errors.invalid_argument(
            "The continuation token provided is incorrect", "continuation-token", token
        )
    return key


OPERATIONS: Operations = {
    "ListObjects": list_objects,
    "ListObjectsV2": list_objects_v2,
}
