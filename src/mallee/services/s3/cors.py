"""Bucket CORS: PutBucketCors, GetBucketCors, DeleteBucketCors, preflight and response headers.

Browsers ask first (`OPTIONS` with Origin and Access-Control-Request-Method): the answer comes
from the first rule whose origin, method and headers all match, without authentication. Actual
requests that carry an Origin a rule admits get Access-Control-Allow-Origin (and the rest) on
their answers, errors included, so scripts can read them.

botocore's model has no OPTIONS operation (nor one for browser POST uploads), so the chain asks
`answer_unrouted` before routing by the model, and `finish_response` after every answer.
"""

from __future__ import annotations

import json
import logging
from typing import Any
from urllib.parse import unquote

from mallee.api.context import RequestContext
from mallee.api.http import HttpResponse
from mallee.api.protocol.restxml_serializer import host_id
from mallee.services.base import Operations, Params, Result, Runtime
from mallee.services.s3 import errors
from mallee.services.s3.checksums import check_body_md5
from mallee.services.s3.common import bucket_or_404
from mallee.store.tables.s3 import S3Bucket

log = logging.getLogger(__name__)

STATUS = "@status"
MAX_RULES = 100
METHODS = ("GET", "PUT", "POST", "DELETE", "HEAD")
Rule = dict[str, Any]
_NOT_ALLOWED = (
    "CORSResponse: This CORS request is not allowed. This is usually because the evalution of"
    " Origin, request method / Access-Control-Request-Method or Access-Control-Request-Headers"
    " are not whitelisted by the resource's CORS spec."
)


def validate_rules(rules: list[Rule]) -> None:
    """The checks S3 makes of a CORS configuration, with its errors."""
    if not rules or len(rules) > MAX_RULES:
        raise errors.malformed_xml()
    for rule in rules:
        origins, methods = rule.get("AllowedOrigins") or [], rule.get("AllowedMethods") or []
        if not origins or not methods:
            raise errors.malformed_xml()
        for method in methods:
            if method not in METHODS:
                raise errors.invalid_request(
                    f"Found unsupported HTTP method in CORS config. Unsupported method is {method}"
                )
        for origin in origins:
            if origin.count("*") > 1:
                raise errors.invalid_request(
                    f'AllowedOrigin "{origin}" can not have more than one wildcard.'
                )
        for header in rule.get("AllowedHeaders") or []:
            if header.count("*") > 1:
                raise errors.invalid_request(
                    f'AllowedHeader "{header}" can not have more than one wildcard.'
                )
        for header in rule.get("ExposeHeaders") or []:
            if "*" in header:
                raise errors.invalid_request(
                    f'ExposeHeader "{header}" contains wildcard. We currently do not support'
                    " wildcard for ExposeHeader."
                )
        if len(str(rule.get("ID") or "")) > 255:
            raise errors.invalid_request("ID length should not exceed allowed limit of 255")


def wildcard_match(pattern: str, value: str, *, fold: bool = False) -> bool:
    """`pattern` with at most one '*' (any run of characters) against `value`."""
    if fold:
        pattern, value = pattern.lower(), value.lower()
    head, star, tail = pattern.partition("*")
    if not star:
        return pattern == value
    return len(value) >= len(head) + len(tail) and value.startswith(head) and value.endswith(tail)


def matching_rule(
    rules: list[Rule], origin: str, method: str, headers: list[str] | None = None
) -> Rule | None:
    """The first rule admitting the origin and method (and, for a preflight, every header)."""
    for rule in rules:
        if method not in (rule.get("AllowedMethods") or []):
            continue
        if not any(wildcard_match(o, origin) for o in rule.get("AllowedOrigins") or []):
            continue
        allowed = rule.get("AllowedHeaders") or []
        if headers and not all(
            any(wildcard_match(a, h, fold=True) for a in allowed) for h in headers
        ):
            continue
        return rule
    return None


def cors_headers(rule: Rule, origin: str, requested: list[str] | None = None) -> dict[str, str]:
    """The Access-Control-* headers S3 sends for a rule that matched."""
    star = "*" in (rule.get("AllowedOrigins") or [])
    out = {
        "Access-Control-Allow-Origin": "*" if star else origin,
        "Access-Control-Allow-Methods": ", ".join(rule.get("AllowedMethods") or []),
        "Vary": "Origin, Access-Control-Request-Headers, Access-Control-Request-Method",
    }
    if not star:
        out["Access-Control-Allow-Credentials"] = "true"
    if requested:
        out["Access-Control-Allow-Headers"] = ", ".join(requested)
    expose = rule.get("ExposeHeaders") or []
    if expose:
        out["Access-Control-Expose-Headers"] = ", ".join(expose)
    if rule.get("MaxAgeSeconds") is not None:
        out["Access-Control-Max-Age"] = str(rule["MaxAgeSeconds"])
    return out


def _split_path(path: str) -> tuple[str, str]:
    """(bucket, key) of a path-style request path (either may be "")."""
    bucket, _, key = path.lstrip("/").partition("/")
    bucket = unquote(bucket)
    # No bucket has U+0000 in its name, and no lookup may hold it (PostgreSQL text cannot).
    return ("" if "\x00" in bucket else bucket), unquote(key)


def _header_list(value: str) -> list[str]:
    return [item.strip().lower() for item in value.split(",") if item.strip()]


def put_bucket_cors(rt: Runtime, ctx: RequestContext, params: Params) -> Result:
    name = str(params["Bucket"])
    _owner_only(ctx)
    check_body_md5(ctx, params.get("ContentMD5"))
    config = params.get("CORSConfiguration") or {}
    rules: list[Rule] = list(config.get("CORSRules") or [])
    validate_rules(rules)
    with rt.store.session() as s:
        bucket = bucket_or_404(s, name)
        bucket.cors = json.dumps({"CORSRules": rules})
    return {}


def get_bucket_cors(rt: Runtime, ctx: RequestContext, params: Params) -> Result:
    name = str(params["Bucket"])
    _owner_only(ctx)
    with rt.store.read() as s:
        bucket = bucket_or_404(s, name)
    if not bucket.cors:
        raise errors.no_such_cors_configuration(name)
    rules: list[Rule] = json.loads(bucket.cors).get("CORSRules", [])
    return {"CORSRules": rules}


def delete_bucket_cors(rt: Runtime, ctx: RequestContext, params: Params) -> Result:
    _owner_only(ctx)
    with rt.store.session() as s:
        bucket_or_404(s, str(params["Bucket"])).cors = None
    return {STATUS: 204}


# -- preflights, which the model cannot route, and every answer -------------------------------


def finish_response(rt: Runtime, ctx: RequestContext, response: HttpResponse) -> None:
    """CORS headers on the answer to an actual cross-origin request a rule admits."""
    origin = ctx.http.headers.get("origin")
    if not origin or ctx.http.method == "OPTIONS":
        return
    bucket, _ = _split_path(ctx.http.path)
    rules = _rules(rt, bucket) if bucket else None
    rule = matching_rule(rules, origin, ctx.http.method) if rules else None
    if rule is not None:
        response.headers.update(cors_headers(rule, origin))


def _rules(rt: Runtime, bucket: str) -> list[Rule] | None:
    with rt.store.read() as s:
        row = s.get(S3Bucket, bucket)
        text = row.cors if row is not None else None
    return list(json.loads(text).get("CORSRules", [])) if text else None


def preflight(rt: Runtime, ctx: RequestContext) -> HttpResponse:
    headers = ctx.http.headers
    origin = headers.get("origin")
    method = headers.get("access-control-request-method")
    if not origin:
        raise errors.bad_request("Insufficient information. Origin request header needed.")
    if method not in METHODS:
        raise errors.bad_request(f"Invalid Access-Control-Request-Method: {method}")
    bucket, key = _split_path(ctx.http.path)
    with rt.store.read() as s:
        row = s.get(S3Bucket, bucket) if bucket else None
        text = row.cors if row is not None else None
    if row is None:
        raise errors.access_forbidden("CORSResponse: Bucket not found", method, key)
    if not text:
        raise errors.access_forbidden(
            "CORSResponse: CORS is not enabled for this bucket.", method, key
        )
    requested = _header_list(headers.get("access-control-request-headers", ""))
    rules: list[Rule] = json.loads(text).get("CORSRules", [])
    rule = matching_rule(rules, origin, method, requested)
    if rule is None:
        raise errors.access_forbidden(_NOT_ALLOWED, method, key)
    answer = {"x-amz-request-id": ctx.request_id, "x-amz-id-2": host_id(ctx.request_id)}
    answer.update(cors_headers(rule, origin, requested))
    return HttpResponse(200, answer, b"")


def _owner_only(ctx: RequestContext) -> None:
    # Signed callers were authorized by IAM (s3:PutBucketCORS, ...); anonymous ones never may.
    if ctx.principal.kind == "anonymous":
        raise errors.access_denied()


OPERATIONS: Operations = {
    "PutBucketCors": put_bucket_cors,
    "GetBucketCors": get_bucket_cors,
    "DeleteBucketCors": delete_bucket_cors,
}
