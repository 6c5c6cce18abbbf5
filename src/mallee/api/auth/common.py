"""What every signing scheme shares: the call context, the result, and the credential checks."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol

from mallee.api.auth.errors import AuthError, Failure, Style
from mallee.api.auth.signing import same
from mallee.api.auth.timefmt import format_amz_date, format_iso8601
from mallee.api.context import Principal
from mallee.api.credentials import Credential, CredentialLookup
from mallee.api.http import HttpRequest

SignatureVersion = Literal["v4", "v2", "s3v2"]


class PayloadReader(Protocol):
    """Checks a request body that arrives after authentication (S3 uploads).

    `feed` takes the body as received, in pieces of any size, and returns the payload bytes it
    has verified so far; `finish` raises an AuthError if the body as a whole does not check out.
    Both raise as soon as they know the body is bad.
    """

    def feed(self, data: bytes) -> bytes: ...

    def finish(self) -> None: ...


@dataclass(frozen=True, slots=True)
class AuthResult:
    """A request whose signature checked out.

    `payload` is set when the body is still to be checked as it is read: always for aws-chunked
    uploads (it also decodes them), and for a declared x-amz-content-sha256 hash when
    authenticate was told the body is not buffered (verify_body=False).
    """

    credential: Credential
    signature_version: SignatureVersion
    presigned: bool
    region: str | None = None
    service: str | None = None
    payload: PayloadReader | None = None

    @property
    def principal(self) -> Principal:
        return self.credential.principal

    @property
    def access_key_id(self) -> str:
        return self.credential.access_key_id


@dataclass(frozen=True, slots=True)
class Ctx:
    request: HttpRequest
    lookup: CredentialLookup
    now: float
    skew: int
    style: Style
    verify_body: bool
    virtual_bucket: str | None

    def fail(
        self, failure: Failure, message: str | None = None, extra: dict[str, str] | None = None
    ) -> AuthError:
        return AuthError(failure, self.style, message, extra)

    @property
    def full_path(self) -> str:
        """The path the client signed, including what routing already consumed."""
        return (self.request.script_name + self.request.path) or "/"

    @property
    def signed_paths(self) -> list[str]:
        """`full_path`, plus the bare prefix when routing turned `/services/Euare` into
        script_name + "/" (the same resource; clients sign it without the slash)."""
        request = self.request
        if request.script_name and request.path == "/":
            return [self.full_path, request.script_name]
        return [self.full_path]


def find_credential(ctx: Ctx, access_key: str, token: str | None) -> Credential:
    """Look the key up and check its session token and lifetime; the signature comes after.

    The token is checked before the signature because for AWS the token is what carries the
    secret: a missing or wrong token means the key cannot be resolved at all.
    """
    credential = ctx.lookup(access_key) if access_key else None
    if credential is None:
        raise ctx.fail(Failure.UNKNOWN_KEY)
    if credential.session_token is None:
        if token:
            raise ctx.fail(Failure.TOKEN_INVALID)
    elif token is None or not same(credential.session_token, token):
        raise ctx.fail(Failure.TOKEN_INVALID)
    if credential.expires_at is not None and credential.expires_at < ctx.now:
        raise ctx.fail(Failure.TOKEN_EXPIRED)
    return credential


# Past any expiry or length a request can mean; the value a longer number of digits reads as.
BEYOND = 2**63


def parse_count(text: str) -> int | None:
    """A non-negative decimal (expiry seconds, a length), or None when `text` is not one.

    Not `text.isdigit()` then int(): isdigit() takes "²" and "٣", which int() refuses, and
    int() refuses more than 4300 digits. A number past BEYOND reads as BEYOND.
    """
    if not (text.isascii() and text.isdigit()):
        return None
    digits = text.lstrip("0")
    return int(digits or "0") if len(digits) < len(str(BEYOND)) else BEYOND


def check_skew(ctx: Ctx, when: float, shown: str) -> None:
    """Refuse a request dated more than `skew` seconds away from now, worded per style."""
    if abs(ctx.now - when) <= ctx.skew:
        return
    if ctx.style == "s3":
        raise ctx.fail(
            Failure.SKEWED,
            extra={
                "RequestTime": shown,
                "ServerTime": format_iso8601(ctx.now),
                "MaxAllowedSkewMilliseconds": str(ctx.skew * 1000),
            },
        )
    raise ctx.fail(Failure.SKEWED, skew_message(when, ctx.now, ctx.skew))


def skew_message(when: float, now: float, skew: int) -> str:
    stamp, now_stamp, minutes = format_amz_date(when), format_amz_date(now), skew // 60
    if when < now:
        limit = format_amz_date(now - skew)
        return (
            f"Signature expired: {stamp} is now earlier than {limit} ({now_stamp} - {minutes} min.)"
        )
    limit = format_amz_date(now + skew)
    return (
        f"Signature not yet current: {stamp} is still later than {limit}"
        f" ({now_stamp} + {minutes} min.)"
    )
