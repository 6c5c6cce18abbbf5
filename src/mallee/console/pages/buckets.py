"""Buckets: list, create, delete; browse objects by prefix, upload, download, delete."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

from mallee.api.http import HttpResponse
from mallee.console.context import Ctx, Route
from mallee.console.html import (
    Html,
    button,
    field,
    form,
    hidden,
    join,
    link,
    render,
    section,
    table,
    url,
)
from mallee.console.web import PREFIX, SECURITY_HEADERS, BadRequest

# A download holds a thread of the server's default pool while it waits for S3's own answer,
# which needs that pool too: a few at a time leave the pool room to produce what they wait for.
_DOWNLOADS = threading.BoundedSemaphore(2)
_CHUNK = 256 * 1024


def buckets(ctx: Ctx) -> HttpResponse:
    found = ctx.client("s3").list_buckets().get("Buckets", [])
    rows = [
        (
            link(url(PREFIX + "/buckets/objects", bucket=b["Name"]), b["Name"]),
            b.get("CreationDate", ""),
            button(PREFIX + "/buckets/delete", ctx.csrf, {"bucket": b["Name"]}, "Delete"),
        )
        for b in found
    ]
    create = form(
        PREFIX + "/buckets/create", ctx.csrf, [field("Name", "bucket", required=True)], "Create"
    )
    return ctx.page(
        "Buckets",
        section("Buckets", table(["Name", "Created", ""], rows, empty="No buckets.")),
        section("Create a bucket", create),
    )


def create(ctx: Ctx) -> HttpResponse:
    name = ctx.arg("bucket")
    ctx.client("s3").create_bucket(Bucket=name)
    ctx.ok(f"Created bucket {name}")
    return ctx.back()


def delete(ctx: Ctx) -> HttpResponse:
    name = ctx.arg("bucket")
    ctx.client("s3").delete_bucket(Bucket=name)
    ctx.ok(f"Deleted bucket {name}")
    return ctx.back()


def _object_rows(ctx: Ctx, bucket: str, listing: dict[str, Any]) -> list[list[object]]:
    rows: list[list[object]] = [
        [
            link(url(PREFIX + "/buckets/objects", bucket=bucket, prefix=p["Prefix"]), p["Prefix"]),
            "",
            "",
            "",
        ]
        for p in listing.get("CommonPrefixes", [])
    ]
    for obj in listing.get("Contents", []):
        key = obj["Key"]
        actions = join(
            [
                link(url(PREFIX + "/buckets/download", bucket=bucket, key=key), "Download"),
                button(
                    PREFIX + "/buckets/delete-object",
                    ctx.csrf,
                    {"bucket": bucket, "key": key},
                    "Delete",
                ),
            ],
            " ",
        )
        rows.append([key, obj.get("Size", 0), obj.get("LastModified", ""), actions])
    return rows


def _upload_form(ctx: Ctx, bucket: str, prefix: str) -> Html:
    return form(
        PREFIX + "/buckets/upload",
        ctx.csrf,
        [
            hidden("bucket", bucket),
            hidden("prefix", prefix),
            render('<label>File <input type="file" name="file" required></label>'),
            field("Key (default: prefix + file name)", "key"),
        ],
        "Upload",
        multipart=True,
    )


def objects(ctx: Ctx) -> HttpResponse:
    bucket, prefix = ctx.arg("bucket"), ctx.request.query.get("prefix", "")
    params: dict[str, Any] = {"Bucket": bucket, "Prefix": prefix, "Delimiter": "/"}
    if ctx.arg("after"):
        params["ContinuationToken"] = ctx.arg("after")
    listing = ctx.client("s3").list_objects_v2(**params)
    parent = prefix.rstrip("/").rpartition("/")[0]
    nav = [link(PREFIX + "/buckets", "All buckets")]
    if prefix:
        nav.append(
            link(
                url(
                    PREFIX + "/buckets/objects",
                    bucket=bucket,
                    prefix=parent + "/" if parent else "",
                ),
                "Up",
            )
        )
    if listing.get("NextContinuationToken"):
        nav.append(
            link(
                url(
                    PREFIX + "/buckets/objects",
                    bucket=bucket,
                    prefix=prefix,
                    after=listing["NextContinuationToken"],
                ),
                "More",
            )
        )
    rows = _object_rows(ctx, bucket, listing)
    return ctx.page(
        f"Bucket {bucket}",
        render("<p>Prefix: <code>{p}</code> | {nav}</p>", p=prefix or "/", nav=join(nav, " | ")),
        section(
            "Objects", table(["Key", "Size", "Last modified", ""], rows, empty="No objects here.")
        ),
        section("Upload a file", _upload_form(ctx, bucket, prefix)),
    )


def _objects_page(bucket: str, prefix: str) -> str:
    return url("/buckets/objects", bucket=bucket, prefix=prefix)


def upload(ctx: Ctx) -> HttpResponse:
    bucket, prefix = ctx.arg("bucket"), ctx.request.form.get("prefix", "")
    sent = ctx.request.files.get("file")
    if sent is None or not sent.filename:
        raise BadRequest("choose a file to upload")
    key = ctx.request.form.get("key", "") or prefix + sent.filename
    ctx.client("s3").put_object(
        Bucket=bucket,
        Key=key,
        Body=sent.data,
        ContentType=sent.content_type or "application/octet-stream",
    )
    ctx.ok(f"Uploaded {key} ({len(sent.data)} bytes)")
    return ctx.back(_objects_page(bucket, prefix))


def delete_object(ctx: Ctx) -> HttpResponse:
    bucket, key = ctx.arg("bucket"), ctx.request.form.get("key", "")
    ctx.client("s3").delete_object(Bucket=bucket, Key=key)
    ctx.ok(f"Deleted {key}")
    prefix = key.rpartition("/")[0]
    return ctx.back(_objects_page(bucket, prefix + "/" if prefix else ""))


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


def download(ctx: Ctx) -> HttpResponse:
    bucket, key = ctx.arg("bucket"), ctx.request.query.get("key", "")
    if not _DOWNLOADS.acquire(timeout=30):
        ctx.error("Too many downloads at once: try again in a moment.")
        return ctx.back(_objects_page(bucket, ""))
    try:
        answer = ctx.client("s3").get_object(Bucket=bucket, Key=key)
    except BaseException:
        _DOWNLOADS.release()
        raise
    name = key.rpartition("/")[2] or "download"
    # Always an attachment of no particular type: an uploaded HTML file must never be rendered
    # as a page of the console's own origin (that would run its scripts with the session).
    headers = {
        **SECURITY_HEADERS,
        "content-type": "application/octet-stream",
        "content-disposition": f"attachment; filename*=UTF-8''{quote(name, safe='')}",
        "content-length": str(answer["ContentLength"]),
    }
    return HttpResponse(200, headers, stream=_Download(answer["Body"]))


ROUTES = [
    Route("GET", "/buckets", buckets, "/buckets"),
    Route("POST", "/buckets/create", create, "/buckets"),
    Route("POST", "/buckets/delete", delete, "/buckets"),
    Route("GET", "/buckets/objects", objects, "/buckets"),
    Route("POST", "/buckets/upload", upload, "/buckets"),
    Route("POST", "/buckets/delete-object", delete_object, "/buckets"),
    Route("GET", "/buckets/download", download, "/buckets"),
]
