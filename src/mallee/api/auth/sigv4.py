"""AWS Signature Version 4: the Authorization header form and the presigned query form."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from urllib.parse import unquote_plus

from mallee.api.auth import canonical
from mallee.api.auth.common import (
    AuthResult,
    Ctx,
    PayloadReader,
    check_skew,
    find_credential,
    parse_count,
)
from mallee.api.auth.errors import Failure, check_style
from mallee.api.auth.signing import (
    ALGORITHM,
    TERMINATOR,
    same,
    sign_hex,
    signing_key,
    string_to_sign,
)
from mallee.api.auth.streaming import (
    MODES,
    UNSIGNED_PAYLOAD,
    ChunkedPayloadDecoder,
    ChunkSigner,
    PayloadHashVerifier,
)
from mallee.api.auth.timefmt import format_amz_date, format_iso8601, parse_amz_date, parse_http_date
from mallee.api.http import HttpRequest

MAX_PRESIGN_EXPIRES = 604800
_HEADER_PARTS = ("Credential", "SignedHeaders", "Signature")
_QUERY_PARTS = (
    "X-Amz-Algorithm",
    "X-Amz-Credential",
    "X-Amz-Signature",
    "X-Amz-SignedHeaders",
    "X-Amz-Date",
)
_HEX = frozenset("0123456789abcdefABCDEF")


@dataclass(slots=True)
class V4Request:
    """The signature claims of one request, whichever form carried them."""

    access_key: str
    date: str
    region: str
    service: str
    signed_headers: str
    signature: str
    amz_date: str
    token: str | None
    presigned: bool

    @property
    def scope(self) -> str:
        return f"{self.date}/{self.region}/{self.service}/{TERMINATOR}"


def split_credential(value: str) -> tuple[str, str, str, str] | None:
    """`AKID/20150830/us-east-1/iam/aws4_request` -> (AKID, date, region, service)."""
    parts = value.split("/")
    if len(parts) != 5 or parts[4] != TERMINATOR or not all(parts[:4]):
        return None
    return parts[0], parts[1], parts[2], parts[3]


def parse_authorization(ctx: Ctx, value: str) -> dict[str, str]:
    """Split `AWS4-HMAC-SHA256 Credential=..., SignedHeaders=..., Signature=...`."""
    rest = value[len(ALGORITHM) :]
    if rest and not rest[0].isspace():
        raise ctx.fail(Failure.UNSUPPORTED)
    fields: dict[str, str] = {}
    for part in rest.split(","):
        part = part.strip()
        if not part:
            continue
        key, sep, item = part.partition("=")
        if not sep:
            raise _malformed_header(
                ctx,
                f"'{part}' not a valid key=value pair (missing equal-sign) in"
                f" Authorization header: '{value}'.",
            )
        fields[key.strip()] = item.strip()
    missing = [p for p in _HEADER_PARTS if not fields.get(p)]
    if missing:
        detail = " ".join(f"Authorization header requires '{p}' parameter." for p in missing)
        raise _malformed_header(ctx, f"{detail} Authorization={value}")
    return fields


def verify_header(ctx: Ctx, value: str) -> AuthResult:
    fields = parse_authorization(ctx, value)
    scope = split_credential(fields["Credential"])
    if scope is None:
        raise _malformed_header(ctx, _credential_message(fields["Credential"]))
    amz_date, when, shown = _header_date(ctx)
    check_skew(ctx, when, shown)
    claims = V4Request(
        *scope,
        signed_headers=fields["SignedHeaders"],
        signature=fields["Signature"],
        amz_date=amz_date,
        token=ctx.request.headers.get("x-amz-security-token"),
        presigned=False,
    )
    _check_scope_date(ctx, claims)
    return _verify(ctx, claims, canonical.split_query(ctx.request.query), {})


def verify_presigned(ctx: Ctx, pairs: list[tuple[str, str]], params: dict[str, str]) -> AuthResult:
    missing = [p for p in _QUERY_PARTS if not params.get(p)]
    if ctx.style == "s3" and "X-Amz-Expires" not in params:
        missing.append("X-Amz-Expires")
    if missing:
        raise _malformed_query(ctx, None)
    if params["X-Amz-Algorithm"] != ALGORITHM:
        raise ctx.fail(Failure.UNSUPPORTED, 'X-Amz-Algorithm only supports "AWS4-HMAC-SHA256"')
    scope = split_credential(params["X-Amz-Credential"])
    if scope is None:
        raise _malformed_query(ctx, _credential_message(params["X-Amz-Credential"]))
    amz_date = params["X-Amz-Date"]
    when = parse_amz_date(amz_date)
    if when is None:
        raise _malformed_query(
            ctx, "X-Amz-Date must be in the ISO8601 Long Format \"yyyyMMdd'T'HHmmss'Z'\""
        )
    _check_presign_window(ctx, when, amz_date, params.get("X-Amz-Expires"))
    token = params.get("X-Amz-Security-Token", ctx.request.headers.get("x-amz-security-token"))
    claims = V4Request(
        *scope,
        signed_headers=params["X-Amz-SignedHeaders"],
        signature=params["X-Amz-Signature"],
        amz_date=amz_date,
        token=token,
        presigned=True,
    )
    _check_scope_date(ctx, claims)
    return _verify(ctx, claims, pairs, params)


def _verify(
    ctx: Ctx, claims: V4Request, pairs: list[tuple[str, str]], params: dict[str, str]
) -> AuthResult:
    credential = find_credential(ctx, claims.access_key, claims.token)
    names = claims.signed_headers.lower().split(";")
    if "host" not in names:
        detail = "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization."
        raise _malformed_query(ctx, detail) if claims.presigned else _malformed_header(ctx, detail)
    payload_hash, declared = _payload_hash(ctx, claims, params)
    key = signing_key(credential.secret_key, claims.date, claims.region, claims.service)
    _check_signature(ctx, claims, key, pairs, payload_hash)
    reader = _payload_reader(ctx, claims, key, payload_hash) if declared else None
    return AuthResult(
        credential=credential,
        signature_version="v4",
        presigned=claims.presigned,
        region=claims.region,
        service=claims.service,
        payload=reader,
    )


def canonical_request_for(
    ctx: Ctx,
    claims: V4Request,
    pairs: list[tuple[str, str]],
    payload_hash: str,
) -> list[str]:
    """Every canonical request we accept for this request, the spec's form first."""
    request = ctx.request
    names = claims.signed_headers.lower().split(";")
    headers_block = canonical.canonical_headers(request.headers, names)
    exclude = "X-Amz-Signature" if claims.presigned else None
    uris = [
        uri
        for path in ctx.signed_paths
        for uri in canonical.canonical_uris(path, s3=ctx.style == "s3")
    ]
    queries = canonical.canonical_queries(pairs, exclude=exclude)
    return [
        canonical.canonical_request(
            request.method, uri, query, headers_block, claims.signed_headers.lower(), payload_hash
        )
        for uri in uris
        for query in queries
    ]


def _check_signature(
    ctx: Ctx,
    claims: V4Request,
    key: bytes,
    pairs: list[tuple[str, str]],
    payload_hash: str,
) -> None:
    candidates = canonical_request_for(ctx, claims, pairs, payload_hash)
    for creq in candidates:
        sts = string_to_sign(claims.amz_date, claims.scope, creq)
        if same(sign_hex(key, sts), claims.signature):
            return
    extra: dict[str, str] | None = None
    if ctx.style == "s3":
        extra = {
            "AWSAccessKeyId": claims.access_key,
            "StringToSign": string_to_sign(claims.amz_date, claims.scope, candidates[0]),
            "SignatureProvided": claims.signature,
            "CanonicalRequest": candidates[0],
        }
    raise ctx.fail(Failure.BAD_SIGNATURE, extra=extra)


def _payload_hash(ctx: Ctx, claims: V4Request, params: dict[str, str]) -> tuple[str, bool]:
    """The payload line of the canonical request, and whether the client declared it (so the
    body still has to be checked against it) rather than us hashing the body."""
    request = ctx.request
    declared = request.headers.get("x-amz-content-sha256")
    if ctx.style != "s3":
        if declared is None:
            return hashlib.sha256(request.body).hexdigest(), False
        if not _is_sha256(declared):
            raise ctx.fail(Failure.BAD_CONTENT_SHA256)
        return declared, True
    if declared is None:
        if not claims.presigned:
            raise ctx.fail(Failure.MISSING_CONTENT_SHA256)
        declared = params.get("X-Amz-Content-Sha256", UNSIGNED_PAYLOAD)
    if declared == UNSIGNED_PAYLOAD or declared in MODES or _is_sha256(declared):
        return declared, True
    raise ctx.fail(Failure.BAD_CONTENT_SHA256)


def _payload_reader(
    ctx: Ctx, claims: V4Request, key: bytes, payload_hash: str
) -> PayloadReader | None:
    """Check a declared body hash now, or hand back what will check the body as it streams."""
    mode = MODES.get(payload_hash)
    if mode is not None:
        headers = ctx.request.headers
        signer = None
        if mode != "unsigned-trailer":
            signer = ChunkSigner(key, claims.amz_date, claims.scope, claims.signature)
        return ChunkedPayloadDecoder(
            mode,
            style=ctx.style,
            signer=signer,
            decoded_length=_decoded_length(ctx),
            trailer_names=headers.get("x-amz-trailer", "").split(","),
        )
    if payload_hash == UNSIGNED_PAYLOAD or not _is_sha256(payload_hash):
        return None
    if not ctx.verify_body:
        return PayloadHashVerifier(payload_hash, style=ctx.style)
    if not same(payload_hash.lower(), hashlib.sha256(ctx.request.body).hexdigest()):
        raise ctx.fail(Failure.CONTENT_SHA256_MISMATCH)
    return None


def _decoded_length(ctx: Ctx) -> int | None:
    value = ctx.request.headers.get("x-amz-decoded-content-length")
    if value is None:
        return None
    length = parse_count(value.strip())
    if length is None:
        raise ctx.fail(Failure.STREAM_INCOMPLETE, "Invalid x-amz-decoded-content-length.")
    return length


def _header_date(ctx: Ctx) -> tuple[str, float, str]:
    """(basic ISO date the client signed, epoch seconds, the header text) for the header form."""
    headers = ctx.request.headers
    amz = headers.get("x-amz-date")
    if amz is not None:
        when = parse_amz_date(amz.strip())
        if when is None:
            raise ctx.fail(Failure.MISSING_DATE, _date_message(ctx, amz))
        return amz.strip(), when, amz
    date = headers.get("date")
    when = parse_http_date(date) if date else None
    if date is None or when is None:
        raise ctx.fail(Failure.MISSING_DATE)
    return format_amz_date(when), when, date


def _check_presign_window(ctx: Ctx, when: float, amz_date: str, expires_text: str | None) -> None:
    expires: int | None = None
    if expires_text is not None:
        expires = parse_count(expires_text)
        if expires is None:
            raise _malformed_query(ctx, "X-Amz-Expires should be a number")
        if expires > MAX_PRESIGN_EXPIRES:
            raise _malformed_query(
                ctx, "X-Amz-Expires must be less than a week (in seconds) that is 604800"
            )
    if ctx.style != "s3":
        if expires is not None and ctx.now > when + expires:
            raise ctx.fail(Failure.PRESIGN_EXPIRED)
        # Other services hold presigned requests to the same window as signed headers.
        check_skew(ctx, when, amz_date)
        return
    if when > ctx.now + ctx.skew:
        raise ctx.fail(Failure.NOT_YET_VALID)
    if expires is not None and ctx.now > when + expires:
        raise ctx.fail(
            Failure.PRESIGN_EXPIRED,
            extra={
                "X-Amz-Expires": str(expires),
                "Expires": format_iso8601(when + expires),
                "ServerTime": format_iso8601(ctx.now),
            },
        )


def _check_scope_date(ctx: Ctx, claims: V4Request) -> None:
    if claims.date == claims.amz_date[:8]:
        return
    message = None
    if ctx.style == "query":
        message = (
            "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date"
            f" from HTTP: '{claims.date}' != '{claims.amz_date[:8]}', from '{claims.amz_date}'."
        )
    raise ctx.fail(Failure.SCOPE_DATE, message)


def _credential_message(value: str) -> str:
    return (
        f"the Credential '{value}' is mal-formed; expecting"
        ' "<YOUR-AKID>/YYYYMMDD/REGION/SERVICE/aws4_request".'
    )


def _date_message(ctx: Ctx, value: str) -> str | None:
    if ctx.style == "s3":
        return None
    return f"Date must be in ISO-8601 'basic format'. Got '{value}'."


def _malformed_header(ctx: Ctx, detail: str) -> Exception:
    if ctx.style == "s3":
        return ctx.fail(
            Failure.MALFORMED_HEADER, f"The authorization header is malformed; {detail}"
        )
    return ctx.fail(Failure.MALFORMED_HEADER, detail)


def _malformed_query(ctx: Ctx, detail: str | None) -> Exception:
    if detail is None and ctx.style != "s3":
        detail = (
            "AWS query-string parameters must include 'X-Amz-Algorithm', 'X-Amz-Credential',"
            " 'X-Amz-Signature', 'X-Amz-SignedHeaders', 'X-Amz-Date'. Re-examine the"
            " query-string parameters."
        )
    return ctx.fail(Failure.MALFORMED_QUERY, detail)


def _is_sha256(value: str) -> bool:
    return len(value) == 64 and all(c in _HEX for c in value)


def credential_scope_of(authorization: str | None, query: str) -> tuple[str, str, str, str] | None:
    """The (access key, date, region, service) a request claims, without verifying anything."""
    if authorization is not None and authorization.startswith(ALGORITHM):
        start = authorization.find("Credential=")
        if start < 0:
            return None
        end = authorization.find(",", start)
        value = authorization[start + 11 : end if end >= 0 else None].strip()
        return split_credential(value)
    marker = query.find("X-Amz-Credential=")
    if marker < 0 or (marker > 0 and query[marker - 1] != "&"):
        return None
    end = query.find("&", marker)
    raw = query[marker + 17 : end if end >= 0 else None]
    return split_credential(unquote_plus(raw))


def describe(request: HttpRequest, *, style: str = "query") -> tuple[str, str]:
    """(canonical request, string to sign) as we compute them for a SigV4 header request.

    For diagnostics and tests: parses the Authorization header and date but checks nothing else.
    """
    ctx = Ctx(request, lambda _key: None, 0.0, 0, check_style(style), False, None)
    fields = parse_authorization(ctx, request.headers.get("authorization", "").strip())
    scope = split_credential(fields["Credential"])
    if scope is None:
        raise _malformed_header(ctx, _credential_message(fields["Credential"]))
    amz_date, _when, _shown = _header_date(ctx)
    claims = V4Request(
        *scope,
        signed_headers=fields["SignedHeaders"],
        signature=fields["Signature"],
        amz_date=amz_date,
        token=None,
        presigned=False,
    )
    payload_hash, _declared = _payload_hash(ctx, claims, {})
    pairs = canonical.split_query(request.query)
    creq = canonical_request_for(ctx, claims, pairs, payload_hash)[0]
    return creq, string_to_sign(amz_date, claims.scope, creq)
