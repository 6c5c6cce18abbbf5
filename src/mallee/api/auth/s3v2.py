"""S3's own Signature Version 2: `Authorization: AWS AKID:sig` and presigned `?Signature=`.

StringToSign = VERB, Content-MD5, Content-Type, Date (or Expires), the x-amz-* headers, then the
resource: /bucket/key plus the sub-resources that select what the request acts on.
"""

from __future__ import annotations

import base64
import hmac
from collections.abc import Mapping
from urllib.parse import unquote

from mallee.api.auth.canonical import split_query
from mallee.api.auth.common import AuthResult, Ctx, check_skew, find_credential, parse_count
from mallee.api.auth.errors import Failure
from mallee.api.auth.timefmt import format_iso8601, parse_amz_date, parse_http_date

# Query parameters that are part of the resource (the S3 list, plus what botocore signs).
SUB_RESOURCES = frozenset(
    {
        "accelerate", "acl", "analytics", "cors", "defaultObjectAcl", "delete", "inventory",
        "lifecycle", "location", "logging", "metrics", "notification", "object-lock",
        "partNumber", "policy", "replication", "requestPayment", "response-cache-control",
        "response-content-disposition", "response-content-encoding",
        "response-content-language", "response-content-type", "response-expires", "restore",
        "select", "select-type", "storageClass", "tagging", "torrent", "uploadId", "uploads",
        "versionId", "versioning", "versions", "website",
    }
)  # fmt: skip


def canonical_resource(
    path: str, query: str, virtual_bucket: str | None, *, bare_empty: bool = False
) -> str:
    """`bare_empty`: a sub-resource sent with an empty value (`?uploads=`) is signed as its name
    alone, as AWS and Ceph take it (Libcloud signs so); without it, as it was sent (botocore)."""
    resource = (f"/{virtual_bucket}" if virtual_bucket else "") + (path or "/")
    subs = sorted(
        (k, f"{k}={unquote(v)}" if sep and (v or not bare_empty) else k)
        for k, sep, v in (p.partition("=") for p in query.split("&") if p)
        if k in SUB_RESOURCES
    )
    if subs:
        resource += "?" + "&".join(item for _, item in subs)
    return resource


def amz_headers(headers: Mapping[str, str], extra: Mapping[str, str] | None = None) -> str:
    merged = {k: v for k, v in headers.items() if k.startswith("x-amz-")}
    for key, value in (extra or {}).items():
        merged.setdefault(key, value)
    return "".join(f"{k}:{merged[k].strip()}\n" for k in sorted(merged))


def _has_empty_sub_resource(query: str) -> bool:
    return any(
        sep and not v and k in SUB_RESOURCES
        for k, sep, v in (p.partition("=") for p in query.split("&") if p)
    )


def strings_to_sign(
    ctx: Ctx, date_line: str, query_amz: Mapping[str, str] | None = None
) -> list[str]:
    """What the client may have signed: one text, or two when a sub-resource came empty."""
    texts = [string_to_sign(ctx, date_line, query_amz)]
    if _has_empty_sub_resource(ctx.request.query):
        texts.append(string_to_sign(ctx, date_line, query_amz, bare_empty=True))
    return texts


def string_to_sign(
    ctx: Ctx,
    date_line: str,
    query_amz: Mapping[str, str] | None = None,
    *,
    bare_empty: bool = False,
) -> str:
    request = ctx.request
    headers = request.headers
    query_params = query_amz or {}
    md5 = headers.get("content-md5", query_params.get("content-md5", ""))
    ctype = headers.get("content-type", query_params.get("content-type", ""))
    amz = {k: v for k, v in query_params.items() if k.startswith("x-amz-")}
    resource = canonical_resource(
        ctx.full_path, request.query, ctx.virtual_bucket, bare_empty=bare_empty
    )
    return (
        f"{request.method}\n{md5.strip()}\n{ctype.strip()}\n{date_line}\n"
        f"{amz_headers(headers, amz)}{resource}"
    )


def sign(secret: str, text: str) -> str:
    return base64.b64encode(hmac.digest(secret.encode(), text.encode(), "sha1")).decode()


def verify_header(ctx: Ctx, value: str) -> AuthResult:
    access_key, sep, signature = value[4:].strip().rpartition(":")
    if not sep or not access_key or not signature:
        raise ctx.fail(
            Failure.MALFORMED_HEADER,
            "The authorization header is malformed; expecting 'AWS <AWSAccessKeyId>:<Signature>'.",
        )
    headers = ctx.request.headers
    shown = headers.get("x-amz-date") or headers.get("date")
    when = (parse_http_date(shown) or parse_amz_date(shown.strip())) if shown else None
    if shown is None or when is None:
        raise ctx.fail(Failure.MISSING_DATE)
    check_skew(ctx, when, shown)
    credential = find_credential(ctx, access_key, headers.get("x-amz-security-token"))
    # With x-amz-date the Date line is empty by the spec; some clients still sign the Date.
    date_lines = ["", headers.get("date", "")] if "x-amz-date" in headers else [shown]
    for date_line in dict.fromkeys(date_lines):
        for text in strings_to_sign(ctx, date_line):
            if _matches(sign(credential.secret_key, text), signature):
                return AuthResult(credential=credential, signature_version="s3v2", presigned=False)
    raise _mismatch(ctx, access_key, string_to_sign(ctx, date_lines[0]), signature)


def verify_query(ctx: Ctx, params: dict[str, str]) -> AuthResult:
    for name in ("AWSAccessKeyId", "Signature", "Expires"):
        if not params.get(name):
            raise ctx.fail(Failure.MISSING_PARAMETER)
    expires = params["Expires"]
    until = parse_count(expires)
    if until is None:
        raise ctx.fail(
            Failure.MISSING_PARAMETER, f"Invalid date (should be seconds since epoch): {expires}"
        )
    if ctx.now > until:
        raise ctx.fail(
            Failure.PRESIGN_EXPIRED,
            extra={"Expires": format_iso8601(until), "ServerTime": format_iso8601(ctx.now)},
        )
    token = params.get("x-amz-security-token", ctx.request.headers.get("x-amz-security-token"))
    credential = find_credential(ctx, params["AWSAccessKeyId"], token)
    raw = {unquote(k).lower(): unquote(v) for k, v in split_query(ctx.request.query)}
    texts = strings_to_sign(ctx, expires, raw)
    signature = params["Signature"].replace(" ", "+")
    for text in texts:
        if _matches(sign(credential.secret_key, text), signature):
            return AuthResult(credential=credential, signature_version="s3v2", presigned=True)
    raise _mismatch(ctx, params["AWSAccessKeyId"], texts[0], signature)


def _matches(expected: str, provided: str) -> bool:
    return hmac.compare_digest(expected.encode(), provided.encode("utf-8", "replace"))


def _mismatch(ctx: Ctx, access_key: str, text: str, signature: str) -> Exception:
    return ctx.fail(
        Failure.BAD_SIGNATURE,
        extra={"AWSAccessKeyId": access_key, "StringToSign": text, "SignatureProvided": signature},
    )
