"""Signature Version 2 for the query and ec2 protocols (parameters in the query or form body).

euca2ools and older SDKs still sign this way: HMAC over `METHOD\\nhost\\npath\\n` plus the sorted,
percent-encoded parameters, with SignatureMethod HmacSHA256 or HmacSHA1.
"""

from __future__ import annotations

import base64
import hmac
from urllib.parse import quote

from mallee.api.auth.common import AuthResult, Ctx, find_credential
from mallee.api.auth.errors import Failure
from mallee.api.auth.timefmt import format_amz_date, parse_iso8601

V2_PARAMS = ("AWSAccessKeyId", "Signature", "SignatureVersion", "SignatureMethod")
_DIGESTS = {"HmacSHA256": "sha256", "HmacSHA1": "sha1"}


def string_to_sign(method: str, host: str, path: str, params: dict[str, str]) -> str:
    pairs = "&".join(
        f"{quote(k, safe='')}={quote(params[k], safe='')}"
        for k in sorted(params)
        if k != "Signature"
    )
    return f"{method}\n{host}\n{path or '/'}\n{pairs}"


def sign(secret: str, text: str, digest: str) -> str:
    return base64.b64encode(hmac.digest(secret.encode(), text.encode(), digest)).decode()


def verify(ctx: Ctx, params: dict[str, str]) -> AuthResult:
    for name in ("AWSAccessKeyId", "SignatureVersion", "Signature"):
        if not params.get(name):
            raise ctx.fail(
                Failure.MISSING_PARAMETER, f"The request must contain the parameter {name}"
            )
    if params["SignatureVersion"] != "2":
        raise ctx.fail(
            Failure.UNSUPPORTED, f"SignatureVersion {params['SignatureVersion']} is not supported"
        )
    method = params.get("SignatureMethod", "")
    digest = _DIGESTS.get(method)
    if digest is None:
        raise ctx.fail(Failure.UNSUPPORTED, f"Invalid SignatureMethod: {method or '(none)'}")
    _check_time(ctx, params)
    credential = find_credential(ctx, params["AWSAccessKeyId"], params.get("SecurityToken"))
    # Unencoded '+' in a GET query arrives as a space.
    provided = params["Signature"].replace(" ", "+")
    host = ctx.request.headers.get("host", "")
    for candidate_host in dict.fromkeys((host, host.lower())):
        for path in ctx.signed_paths:
            text = string_to_sign(ctx.request.method, candidate_host, path, params)
            expected = sign(credential.secret_key, text, digest).encode()
            if hmac.compare_digest(expected, provided.encode("utf-8", "replace")):
                return AuthResult(credential=credential, signature_version="v2", presigned=False)
    raise ctx.fail(Failure.BAD_SIGNATURE)


def _check_time(ctx: Ctx, params: dict[str, str]) -> None:
    timestamp, expires = params.get("Timestamp"), params.get("Expires")
    if timestamp is None and expires is None:
        raise ctx.fail(
            Failure.MISSING_PARAMETER, "The request must contain the parameter Timestamp"
        )
    if expires is not None:
        until = parse_iso8601(expires)
        if until is None:
            raise ctx.fail(Failure.MALFORMED_QUERY, f"Invalid Expires: {expires}")
        if ctx.now > until:
            raise ctx.fail(
                Failure.PRESIGN_EXPIRED, f"Request has expired. Expires date is {expires}"
            )
    if timestamp is not None:
        when = parse_iso8601(timestamp)
        if when is None:
            raise ctx.fail(Failure.MALFORMED_QUERY, f"Invalid Timestamp: {timestamp}")
        if ctx.now - when > ctx.skew:
            raise ctx.fail(
                Failure.TIMESTAMP_EXPIRED, f"Request has expired. Timestamp date is {timestamp}"
            )
        if when - ctx.now > ctx.skew:
            raise ctx.fail(
                Failure.TIMESTAMP_EXPIRED,
                f"Request is not yet valid. Timestamp date is {timestamp}"
                f" (server time {format_amz_date(ctx.now)})",
            )
