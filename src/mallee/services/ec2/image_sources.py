"""Where a RegisterImage's bits come from: an object in the object store, or (for the cloud
admin) a file on the cloud's host.

An object is read with S3's own GetObject, as the caller (the gateway's internal call), and
copied into a blob of the image's own at registration: the image must not change
when the object is overwritten or deleted later, as an AMI does not when its bundle does. The
image's location is then "blob:<id>", which node image caches read through the backend.
Encrypted euca2ools bundles (*.manifest.xml) are not unpacked: upload the image file itself
(euca-install-image does).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from mallee.api.context import RequestContext
from mallee.api.errors import ServiceError
from mallee.objectstore.backends import Backend, Piece
from mallee.services.base import Runtime
from mallee.services.ec2 import errors

BLOB_PREFIX = "blob:"


@dataclass(frozen=True)
class ImageSource:
    location: str  # "file:/abs/path" or "blob:<id>"
    head: bytes
    digest: str
    size: int
    # A name that may hint at the image type (file or key name).
    hint: str


def local_file(ctx: RequestContext, location: str) -> ImageSource:
    """The admin's local image file named by ImageLocation ("file:/abs/path")."""
    if not ctx.principal.is_cloud_admin:
        raise errors.auth_failure("Only the cloud administrator may register local files")
    path = Path(location.removeprefix("file:"))
    if not path.is_absolute() or not path.is_file():
        raise errors.invalid_parameter("ImageLocation", location, "No such image file.")
    path = path.resolve()
    h = hashlib.sha256()
    with path.open("rb") as f:
        head = f.read(0x210)
        h.update(head)
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return ImageSource(f"file:{path}", head, h.hexdigest(), path.stat().st_size, path.name)


def stored_object(rt: Runtime, ctx: RequestContext, backend: Backend, location: str) -> ImageSource:
    """An image uploaded to the object store, named "bucket/key" (or "/bucket/key"), read as
    the caller's own GetObject of it would be. Whoever may not read it learns nothing more:
    a missing object answers as a forbidden one, unless S3 would tell this caller it is
    missing (NoSuchKey goes only to callers who may list the bucket)."""
    bucket, _, key = location.lstrip("/").partition("/")
    if not bucket or not key:
        raise errors.invalid_parameter("ImageLocation", location, "Expected bucket/key.")
    if key.endswith(".manifest.xml"):
        raise errors.unsupported(
            f"Cannot register {location}: encrypted bundles are not unpacked; upload the "
            "image file itself to the bucket and register bucket/key"
        )
    try:
        found = rt.calls.call(
            "s3", "GetObject", {"Bucket": bucket, "Key": key}, principal=ctx.principal
        )
    except ServiceError as err:
        if err.code in ("NoSuchBucket", "NoSuchKey"):
            raise errors.invalid_parameter("ImageLocation", location, "No such object.") from None
        raise errors.auth_failure(f"Not authorized to read {location}") from None
    body = found["Body"]
    # A small object comes back whole (kept in its row), a larger one as a stream of pieces.
    pieces: Iterator[Piece] = iter((body,)) if isinstance(body, bytes) else body
    return _copy(backend, pieces, key)


def _copy(backend: Backend, pieces: Iterator[Piece], key: str) -> ImageSource:
    h = hashlib.sha256()
    head = bytearray()

    def watched() -> Iterator[Piece]:
        for piece in pieces:
            h.update(piece)
            if len(head) < 0x210:
                head.extend(piece[: 0x210 - len(head)])
            yield piece

    blob = backend.put(watched())
    return ImageSource(
        f"{BLOB_PREFIX}{blob.blob_id}", bytes(head), h.hexdigest(), blob.size, key.rsplit("/")[-1]
    )
