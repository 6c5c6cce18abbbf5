"""Buckets: list, create, delete; a bucket's versions, ACL and policy; browse objects by prefix
a page at a time, upload (streamed: see console/uploads.py), download, delete."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote, urlencode

from botocore.exceptions import ClientError
from starlette.responses import Response, StreamingResponse

from mallee.console.context import BadRequest, Ctx, Route
from mallee.console.pages.listing import Column, api_page, listing, local_filters, local_page

# A download holds a thread while it waits for S3's own answer, which this same server gives:
# a few at a time leave the server's threads room to produce what they wait for.
_DOWNLOADS = threading.BoundedSemaphore(2)
_CHUNK = 256 * 1024


def objects_path(bucket: str, prefix: str = "", **more: str) -> str:
    return "/buckets/objects?" + urlencode({"bucket": bucket, "prefix": prefix, **more})


BUCKET_COLUMNS = (Column("name", "Name"), Column("created", "Created"))
OBJECT_COLUMNS = (
    Column("key", "Key"),
    Column("size", "Size"),
    Column("modified", "Last modified"),
)
VERSION_COLUMNS = (
    Column("key", "Key"),
    Column("version", "Version"),
    Column("latest", "Latest"),
    Column("size", "Size"),
    Column("modified", "Last modified"),
)


def buckets(ctx: Ctx) -> Response:
    # ListBuckets answers whole: the page is cut here.
    lst = listing(
        ctx, "/buckets", BUCKET_COLUMNS, local_filters(BUCKET_COLUMNS), default_sort="name"
    )
    found = ctx.client("s3").list_buckets().get("Buckets", [])
    rows = [{"name": b["Name"], "created": b.get("CreationDate", "")} for b in found]
    return ctx.page("buckets.html", "Buckets", lst=local_page(lst, rows))


def create(ctx: Ctx) -> Response:
    name = ctx.arg("bucket")
    ctx.client("s3").create_bucket(Bucket=name)
    ctx.ok(f"Created bucket {name}")
    return ctx.back()


def delete(ctx: Ctx) -> Response:
    name = ctx.arg("bucket")
    asked = ctx.confirmed(f"Delete the bucket {name}?", "Yes, delete it")
    if asked is not None:
        return asked
    ctx.client("s3").delete_bucket(Bucket=name)
    ctx.ok(f"Deleted bucket {name}")
    return ctx.back()


def objects(ctx: Ctx) -> Response:
    bucket, prefix = ctx.arg("bucket"), ctx.query("prefix")
    # The filter is S3's own: the keys that begin with the text, within this folder.
    lst = listing(
        ctx,
        "/buckets/objects",
        OBJECT_COLUMNS,
        [("begins", "Name begins with")],
        keep={"bucket": bucket, "prefix": prefix},
    )
    s3 = ctx.client("s3")
    folders: list[tuple[str, str]] = []

    def fetch(paging: dict[str, Any]) -> tuple[list[dict[str, Any]], str | None]:
        params: dict[str, Any] = {
            "Bucket": bucket,
            "Prefix": prefix + lst.value,
            "Delimiter": "/",
            "MaxKeys": paging["size"],
        }
        if "token" in paging:
            params["ContinuationToken"] = paging["token"]
        listed = s3.list_objects_v2(**params)
        folders.extend(
            (p["Prefix"], objects_path(bucket, p["Prefix"]))
            for p in listed.get("CommonPrefixes", [])
        )
        rows = [
            {
                "key": o["Key"],
                "size": o.get("Size", 0),
                "modified": o.get("LastModified", ""),
                "download": "/buckets/download?" + urlencode({"bucket": bucket, "key": o["Key"]}),
            }
            for o in listed.get("Contents", [])
        ]
        return rows, listed.get("NextContinuationToken")

    api_page(lst, fetch)
    links = [("/buckets", "All buckets"), (bucket_path(bucket), "Versions, ACL and policy")]
    if prefix:
        parent = prefix.rstrip("/").rpartition("/")[0]
        links.append((objects_path(bucket, parent + "/" if parent else ""), "Up"))
    return ctx.page(
        "objects.html",
        f"Bucket {bucket}",
        bucket=bucket,
        prefix_shown=prefix,
        links=links,
        folders=folders,
        lst=lst,
        here=objects_path(bucket, prefix),
    )


def bucket_path(bucket: str) -> str:
    return "/buckets/detail?" + urlencode({"bucket": bucket})


def _policy(s3: Any, bucket: str) -> str:
    try:
        text = str(s3.get_bucket_policy(Bucket=bucket).get("Policy", ""))
    except ClientError as failed:
        if failed.response.get("Error", {}).get("Code") == "NoSuchBucketPolicy":
            return ""
        raise
    try:
        return json.dumps(json.loads(text), indent=2)
    except ValueError:
        return text


def _grants(s3: Any, bucket: str) -> tuple[str, list[tuple[str, str]]]:
    acl = s3.get_bucket_acl(Bucket=bucket)
    owner = acl.get("Owner", {})
    grants = []
    for g in acl.get("Grants", []):
        who = g.get("Grantee", {})
        name = (
            who.get("DisplayName")
            or who.get("ID")
            or who.get("URI", "").rpartition("/")[2]
            or who.get("EmailAddress", "")
        )
        grants.append((name, g.get("Permission", "")))
    return owner.get("DisplayName") or owner.get("ID", ""), grants


def detail(ctx: Ctx) -> Response:
    """A bucket's versioning, its objects' versions (a page at a time), its ACL and policy."""
    bucket = ctx.arg("bucket")
    lst = listing(
        ctx,
        "/buckets/detail",
        VERSION_COLUMNS,
        [("begins", "Key begins with")],
        keep={"bucket": bucket},
    )
    s3 = ctx.client("s3")

    def fetch(paging: dict[str, Any]) -> tuple[list[dict[str, Any]], str | None]:
        params: dict[str, Any] = {"Bucket": bucket, "MaxKeys": paging["size"]}
        if lst.value:
            params["Prefix"] = lst.value
        if "token" in paging:
            # S3 pages versions by two markers; the page token holds both.
            key, _, version = paging["token"].partition("\n")
            params.update(KeyMarker=key, VersionIdMarker=version)
        listed = s3.list_object_versions(**params)
        rows = [
            {
                "key": v.get("Key", ""),
                "version": v.get("VersionId", ""),
                "latest": "yes" if v.get("IsLatest") else "",
                "size": v.get("Size", "") if kind == "Versions" else "(delete marker)",
                "modified": v.get("LastModified", ""),
            }
            for kind in ("Versions", "DeleteMarkers")
            for v in listed.get(kind, [])
        ]
        token = None
        if listed.get("IsTruncated"):
            token = f"{listed.get('NextKeyMarker', '')}\n{listed.get('NextVersionIdMarker', '')}"
        return rows, token

    api_page(lst, fetch)
    versioning = s3.get_bucket_versioning(Bucket=bucket).get("Status") or "never enabled"
    owner, grants = _grants(s3, bucket)
    return ctx.page(
        "bucket_detail.html",
        f"Bucket {bucket}",
        bucket=bucket,
        versioning=versioning,
        owner=owner,
        grants=grants,
        policy=_policy(s3, bucket),
        lst=lst,
        objects=objects_path(bucket),
    )


def set_versioning(ctx: Ctx) -> Response:
    bucket, status = ctx.arg("bucket"), ctx.arg("status")
    if status not in ("Enabled", "Suspended"):
        raise BadRequest("versioning is Enabled or Suspended")
    ctx.client("s3").put_bucket_versioning(
        Bucket=bucket, VersioningConfiguration={"Status": status}
    )
    ctx.ok(f"Versioning of {bucket}: {status}")
    return ctx.back(bucket_path(bucket))


def delete_object(ctx: Ctx) -> Response:
    bucket, key = ctx.arg("bucket"), ctx.form.get("key", "")
    asked = ctx.confirmed(f"Delete {key} from {bucket}?", "Yes, delete it")
    if asked is not None:
        return asked
    ctx.client("s3").delete_object(Bucket=bucket, Key=key)
    ctx.ok(f"Deleted {key}")
    prefix = key.rpartition("/")[0]
    return ctx.back(objects_path(bucket, prefix + "/" if prefix else ""))


class _Download:
    """The object's body, piece by piece; gives its download slot back when done or closed."""

    def __init__(self, body: Any) -> None:
        self._body = body
        self._pieces: Iterator[bytes] = body.iter_chunks(_CHUNK)
        self._open = True

    def __iter__(self) -> _Download:
        return self

    def __next__(self) -> bytes:
        try:
            return next(self._pieces)
        except BaseException:
            self.close()
            raise

    def __del__(self) -> None:
        # Should the server never stream it (the browser left first), the slot still returns.
        self.close()

    def close(self) -> None:
        if self._open:
            self._open = False
            self._body.close()
            _DOWNLOADS.release()


def download(ctx: Ctx) -> Response:
    bucket, key = ctx.arg("bucket"), ctx.query("key")
    if not _DOWNLOADS.acquire(timeout=30):
        ctx.error("Too many downloads at once: try again in a moment.")
        return ctx.back(objects_path(bucket))
    try:
        answer = ctx.client("s3").get_object(Bucket=bucket, Key=key)
    except BaseException:
        _DOWNLOADS.release()
        raise
    name = key.rpartition("/")[2] or "download"
    # Always an attachment of no particular type: an uploaded HTML file must never be rendered
    # as a page of the console's own origin (that would run its scripts with the session).
    headers = {
        "content-disposition": f"attachment; filename*=UTF-8''{quote(name, safe='')}",
        "content-length": str(answer["ContentLength"]),
    }
    return StreamingResponse(
        _Download(answer["Body"]), media_type="application/octet-stream", headers=headers
    )


ROUTES = [
    Route("GET", "/buckets", buckets, "/buckets"),
    Route("POST", "/buckets/create", create, "/buckets"),
    Route("POST", "/buckets/delete", delete, "/buckets"),
    Route("GET", "/buckets/objects", objects, "/buckets"),
    Route("GET", "/buckets/detail", detail, "/buckets"),
    Route("POST", "/buckets/versioning", set_versioning, "/buckets"),
    Route("POST", "/buckets/delete-object", delete_object, "/buckets"),
    Route("GET", "/buckets/download", download, "/buckets"),
]
