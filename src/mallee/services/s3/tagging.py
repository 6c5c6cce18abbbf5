"""Tagging: object tags (per version) and bucket tags, stored as JSON lists of {Key, Value}.

Object tags also arrive with PutObject as the x-amz-tagging header, a URL-encoded query string;
`from_header` turns that into the same stored form (multipart uploads keep it on the upload).
"""

from __future__ import annotations

import json
import unicodedata
from typing import Any
from urllib.parse import parse_qsl

from mallee.api.context import RequestContext
from mallee.objectstore import versions
from mallee.services.base import Operations, Params, Result, Runtime
from mallee.services.s3 import errors
from mallee.services.s3.common import bucket_or_404, named_version

STATUS = "@status"
MAX_OBJECT_TAGS = 10
MAX_BUCKET_TAGS = 50
MAX_KEY = 128
MAX_VALUE = 256
# Besides letters, digits and separators, what AWS tag keys and values may hold.
_PUNCTUATION = set("+-=._:/@")


def _allowed(text: str) -> bool:
    # AWS's [\p{L}\p{Z}\p{N}_.:/=+\-@]*: \p{Z} is separators, not str.isspace(), which also
    # takes control characters (U+001C..U+001F) that no XML answer could then carry.
    return all(
        c.isalnum() or unicodedata.category(c).startswith("Z") or c in _PUNCTUATION for c in text
    )


def check_tags(tags: list[dict[str, Any]], limit: int, kind: str) -> list[dict[str, str]]:
    """Validated tags in their stored form; InvalidTag as S3 says it."""
    if len(tags) > limit:
        raise errors.invalid_tag(f"{kind} tags cannot be greater than {limit}")
    out: list[dict[str, str]] = []
    seen: set[str] = set()
    for tag in tags:
        key, value = str(tag.get("Key") or ""), str(tag.get("Value") or "")
        if not key or not _allowed(key):
            raise errors.invalid_tag("The TagKey you have provided is invalid")
        if len(key) > MAX_KEY:
            raise errors.invalid_tag(f"The TagKey you have provided is too long, max {MAX_KEY}")
        if len(value) > MAX_VALUE:
            raise errors.invalid_tag(f"The TagValue you have provided is too long, max {MAX_VALUE}")
        if not _allowed(value):
            raise errors.invalid_tag("The TagValue you have provided is invalid")
        if key.lower().startswith("aws:"):
            raise errors.invalid_tag("System tags cannot be added/updated by requester")
        if key in seen:
            raise errors.invalid_tag("Cannot provide multiple Tags with the same key")
        seen.add(key)
        out.append({"Key": key, "Value": value})
    return out


def from_header(value: Any) -> str | None:
    """The stored tagging for an x-amz-tagging header ("k1=v1&k2=v2"), None when absent."""
    if value is None:
        return None
    pairs = parse_qsl(str(value), keep_blank_values=True)
    tags = check_tags([{"Key": k, "Value": v} for k, v in pairs], MAX_OBJECT_TAGS, "Object")
    return json.dumps(tags) if tags else None


def loads(text: str | None) -> list[dict[str, str]]:
    if not text:
        return []
    found: list[dict[str, str]] = json.loads(text)
    return found


def tag_count(text: str | None) -> int:
    return len(loads(text))


def _deny_anonymous(ctx: RequestContext) -> None:
    # No ACL grant covers tagging: only IAM (already evaluated) can allow it.
    if ctx.principal.kind == "anonymous":
        raise errors.access_denied()


def _tag_set(params: Params) -> list[dict[str, Any]]:
    tagging = params.get("Tagging")
    if not isinstance(tagging, dict) or "TagSet" not in tagging:
        raise errors.malformed_xml()
    found: list[dict[str, Any]] = tagging["TagSet"] or []
    return found


def put_object_tagging(rt: Runtime, ctx: RequestContext, params: Params) -> Result:
    _deny_anonymous(ctx)
    tags = check_tags(_tag_set(params), MAX_OBJECT_TAGS, "Object")
    with rt.store.session() as s:
        bucket = bucket_or_404(s, str(params["Bucket"]))
        row = named_version(s, params)
        row.tagging = json.dumps(tags) if tags else None
        shown = versions.shown(bucket, row.version_id)
    return {"VersionId": shown} if shown else {}


def get_object_tagging(rt: Runtime, ctx: RequestContext, params: Params) -> Result:
    _deny_anonymous(ctx)
    with rt.store.read() as s:
        bucket = bucket_or_404(s, str(params["Bucket"]))
        row = named_version(s, params)
        out: Result = {"TagSet": loads(row.tagging)}
        shown = versions.shown(bucket, row.version_id)
    if shown:
        out["VersionId"] = shown
    return out


def delete_object_tagging(rt: Runtime, ctx: RequestContext, params: Params) -> Result:
    _deny_anonymous(ctx)
    with rt.store.session() as s:
        bucket = bucket_or_404(s, str(params["Bucket"]))
        row = named_version(s, params)
        row.tagging = None
        shown = versions.shown(bucket, row.version_id)
    out: Result = {STATUS: 204}
    if shown:
        out["VersionId"] = shown
    return out


def put_bucket_tagging(rt: Runtime, ctx: RequestContext, params: Params) -> Result:
    _deny_anonymous(ctx)
    tags = check_tags(_tag_set(params), MAX_BUCKET_TAGS, "Bucket")
    with rt.store.session() as s:
        bucket = bucket_or_404(s, str(params["Bucket"]))
        # An empty tag set leaves the bucket without tags, as DeleteBucketTagging would.
        bucket.tagging = json.dumps(tags) if tags else None
    return {STATUS: 204}


def get_bucket_tagging(rt: Runtime, ctx: RequestContext, params: Params) -> Result:
    _deny_anonymous(ctx)
    name = str(params["Bucket"])
    with rt.store.read() as s:
        tags = loads(bucket_or_404(s, name).tagging)
    if not tags:
        raise errors.no_such_tag_set(name)
    return {"TagSet": tags}


def delete_bucket_tagging(rt: Runtime, ctx: RequestContext, params: Params) -> Result:
    _deny_anonymous(ctx)
    with rt.store.session() as s:
        bucket_or_404(s, str(params["Bucket"])).tagging = None
    return {STATUS: 204}


OPERATIONS: Operations = {
    "PutObjectTagging": put_object_tagging,
    "GetObjectTagging": get_object_tagging,
    "DeleteObjectTagging": delete_object_tagging,
    "PutBucketTagging": put_bucket_tagging,
    "GetBucketTagging": get_bucket_tagging,
    "DeleteBucketTagging": delete_bucket_tagging,
}
