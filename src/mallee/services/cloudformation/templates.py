"""A request's template: its text from TemplateBody or from the object a TemplateURL names in
this cloud's S3 (read as the caller, so the caller's S3 permissions decide), parsed and
validated by the template layer, every template problem answered as AWS's ValidationError.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from mallee.api.context import RequestContext
from mallee.api.errors import ServiceError
from mallee.cfn import parse, types, validate
from mallee.cfn.errors import TemplateError
from mallee.services.base import Params, Runtime
from mallee.services.cloudformation import errors
from mallee.services.cloudformation.template_urls import Endpoint, ObjectLocation, locate


def given(params: Params) -> tuple[str | None, str | None]:
    """(TemplateBody, TemplateURL) as sent; an empty string counts as not sent."""
    return params.get("TemplateBody") or None, params.get("TemplateURL") or None


def text(rt: Runtime, ctx: RequestContext, body: str | None, url: str | None) -> str:
    """The template's text: the body when there is one (AWS then ignores the URL), else the
    object the URL names."""
    if body is not None:
        if len(body.encode()) > parse.MAX_BODY_BYTES:
            raise errors.body_too_long(body, parse.MAX_BODY_BYTES)
        return body
    if url is None:
        raise errors.validation("Either Template URL or Template Body must be specified.")
    location = locate(url, Endpoint.of(rt.settings))
    if location is None:
        raise errors.bad_template_url()
    return _read(rt, ctx, location)


def _read(rt: Runtime, ctx: RequestContext, location: ObjectLocation) -> str:
    request: Params = {"Bucket": location.bucket, "Key": location.key}
    if location.version_id is not None:
        request["VersionId"] = location.version_id
    try:
        found = rt.calls.call("s3", "GetObject", request, principal=ctx.principal)
    except ServiceError as err:
        # AWS passes S3's own answer on (The specified key does not exist.); a refusal reads
        # as S3 words it on the wire, not as the internal call's authorization detail.
        message = "Access Denied" if err.code == "AccessDenied" else err.message
        raise errors.s3_error(message) from None
    limit = parse.MAX_URL_BODY_BYTES
    size = found.get("ContentLength")
    if isinstance(size, int) and size > limit:
        raise errors.url_template_too_large(limit)
    body = found.get("Body", b"")
    # A small object comes back whole, a larger one as a stream of pieces: stop reading as
    # soon as the limit is passed.
    pieces: Iterable[bytes | memoryview] = (body,) if isinstance(body, bytes) else body
    data = bytearray()
    for piece in pieces:
        data += piece
        if len(data) > limit:
            _close(pieces)
            raise errors.url_template_too_large(limit)
    # Undecodable bytes become U+FFFD, so the parser reports them where they are.
    return data.decode("utf-8", errors="replace")


def _close(pieces: Iterable[bytes | memoryview]) -> None:
    if isinstance(pieces, Iterator) and hasattr(pieces, "close"):
        pieces.close()


def _has_attribute(kind: str, attribute: str) -> bool:
    # A type the catalog lacks is reported once, with every other such type, by validate.
    return kind not in types.SUPPORTED or types.spec(kind).has_attribute(attribute)


def load(template_text: str) -> dict[str, Any]:
    try:
        return parse.load(template_text)
    except TemplateError as err:
        raise errors.validation(str(err)) from None


def summary(template: dict[str, Any]) -> validate.Summary:
    """What ValidateTemplate and GetTemplateSummary answer from, or AWS's first problem."""
    try:
        return validate.validate(template, types.SUPPORTED, types.needs_capability, _has_attribute)
    except TemplateError as err:
        raise errors.validation(str(err)) from None
