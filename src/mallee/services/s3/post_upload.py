"""Browser POST uploads (S3 "POST Object"): `POST /bucket` with a multipart/form-data body.

botocore's model has no operation for it, so the provider answers it before the model routes
(see S3Provider.answer_unrouted). The form's fields are read first and checked (signature, policy
document); the file part then streams straight into PutObject's write path: one object write
path, whatever the request looked like. Nothing of the file is held in memory.
"""

from __future__ import annotations

import contextlib
import io
import logging
import time
from collections.abc import Callable, Iterator
from email.utils import parsedate_to_datetime
from functools import partial
from typing import Any
from urllib.parse import quote, unquote, urlencode, urlsplit

from mallee.api.auth.common import Ctx, find_credential
from mallee.api.auth.errors import Failure
from mallee.api.context import RequestContext
from mallee.api.errors import ServiceError
from mallee.api.http import BodyStream, HttpResponse
from mallee.api.models import load_service_model
from mallee.api.protocol.restxml_serializer import host_id
from mallee.api.protocol.xmlutil import escape_text
from mallee.api.streams import VerifiedStream
from mallee.identity.credentials import lookup_credential
from mallee.services.base import Runtime
from mallee.services.s3 import errors, objects
from mallee.services.s3.form_data import Form, FormDataReader, boundary_of
from mallee.services.s3.post_policy import (
    check_policy,
    parse_policy,
    signature_fields,
    signature_matches,
)

log = logging.getLogger(__name__)

Authorize = Callable[[RequestContext], None]

# Form fields that set what PutObject's headers would.
FIELD_PARAMS = {
    "cache-control": "CacheControl",
    "content-type": "ContentType",
    "content-disposition": "ContentDisposition",
    "content-encoding": "ContentEncoding",
    "content-language": "ContentLanguage",
    "x-amz-storage-class": "StorageClass",
    "x-amz-website-redirect-location": "WebsiteRedirectLocation",
    "x-amz-server-side-encryption": "ServerSideEncryption",
}
STORAGE_CLASSES = frozenset({"STANDARD", "REDUCED_REDUNDANCY", "STANDARD_IA"})
# RFC 3986's reserved and unreserved characters, and '%' (escapes already made).
_URL_CHARACTERS = ":/?#[]@!$&'()*+,;=%~"


def bucket_of_post(ctx: RequestContext) -> str | None:
    """The bucket a browser POST upload goes to, or None when the request is something else.

    A POST to a bucket alone (no key) with a form body, or with no query at all: the model's
    bucket-level POSTs (DeleteObjects) always carry a sub-resource in the query.
    """
    request = ctx.http
    if request.method != "POST":
        return None
    parts = request.path.strip("/").split("/")
    if len(parts) != 1 or not parts[0]:
        return None
    if request.content_type != "multipart/form-data" and request.query:
        return None
    bucket = unquote(parts[0])
    # No bucket has U+0000 in its name: the model's routing refuses the request instead.
    return None if "\x00" in bucket else bucket


def length_checked(pieces: Iterator[bytes], bounds: tuple[int, int] | None) -> Iterator[bytes]:
    """The pieces, failing as soon as the file outgrows the policy's content-length-range (the
    write is then discarded), or at its end when it stayed below it."""
    size = 0
    for piece in pieces:
        size += len(piece)
        if bounds is not None and size > bounds[1]:
            raise errors.entity_too_large(size, bounds[1])
        yield piece
    if bounds is not None and size < bounds[0]:
        raise errors.entity_too_small(size, bounds[0])


class IteratorStream:
    """A BodyStream over an iterator of pieces (what PutObject reads its body from)."""

    def __init__(self, pieces: Iterator[bytes]) -> None:
        self._pieces = pieces
        self._pending = b""

    def read(self, size: int = -1) -> bytes:
        if not self._pending:
            self._pending = next(self._pieces, b"")
        if size < 0 or size >= len(self._pending):
            out, self._pending = self._pending, b""
            return out
        out, self._pending = self._pending[:size], self._pending[size:]
        return out


def post_object(
    rt: Runtime, ctx: RequestContext, bucket: str, authorize: Authorize
) -> HttpResponse:
    boundary = boundary_of(ctx.http.headers.get("content-type", ""))
    if boundary is None:
        raise errors.precondition_failed(
            "Bucket POST must be of the enclosure-type multipart/form-data"
        )
    reader = FormDataReader(_body(ctx), boundary)
    try:
        out, fields, key = _store(rt, ctx, bucket, authorize, reader)
    except ServiceError:
        # A refused form's unread rest would otherwise be left on a kept-alive connection;
        # read (a bounded amount of) it so a small form's connection stays usable.
        reader.drain(quiet=True)
        raise
    try:
        reader.drain()
    except ServiceError:  # the object is whole (its part ended); what follows does not matter
        log.info("request %s: ignoring a malformed end of a POST upload", ctx.request_id)
    return _success(ctx, fields, bucket, key, out)


def _store(
    rt: Runtime,
    ctx: RequestContext,
    bucket: str,
    authorize: Authorize,
    reader: FormDataReader,
) -> tuple[dict[str, Any], dict[str, str], str]:
    """Check the form and write its file: (PutObject's result, the fields, the key)."""
    form = reader.read_form()
    fields = form.fields
    if form.file is None:
        raise errors.invalid_argument(
            "POST requires exactly one file upload per request.", "file", "0"
        )
    if "key" not in fields:
        raise errors.missing_post_field("key")
    bounds = _authenticate(rt, ctx, form, bucket)
    key = fields["key"].replace("${filename}", form.file.filename)
    write = RequestContext(
        request_id=ctx.request_id,
        service=ctx.service,
        region=ctx.region,
        http=ctx.http,
        principal=ctx.principal,
        operation=load_service_model("s3").operation_model("PutObject"),
        params=_put_params(fields, bucket, key),
        protocol=ctx.protocol,
    )
    # IAM (s3:PutObject on the key) and the provider's preparation, as for PutObject itself.
    authorize(write)
    params = write.params
    params["Body"] = IteratorStream(length_checked(form.file.pieces, bounds))
    return objects.put_object(rt, write, params), fields, key


def _body(ctx: RequestContext) -> BodyStream:
    request = ctx.http
    if request.stream is None:
        return io.BytesIO(request.body)
    length = request.headers.get("content-length", "")
    return VerifiedStream(request.stream, None, int(length) if length.isdigit() else None)


def _authenticate(
    rt: Runtime, ctx: RequestContext, form: Form, bucket: str
) -> tuple[int, int] | None:
    """Sets ctx.principal from a signed form; returns the policy's content-length-range."""
    fields = form.fields
    claims = signature_fields(fields)
    encoded = fields.get("policy")
    if claims is None and encoded is None:
        return None  # anonymous: the bucket's ACL decides (PutObject checks it)
    if encoded is None:
        raise errors.missing_post_field("policy")
    if claims is None:
        raise errors.missing_post_field("AWSAccessKeyId")
    policy = parse_policy(encoded)
    now = time.time()
    lookup = partial(lookup_credential, rt.store)
    auth = Ctx(ctx.http, lookup, now, rt.settings.clock_skew, "s3", False, None)
    credential = find_credential(auth, claims.access_key, fields.get("x-amz-security-token"))
    if not signature_matches(claims, credential.secret_key, encoded):
        raise auth.fail(
            Failure.BAD_SIGNATURE,
            extra={
                "AWSAccessKeyId": claims.access_key,
                "StringToSign": encoded,
                "SignatureProvided": claims.signature,
            },
        )
    check_policy(policy, fields, bucket, now)
    ctx.principal = credential.principal
    return policy.length_range


def _put_params(fields: dict[str, str], bucket: str, key: str) -> dict[str, Any]:
    params: dict[str, Any] = {"Bucket": bucket, "Key": key}
    for name, param in FIELD_PARAMS.items():
        if fields.get(name):
            params[param] = fields[name]
    storage = params.get("StorageClass")
    if storage is not None and storage not in STORAGE_CLASSES:
        raise errors.invalid_storage_class(storage)
    if fields.get("acl"):
        params["ACL"] = fields["acl"]  # checked before the body is read, as for PutObject
    expires = fields.get("expires")
    if expires:
        # S3 stores only what parses as an HTTP date.
        with contextlib.suppress(TypeError, ValueError):
            params["Expires"] = parsedate_to_datetime(expires)
    metadata = {
        k[len("x-amz-meta-") :]: v for k, v in fields.items() if k.startswith("x-amz-meta-")
    }
    if metadata:
        params["Metadata"] = metadata
    return params


def _object_url(ctx: RequestContext, bucket: str, key: str) -> str:
    headers = ctx.http.headers
    scheme = headers.get("x-forwarded-proto", "http")
    host = headers.get("host", "")
    virtual = host.lower().startswith(f"{bucket}.")
    path = f"/{quote(key)}" if virtual else f"/{quote(bucket)}/{quote(key)}"
    return f"{scheme}://{host}{path}"


def _success(
    ctx: RequestContext, fields: dict[str, str], bucket: str, key: str, out: dict[str, Any]
) -> HttpResponse:
    etag = str(out["ETag"])
    location = _object_url(ctx, bucket, key)
    headers = {
        "x-amz-request-id": ctx.request_id,
        "x-amz-id-2": host_id(ctx.request_id),
        "ETag": etag,
        "Location": location,
    }
    if out.get("VersionId"):
        headers["x-amz-version-id"] = str(out["VersionId"])
    redirect = fields.get("success_action_redirect") or fields.get("redirect")
    if redirect:
        # The URL goes into a header: what a URL cannot hold as is (CR/LF, which would add
        # headers of the form's choosing, controls, non-ASCII) goes percent-encoded.
        redirect = quote(redirect, safe=_URL_CHARACTERS)
    if redirect and urlsplit(redirect).scheme in ("http", "https"):
        query = urlencode({"bucket": bucket, "key": key, "etag": etag})
        headers["Location"] = redirect + ("&" if "?" in redirect else "?") + query
        return HttpResponse(303, headers, b"")
    status = fields.get("success_action_status", "")
    if status == "201":
        body = (
            '<?xml version="1.0" encoding="UTF-8"?>\n<PostResponse>'
            f"<Location>{escape_text(location)}</Location>"
            f"<Bucket>{escape_text(bucket)}</Bucket><Key>{escape_text(key)}</Key>"
            f"<ETag>{escape_text(etag)}</ETag></PostResponse>"
        )
        headers["Content-Type"] = "application/xml"
        return HttpResponse(201, headers, body.encode())
    return HttpResponse(200 if status == "200" else 204, headers, b"")
