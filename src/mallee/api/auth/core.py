"""Entry points: which signing scheme a request uses, and the cheap scope peek for routing."""

from __future__ import annotations

from urllib.parse import parse_qsl

from mallee.api.auth import s3v2, sigv2, sigv4
from mallee.api.auth.canonical import decode_query, split_query
from mallee.api.auth.common import AuthResult, Ctx
from mallee.api.auth.errors import Failure, check_style
from mallee.api.auth.signing import ALGORITHM
from mallee.api.credentials import CredentialLookup
from mallee.api.http import HttpRequest

_V4_QUERY_KEYS = ("X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-Signature")
_ONE_MECHANISM = (
    "Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter, Signature query"
    " string parameter or the Authorization header should be specified"
)


def authenticate(
    request: HttpRequest,
    lookup: CredentialLookup,
    *,
    now: float,
    skew: int = 900,
    style: str = "query",
    verify_body: bool = True,
    virtual_bucket: str | None = None,
) -> AuthResult | None:
    """Verify the request's signature and return who signed it.

    Returns None when the request carries no authentication at all (no Authorization header,
    no presigned or SigV2 parameters): the caller decides whether the operation allows
    anonymous access, and otherwise raises `missing_authentication(style)`. Anything that
    looks like authentication but does not verify raises an AuthError (a ServiceError) worded
    for `style`: "query" (IAM, STS, ELB, CloudWatch, AutoScaling, CloudFormation, Empyrean),
    "ec2" or "s3".

    `verify_body=False` says `request.body` is not the whole body (an S3 upload being
    streamed): a declared x-amz-content-sha256 is then checked by `result.payload` as the body
    is fed to it. aws-chunked bodies are always left to `result.payload`, which also decodes
    them. `virtual_bucket` is the bucket named by the Host header, which S3 SigV2 signs as part
    of the resource.
    """
    ctx = Ctx(request, lookup, now, skew, check_style(style), verify_body, virtual_bucket)
    authorization = request.headers.get("authorization")
    if authorization is not None and authorization.startswith("Basic "):
        # A password, not a signature: only Eucalyptus' STS GetAccessToken (the console's
        # sign-in) reads it; to every other operation the request is unauthenticated.
        return None
    if authorization is not None:
        if ctx.style == "s3" and (
            "X-Amz-Algorithm=" in request.query or "Signature=" in request.query
        ):
            raise ctx.fail(Failure.UNSUPPORTED, _ONE_MECHANISM)
        return _from_header(ctx, authorization)
    pairs = split_query(request.query)
    params = decode_query(pairs) if pairs else {}
    if any(k in params for k in _V4_QUERY_KEYS):
        return sigv4.verify_presigned(ctx, pairs, params)
    if ctx.style == "s3":
        if "Signature" in params or "AWSAccessKeyId" in params:
            return s3v2.verify_query(ctx, params)
        return None
    form = _form_params(request, params)
    if any(k in form for k in sigv2.V2_PARAMS):
        return sigv2.verify(ctx, form)
    return None


def credential_scope(request: HttpRequest) -> tuple[str, str, str, str] | None:
    """(access key, date, region, service) of a SigV4 request, without verifying it.

    For routing: the service in the scope says which API a request is for. None for SigV2,
    anonymous or malformed requests.
    """
    return sigv4.credential_scope_of(request.headers.get("authorization"), request.query)


def _has_query_auth(query: str) -> bool:
    if "Signature" not in query and "X-Amz-Algorithm" not in query:
        return False
    keys = decode_query(split_query(query))
    return any(k in keys for k in ("Signature", "X-Amz-Algorithm", "X-Amz-Signature"))


def _from_header(ctx: Ctx, authorization: str) -> AuthResult:
    value = authorization.strip()
    if value.startswith(ALGORITHM):
        return sigv4.verify_header(ctx, value)
    if ctx.style == "s3" and value.startswith("AWS "):
        return s3v2.verify_header(ctx, value)
    raise ctx.fail(Failure.UNSUPPORTED)


def _form_params(request: HttpRequest, query: dict[str, str]) -> dict[str, str]:
    """Query plus form body, as the query/ec2 parsers read them; a body that is not a form
    (JSON, CBOR, binary) contributes nothing."""
    if not request.body or request.content_type not in ("application/x-www-form-urlencoded", ""):
        return query
    text = request.body.decode("utf-8", "replace")
    merged = dict(query)
    merged.update(parse_qsl(text, keep_blank_values=True))
    return merged
