"""The `s3` backend: blobs as objects in one bucket of any S3-compatible store (Ceph RGW,
MinIO, AWS), as the OSG's s3provider client did for Eucalyptus.

Each blob is the object `<prefix><blob id>`; bucket names and keys of the cloud's users never
reach the store. Data streams both ways: a put sends blobs larger than one part as a multipart
upload whose parts are buffered one at a time (memory stays flat whatever the size), a read is
one GetObject (with a Range) whose body is passed on piece by piece. A blob is durable once the
store has answered 200 to its PutObject or CompleteMultipartUpload, which is when put returns.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import re
import secrets
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from botocore.config import Config
from botocore.exceptions import ClientError
from botocore.session import get_session

from mallee.objectstore.backends import Blob, Piece

MIB = 1 << 20
# Parts sent to the store: big enough that a 5 GiB blob stays far below 10,000 parts, small
# enough that a few dozen concurrent uploads buffer only a few hundred MiB.
PART = 8 * MIB
# The S3 minimum for every part but the last, and the largest part UploadPartCopy accepts.
MIN_PART = 5 * MIB
MAX_COPY_PART = 5 * 1024 * MIB
MAX_PARTS = 10_000
# Pieces a read hands on: the same size the fs backend reads.
PIECE = MIB
# UploadPartCopy and HeadObject are round trips that cost the store, not us: a few at a time.
COPY_THREADS = 8
_ID = re.compile(r"(?:[a-z]+-)?[0-9a-f]{32}")


def make_client(endpoint: str, access_key: str, secret_key: str, region: str = "us-east-1") -> Any:
    """A botocore S3 client for the store, shared by every request thread (clients are
    thread-safe) with a pool large enough for the api's worker threads."""
    config = Config(
        s3={"addressing_style": "path"},
        max_pool_connections=64,
        retries={"max_attempts": 3, "mode": "standard"},
        connect_timeout=10,
        read_timeout=120,
        # Ceph RGW and older MinIO reject the aws-chunked trailing checksums botocore sends by
        # default since 1.36; integrity comes from Content-MD5 on every upload instead.
        request_checksum_calculation="when_required",
        response_checksum_validation="when_required",
    )
    return get_session().create_client(
        "s3",
        endpoint_url=endpoint,
        region_name=region,
        aws_access_key_id=access_key,
        aws_secret_access_key=secret_key,
        config=config,
    )


def _code(err: ClientError) -> str:
    return str(err.response.get("Error", {}).get("Code", ""))


def _missing(err: ClientError) -> bool:
    status = err.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    return _code(err) in ("NoSuchKey", "NotFound", "404") or status == 404


class S3Backend:
    name = "s3"

    def __init__(self, client: Any, bucket: str, prefix: str = "", part_size: int = PART) -> None:
        if part_size < MIN_PART:
            raise ValueError(f"parts must be at least {MIN_PART} bytes")
        self.client = client
        self.bucket = bucket
        self.prefix = prefix
        self.part_size = part_size

    def ensure_bucket(self, region: str = "us-east-1") -> None:
        """Create the bucket when the store does not have it yet (a new deployment)."""
        try:
            self.client.head_bucket(Bucket=self.bucket)
            return
        except ClientError as err:
            if not _missing(err):
                raise
        args: dict[str, Any] = {"Bucket": self.bucket}
        if region != "us-east-1":
            args["CreateBucketConfiguration"] = {"LocationConstraint": region}
        try:
            self.client.create_bucket(**args)
        except ClientError as err:
            # Another api process created it first.
            if _code(err) not in ("BucketAlreadyOwnedByYou", "BucketAlreadyExists"):
                raise

    def _key(self, blob_id: str) -> str:
        if not _ID.fullmatch(blob_id):
            raise ValueError(f"not a blob id: {blob_id!r}")
        return self.prefix + blob_id

    # --- writes ---------------------------------------------------------------------------------

    def put(self, pieces: Iterable[Piece], kind: str = "") -> Blob:
        blob_id = f"{kind}-{secrets.token_hex(16)}" if kind else secrets.token_hex(16)
        key = self._key(blob_id)
        md5 = hashlib.md5(usedforsecurity=False)
        size = 0
        # The pieces of the part being gathered, sent as they are (no joined copy): memory per
        # upload is one part, whatever the blob's size.
        part: list[bytes] = []
        held = 0
        upload: _Upload | None = None
        try:
            for given in pieces:
                # botocore reads request bodies as bytes.
                piece = given if isinstance(given, bytes) else bytes(given)
                md5.update(piece)
                size += len(piece)
                part.append(piece)
                held += len(piece)
                if held >= self.part_size:
                    if upload is None:
                        upload = _Upload(self.client, self.bucket, key)
                    upload.send(_PartBody(part))
                    part, held = [], 0
            if upload is None:
                self.client.put_object(
                    Bucket=self.bucket,
                    Key=key,
                    Body=_PartBody(part),
                    ContentMD5=base64.b64encode(md5.digest()).decode(),
                )
            else:
                if part:
                    upload.send(_PartBody(part))
                upload.complete()
        except BaseException:
            # Nothing stays behind: the store drops an aborted upload's parts, and a body that
            # failed (bad signature, client gone) never reached PutObject.
            if upload is not None:
                upload.abort()
            raise
        return Blob(blob_id, size, md5.hexdigest())

    def concat(self, blob_ids: list[str]) -> Blob:
        """Joined inside the store with UploadPartCopy when every blob but the last is a legal
        part (5 MiB or more), so no byte passes through the api; otherwise streamed through.

        The server-side join never sees the bytes, so its Blob has an empty md5_hex (S3 gives
        multipart objects the MD5-of-MD5s ETag, computed from the parts, anyway)."""
        keys = [self._key(b) for b in blob_ids]
        with ThreadPoolExecutor(COPY_THREADS) as pool:
            sizes = list(pool.map(self._size, keys))
        ranges = _copy_ranges(sizes)
        if ranges is None:
            return self.put(piece for b in blob_ids for piece in self.read(b))
        blob_id = secrets.token_hex(16)
        upload = _Upload(self.client, self.bucket, self._key(blob_id))
        try:
            with ThreadPoolExecutor(COPY_THREADS) as pool:
                etags = list(
                    pool.map(
                        lambda n, r: upload.copy(n, keys[r[0]], r[1], r[2]),
                        range(1, len(ranges) + 1),
                        ranges,
                    )
                )
            upload.complete_with(etags)
        except BaseException:
            upload.abort()
            raise
        return Blob(blob_id, sum(sizes), "")

    def _size(self, key: str) -> int:
        try:
            head = self.client.head_object(Bucket=self.bucket, Key=key)
        except ClientError as err:
            if _missing(err):
                raise FileNotFoundError(key) from err
            raise
        return int(head["ContentLength"])

    def listing(self, kind: str) -> Iterator[tuple[str, float]]:
        pages = self.client.get_paginator("list_objects_v2")
        for page in pages.paginate(Bucket=self.bucket, Prefix=f"{self.prefix}{kind}-"):
            for found in page.get("Contents", []):
                yield found["Key"][len(self.prefix) :], found["LastModified"].timestamp()

    def delete(self, blob_id: str) -> None:
        try:
            self.client.delete_object(Bucket=self.bucket, Key=self._key(blob_id))
        except ClientError as err:
            if not _missing(err):
                raise

    # --- reads ----------------------------------------------------------------------------------

    def read(self, blob_id: str, start: int = 0, end: int | None = None) -> Iterator[bytes]:
        key = self._key(blob_id)
        if end is not None and end <= start:
            return iter(())
        args: dict[str, Any] = {"Bucket": self.bucket, "Key": key}
        if start > 0 or end is not None:
            args["Range"] = f"bytes={start}-" + ("" if end is None else str(end - 1))
        # Requested now, not on the first piece: the download holds the object open even if a
        # concurrent overwrite deletes the blob meanwhile (as the fs backend's open file does),
        # and a missing blob fails before any response header is sent.
        try:
            body = self.client.get_object(**args)["Body"]
        except ClientError as err:
            if _missing(err):
                raise FileNotFoundError(key) from err
            if _code(err) == "InvalidRange":
                return iter(())
            raise
        return _Download(body)


class _Download:
    """The store's response body in pieces; `close` (the server calls it when the client goes
    away) returns the connection even when no piece was read."""

    def __init__(self, body: Any) -> None:
        self._body = body
        self._pieces: Iterator[bytes] = body.iter_chunks(PIECE)

    def __iter__(self) -> _Download:
        return self

    def __next__(self) -> bytes:
        try:
            return next(self._pieces)
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        self._body.close()


class _PartBody:
    """A list of pieces as the seekable file botocore reads a request body from (it reads the
    body once to sign it, rewinds, and reads it again to send it)."""

    def __init__(self, pieces: list[bytes]) -> None:
        self._pieces = pieces
        self._size = sum(len(p) for p in pieces)
        self._pos = 0
        # (index of the piece holding _pos, offset of that piece in the body)
        self._at = (0, 0)

    def __len__(self) -> int:
        return self._size

    def md5_b64(self) -> str:
        md5 = hashlib.md5(usedforsecurity=False)
        for piece in self._pieces:
            md5.update(piece)
        return base64.b64encode(md5.digest()).decode()

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = 0) -> int:
        base = {0: 0, 1: self._pos, 2: self._size}[whence]
        self._pos = min(max(0, base + offset), self._size)
        index, start = 0, 0
        while index < len(self._pieces) and start + len(self._pieces[index]) <= self._pos:
            start += len(self._pieces[index])
            index += 1
        self._at = (index, start)
        return self._pos

    def read(self, size: int = -1) -> bytes:
        if size is None or size < 0:
            size = self._size - self._pos
        out: list[bytes] = []
        index, start = self._at
        while size > 0 and index < len(self._pieces):
            piece = self._pieces[index]
            offset = self._pos - start
            # A whole piece goes out as the same object: slicing bytes fully copies nothing.
            chunk = piece[offset : offset + size]
            out.append(chunk)
            size -= len(chunk)
            self._pos += len(chunk)
            if self._pos - start == len(piece):
                start += len(piece)
                index += 1
        self._at = (index, start)
        return out[0] if len(out) == 1 else b"".join(out)


class _Upload:
    """One multipart upload to the store."""

    def __init__(self, client: Any, bucket: str, key: str) -> None:
        self.client, self.bucket, self.key = client, bucket, key
        created = client.create_multipart_upload(Bucket=bucket, Key=key)
        self.upload_id: str = created["UploadId"]
        self.parts: list[dict[str, Any]] = []

    def send(self, body: _PartBody) -> None:
        number = len(self.parts) + 1
        answer = self.client.upload_part(
            Bucket=self.bucket,
            Key=self.key,
            UploadId=self.upload_id,
            PartNumber=number,
            Body=body,
            ContentMD5=body.md5_b64(),
        )
        self.parts.append({"PartNumber": number, "ETag": answer["ETag"]})

    def copy(self, number: int, source: str, first: int, last: int) -> str:
        answer = self.client.upload_part_copy(
            Bucket=self.bucket,
            Key=self.key,
            UploadId=self.upload_id,
            PartNumber=number,
            CopySource={"Bucket": self.bucket, "Key": source},
            CopySourceRange=f"bytes={first}-{last}",
        )
        return str(answer["CopyPartResult"]["ETag"])

    def complete_with(self, etags: list[str]) -> None:
        self.parts = [{"PartNumber": n, "ETag": e} for n, e in enumerate(etags, 1)]
        self.complete()

    def complete(self) -> None:
        self.client.complete_multipart_upload(
            Bucket=self.bucket,
            Key=self.key,
            UploadId=self.upload_id,
            MultipartUpload={"Parts": self.parts},
        )

    def abort(self) -> None:
        # Best effort: a store's lifecycle rule for incomplete uploads is the backstop.
        with contextlib.suppress(ClientError):
            self.client.abort_multipart_upload(
                Bucket=self.bucket, Key=self.key, UploadId=self.upload_id
            )


def _copy_ranges(sizes: list[int]) -> list[tuple[int, int, int]] | None:
    """The parts (source index, first byte, last byte) that join blobs of these sizes inside
    the store, or None when the store would refuse them (a part under 5 MiB that is not the
    last, too many parts) or there is nothing to copy. Empty blobs add nothing and are left out.
    """
    present = [(index, size) for index, size in enumerate(sizes) if size > 0]
    if not present or any(size < MIN_PART for _, size in present[:-1]):
        return None
    out: list[tuple[int, int, int]] = []
    for index, size in present:
        # Blobs over the copy limit go in equal slices, each far above the 5 MiB minimum.
        count = -(-size // MAX_COPY_PART)
        step = -(-size // count)
        out += [(index, at, min(at + step, size) - 1) for at in range(0, size, step)]
    return out if len(out) <= MAX_PARTS else None
