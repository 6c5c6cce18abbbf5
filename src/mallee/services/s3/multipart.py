"""Multipart uploads: Create, UploadPart(Copy), Complete, Abort, ListParts, ListMultipartUploads.

Each part streams into a backend blob of its own and is then recorded as a row of its upload.
Completion concatenates the chosen parts' blobs into the object's blob outside any transaction,
then records the version and drops the upload in one transaction. A blob is deleted only after
the commit that stops referencing it, so a crash leaves at worst unreferenced blobs, never rows
without data.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from sqlalchemy import delete, false, select, tuple_
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from mallee.api.context import RequestContext
from mallee.objectstore import versions
from mallee.objectstore.backends import Blob
from mallee.services.base import Operations, Params, Result, Runtime
from mallee.services.s3 import errors, tagging
from mallee.services.s3.blobs import backend, free_blobs
from mallee.services.s3.checksums import Checksums, content_md5
from mallee.services.s3.common import (
    bucket_or_404,
    check_write_conditions,
    new_object_acl,
    now,
    owner_of,
    require_anonymous,
)
from mallee.services.s3.copy import copy_range, copy_source_bytes
from mallee.services.s3.encryption import OBJECT_ENCRYPTION
from mallee.services.s3.listing import after_prefix, common_prefix, key_encoder
from mallee.services.s3.names import check_key, prefix_matches_some
from mallee.services.s3.objects import (
    STATUS,
    locked_bucket,
    pieces,
    stored_headers,
)
from mallee.store.tables.s3 import S3Bucket, S3Object, S3Part, S3Upload

MIN_PART_SIZE = 5 << 20
MAX_PART_NUMBER = 10_000
MAX_LISTED = 1000


def new_upload_id() -> str:
    # Time first, so upload ids of one key sort in the order they were initiated (the order
    # ListMultipartUploads gives, with upload-id-marker paging by id).
    return f"{time.time_ns():016x}" + secrets.token_urlsafe(36)


def upload_etag(part_etags: Iterable[str]) -> str:
    """A multipart object's ETag: the MD5 of the parts' binary MD5s, then "-<part count>"."""
    digests = [bytes.fromhex(tag.strip('"')) for tag in part_etags]
    md5 = hashlib.md5(b"".join(digests), usedforsecurity=False)
    return f'"{md5.hexdigest()}-{len(digests)}"'


def part_number(value: Any) -> int:
    try:
        number = int(value)
    except (TypeError, ValueError):
        number = 0
    if not 1 <= number <= MAX_PART_NUMBER:
        raise errors.invalid_argument(
            "Part number must be an integer between 1 and 10000, inclusive",
            "partNumber",
            str(value),
        )
    return number


def requested_parts(spec: Any) -> list[tuple[int, str]]:
    """(part number, ETag without quotes) of a CompleteMultipartUpload body, in order."""
    items = (spec or {}).get("Parts") or []
    if not items:
        raise errors.malformed_xml()
    out: list[tuple[int, str]] = []
    for item in items:
        if item.get("PartNumber") is None or item.get("ETag") is None:
            raise errors.malformed_xml()
        number = int(item["PartNumber"])
        if out and number <= out[-1][0]:
            raise errors.invalid_part_order()
        out.append((number, str(item["ETag"]).strip('"')))
    return out


def chosen_parts(requested: list[tuple[int, str]], stored: dict[int, S3Part]) -> list[S3Part]:
    """The stored parts the completion names; every one but the last at least 5 MiB."""
    chosen = []
    for number, etag in requested:
        part = stored.get(number)
        if part is None or part.etag.strip('"') != etag:
            raise errors.invalid_part(number, etag)
        chosen.append(part)
    for part in chosen[:-1]:
        if part.size < MIN_PART_SIZE:
            raise errors.entity_too_small(
                part.size,
                MIN_PART_SIZE,
                PartNumber=str(part.part_number),
                ETag=part.etag.strip('"'),
            )
    return chosen


def _max(params: Params, member: str) -> int:
    value = params.get(member)
    if value is None:
        return MAX_LISTED
    if int(value) < 0:
        raise errors.invalid_argument(
            f"Argument {member} must be an integer between 0 and 2147483647"
        )
    return min(int(value), MAX_LISTED)


def _find_upload(s: Session, params: Params, lock: bool = False) -> S3Upload:
    upload_id = str(params["UploadId"])
    query = select(S3Upload).where(S3Upload.upload_id == upload_id)
    if lock:
        query = query.with_for_update()
    upload = s.scalars(query).first()
    if upload is None or upload.bucket != params["Bucket"] or upload.key != params["Key"]:
        raise errors.no_such_upload(upload_id)
    return upload


def _drop_upload(s: Session, upload: S3Upload) -> list[str]:
    """Delete the upload and its parts; the parts' blob ids, to free after the commit."""
    where = S3Part.upload_id == upload.upload_id
    blob_ids = list(s.scalars(select(S3Part.blob_id).where(where)).all())
    s.execute(delete(S3Part).where(where))
    s.delete(upload)
    return blob_ids


def _bucket(rt: Runtime, ctx: RequestContext, params: Params, permission: str) -> S3Bucket:
    with rt.store.read() as s:
        bucket = bucket_or_404(s, str(params["Bucket"]))
    require_anonymous(ctx, bucket.acl, permission)
    return bucket


def create_multipart_upload(rt: Runtime, ctx: RequestContext, params: Params) -> Result:
    name, key = str(params["Bucket"]), check_key(str(params["Key"]))
    bucket = _bucket(rt, ctx, params, "WRITE")
    owner = ctx.principal.account_id or bucket.account_id
    upload = S3Upload(
        upload_id=new_upload_id(),
        bucket=name,
        key=key,
        account_id=owner,
        initiated_at=now(),
        headers=json.dumps(stored_headers(params)),
        acl=new_object_acl(params, owner),
        tagging=tagging.from_header(params.get("Tagging")),
        storage_class=str(params.get("StorageClass") or "STANDARD"),
    )
    try:
        with rt.store.session() as s:
            s.add(upload)
    except IntegrityError as err:  # the bucket went away meanwhile
        raise errors.no_such_bucket(name) from err
    return {"Bucket": name, "Key": key, "UploadId": upload.upload_id, **OBJECT_ENCRYPTION}


def upload_part(rt: Runtime, ctx: RequestContext, params: Params) -> Result:
    number = part_number(params.get("PartNumber"))
    _bucket(rt, ctx, params, "WRITE")
    with rt.store.read() as s:
        _find_upload(s, params)  # before taking in the body
    md5 = content_md5(params.get("ContentMD5"))
    sums = Checksums.requested(params)
    blob = backend(rt).put(sums.watch(pieces(params.get("Body"))))

    def verify() -> None:
        if md5 is not None and md5 != blob.md5_hex:
            raise errors.bad_digest()
        sums.verify()

    part = _keep_part(rt, params, number, blob, verify, sums.output())
    return {"ETag": part.etag, **sums.output(), **OBJECT_ENCRYPTION}


def upload_part_copy(rt: Runtime, ctx: RequestContext, params: Params) -> Result:
    number = part_number(params.get("PartNumber"))
    _bucket(rt, ctx, params, "WRITE")
    with rt.store.read() as s:
        _find_upload(s, params)
    header = params.get("CopySourceRange")
    source, copied = copy_source_bytes(rt, ctx, params, lambda r: copy_range(header, r.size))
    assert copied.blob_id is not None  # parts are always blobs
    blob = Blob(copied.blob_id, copied.size, copied.md5_hex)
    part = _keep_part(rt, params, number, blob, lambda: None, {})
    out: Result = {
        "CopyPartResult": {"ETag": part.etag, "LastModified": part.last_modified},
        **OBJECT_ENCRYPTION,
    }
    if source.version_id != versions.NULL:
        out["CopySourceVersionId"] = source.version_id
    return out


def _keep_part(
    rt: Runtime,
    params: Params,
    number: int,
    blob: Blob,
    verify: Callable[[], None],
    checksums: dict[str, str],
) -> S3Part:
    """Record a stored blob as part `number` once `verify` passes; else delete the blob."""
    try:
        verify()
        part = S3Part(
            upload_id=str(params["UploadId"]),
            part_number=number,
            size=blob.size,
            etag=f'"{blob.md5_hex}"',
            blob_id=blob.blob_id,
            last_modified=now(),
            checksums=json.dumps(checksums),
        )
        freed = _record_part(rt, params, part)
    except BaseException:
        backend(rt).delete(blob.blob_id)
        raise
    free_blobs(rt, freed)
    return part


def _record_part(rt: Runtime, params: Params, part: S3Part) -> list[str]:
    """Store the part, replacing one of the same number; the replaced blob id to free."""
    try:
        with rt.store.session() as s:
            # Locked: an Abort or Complete of this upload waits for this part, or wins.
            _find_upload(s, params, lock=True)
            old = s.get(S3Part, (part.upload_id, part.part_number))
            freed = [old.blob_id] if old is not None else []
            if old is not None:
                s.delete(old)
                s.flush()
            s.add(part)
        return freed
    except IntegrityError as err:  # the upload was aborted or completed meanwhile
        raise errors.no_such_upload(part.upload_id) from err


def complete_multipart_upload(rt: Runtime, ctx: RequestContext, params: Params) -> Result:
    requested = requested_parts(params.get("MultipartUpload"))
    name, key = str(params["Bucket"]), str(params["Key"])
    _bucket(rt, ctx, params, "WRITE")
    with rt.store.read() as s:
        upload = _find_upload(s, params)
        stored = {p.part_number: p for p in s.scalars(
            select(S3Part).where(S3Part.upload_id == upload.upload_id)
        )}  # fmt: skip
    chosen = chosen_parts(requested, stored)
    blob = _concat(rt, params, chosen)
    try:
        row = S3Object(
            bucket=name,
            key=key,
            account_id=upload.account_id,
            size=blob.size,
            etag=upload_etag(part.etag for part in chosen),
            blob_id=blob.blob_id,
            last_modified=now(),
            headers=upload.headers,
            acl=upload.acl,
            tagging=upload.tagging,
            storage_class=upload.storage_class,
        )
        freed, shown = _commit_upload(rt, params, row, chosen)
    except BaseException:
        backend(rt).delete(blob.blob_id)
        raise
    free_blobs(rt, freed)
    out: Result = {
        "Bucket": name,
        "Key": key,
        "ETag": row.etag,
        "Location": _location(ctx, name, key),
        **OBJECT_ENCRYPTION,
    }
    if shown:
        out["VersionId"] = shown
    return out


def _concat(rt: Runtime, params: Params, chosen: list[S3Part]) -> Blob:
    try:
        return backend(rt).concat([part.blob_id for part in chosen])
    except FileNotFoundError as err:
        # A part's blob was freed while we read it: a concurrent Complete or Abort won
        # (NoSuchUpload), or the part was uploaded again (the list no longer matches).
        with rt.store.read() as s:
            _find_upload(s, params)
        raise errors.invalid_part(chosen[0].part_number, chosen[0].etag.strip('"')) from err


def _commit_upload(
    rt: Runtime, params: Params, row: S3Object, chosen: list[S3Part]
) -> tuple[list[str], str | None]:
    """Record the object and drop the upload: (blobs to free, version id to report)."""
    with rt.store.session() as s:
        bucket = locked_bucket(s, row.bucket)
        upload = _find_upload(s, params, lock=True)
        # A part re-uploaded while we concatenated: our copy holds its old bytes.
        now_stored = dict(
            s.execute(
                select(S3Part.part_number, S3Part.blob_id).where(
                    S3Part.upload_id == upload.upload_id
                )
            )
            .tuples()
            .all()
        )
        for part in chosen:
            if now_stored.get(part.part_number) != part.blob_id:
                raise errors.invalid_part(part.part_number, part.etag.strip('"'))
        check_write_conditions(versions.latest(s, row.bucket, row.key), params)
        row.version_id = versions.new_version_id(bucket)
        freed = versions.put_version(s, bucket, row) + _drop_upload(s, upload)
        return freed, versions.shown(bucket, row.version_id)


def abort_multipart_upload(rt: Runtime, ctx: RequestContext, params: Params) -> Result:
    _bucket(rt, ctx, params, "WRITE")
    with rt.store.session() as s:
        freed = _drop_upload(s, _find_upload(s, params, lock=True))
    free_blobs(rt, freed)
    return {STATUS: 204}


def list_parts(rt: Runtime, ctx: RequestContext, params: Params) -> Result:
    _bucket(rt, ctx, params, "READ")
    limit, marker = _max(params, "MaxParts"), int(params.get("PartNumberMarker") or 0)
    with rt.store.read() as s:
        upload = _find_upload(s, params)
        found = list(
            s.scalars(
                select(S3Part)
                .where(S3Part.upload_id == upload.upload_id, S3Part.part_number > marker)
                .order_by(S3Part.part_number)
                .limit(limit + 1)
            )
        )
        owner = owner_of(s, upload.account_id)
    parts = found[:limit]
    out: Result = {
        "Bucket": upload.bucket,
        "Key": upload.key,
        "UploadId": upload.upload_id,
        "PartNumberMarker": marker,
        "MaxParts": limit,
        "IsTruncated": len(found) > limit,
        "Parts": [_part(p) for p in parts],
        "Initiator": owner,
        "Owner": owner,
        "StorageClass": upload.storage_class,
    }
    if parts:
        out["NextPartNumberMarker"] = parts[-1].part_number
    return out


def list_multipart_uploads(rt: Runtime, ctx: RequestContext, params: Params) -> Result:
    name = str(params["Bucket"])
    _bucket(rt, ctx, params, "READ")
    prefix, delimiter = str(params.get("Prefix") or ""), str(params.get("Delimiter") or "")
    key_marker = str(params.get("KeyMarker") or "")
    id_marker = str(params.get("UploadIdMarker") or "") if key_marker else ""
    limit = _max(params, "MaxUploads")
    start = _start(prefix, delimiter, key_marker, id_marker)
    with rt.store.read() as s:
        page = scan_uploads(s, name, prefix, delimiter, start, limit)
        owners = {a: owner_of(s, a) for a in {u.account_id for u in page.uploads}}
    enc = key_encoder(params)
    out: Result = {
        "Bucket": name,
        "KeyMarker": enc(key_marker),
        "UploadIdMarker": id_marker,
        "Prefix": enc(prefix),
        "MaxUploads": limit,
        "IsTruncated": page.truncated,
        "Uploads": [_upload(u, owners[u.account_id], enc) for u in page.uploads],
        "CommonPrefixes": [{"Prefix": enc(p)} for p in page.prefixes],
    }
    if delimiter:
        out["Delimiter"] = enc(delimiter)
    if params.get("EncodingType"):
        out["EncodingType"] = "url"
    if page.truncated:
        out["NextKeyMarker"] = enc(page.last[0])
        if page.last[1] is not None:
            out["NextUploadIdMarker"] = page.last[1]
    return out


@dataclass
class UploadPage:
    uploads: list[S3Upload] = field(default_factory=list)
    prefixes: list[str] = field(default_factory=list)
    truncated: bool = False
    # The last key (and upload id, unless it was a common prefix) returned.
    last: tuple[str, str | None] = ("", None)


def _start(prefix: str, delimiter: str, key_marker: str, id_marker: str) -> tuple[str, str]:
    """The (key, upload id) the listing starts after."""
    if key_marker and common_prefix(key_marker, prefix, delimiter) == key_marker:
        # The marker is a common prefix given back by an earlier page: skip all keys under it.
        return after_prefix(key_marker), ""
    # Past a key marker without an upload id marker, every upload of that key is skipped.
    return key_marker, id_marker or "\U0010ffff"


def scan_uploads(
    s: Session, bucket: str, prefix: str, delimiter: str, cursor: tuple[str, str], limit: int
) -> UploadPage:
    """Uploads and common prefixes in (key, upload id) order after `cursor`."""
    page = UploadPage()
    while True:
        query = select(S3Upload).where(
            S3Upload.bucket == bucket,
            tuple_(S3Upload.key, S3Upload.upload_id) > tuple_(*cursor),
            S3Upload.key.startswith(prefix, autoescape=True)
            if prefix_matches_some(prefix)
            else false(),
        )
        batch = list(s.scalars(query.order_by(S3Upload.key, S3Upload.upload_id).limit(MAX_LISTED)))
        for upload in batch:
            if len(page.uploads) + len(page.prefixes) >= limit:
                page.truncated = True
                return page
            common = common_prefix(upload.key, prefix, delimiter)
            if common is None:
                page.uploads.append(upload)
                cursor = (upload.key, upload.upload_id)
                page.last = cursor
                continue
            page.prefixes.append(common)
            page.last = (common, None)
            # Jump past every key sharing the prefix ("" sorts before any upload id).
            cursor = (after_prefix(common), "")
            break
        else:
            if len(batch) < MAX_LISTED:
                return page


def _part(part: S3Part) -> dict[str, Any]:
    out: dict[str, Any] = {
        "PartNumber": part.part_number,
        "LastModified": part.last_modified,
        "ETag": part.etag,
        "Size": part.size,
    }
    out.update(json.loads(part.checksums or "{}"))
    return out


def _upload(upload: S3Upload, owner: dict[str, str], enc: Any) -> dict[str, Any]:
    return {
        "UploadId": upload.upload_id,
        "Key": enc(upload.key),
        "Initiated": upload.initiated_at,
        "StorageClass": upload.storage_class,
        "Owner": owner,
        "Initiator": owner,
    }


def _location(ctx: RequestContext, bucket: str, key: str) -> str:
    host = ctx.http.headers.get("host", "")
    scheme = ctx.http.headers.get("x-forwarded-proto", "http")
    return f"{scheme}://{host}/{bucket}/{quote(key)}"


OPERATIONS: Operations = {
    "CreateMultipartUpload": create_multipart_upload,
    "UploadPart": upload_part,
    "UploadPartCopy": upload_part_copy,
    "CompleteMultipartUpload": complete_multipart_upload,
    "AbortMultipartUpload": abort_multipart_upload,
    "ListParts": list_parts,
    "ListMultipartUploads": list_multipart_uploads,
}
