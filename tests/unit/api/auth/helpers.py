"""Shared test helpers: credentials, a lookup, and conversions into HttpRequest."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from urllib.parse import urlsplit

import pytest

from mallee.api.auth import AuthError, AuthResult, authenticate
from mallee.api.context import Principal
from mallee.api.credentials import Credential
from mallee.api.http import HttpRequest


def make_credential(
    access_key: str,
    secret: str,
    *,
    token: str | None = None,
    expires_at: float | None = None,
) -> Credential:
    principal = Principal(
        account_id="123456789012",
        arn="arn:aws:iam::123456789012:user/tester",
        user_id="AIDATESTER",
        kind="user",
        name="tester",
        access_key_id=access_key,
    )
    return Credential(access_key, secret, principal, session_token=token, expires_at=expires_at)


def lookup_of(*credentials: Credential) -> Callable[[str], Credential | None]:
    table = {c.access_key_id: c for c in credentials}
    return table.get


def http_request(
    method: str,
    url: str,
    headers: dict[str, str] | list[tuple[str, str]] | None = None,
    body: bytes = b"",
) -> HttpRequest:
    """An HttpRequest as the server would build it from a URL, headers and body."""
    parts = urlsplit(url)
    items = list(headers.items()) if isinstance(headers, dict) else list(headers or [])
    merged: dict[str, str] = {}
    for name, value in items:
        key = name.lower()
        value = value.strip()
        merged[key] = f"{merged[key]},{value}" if key in merged else value
    if "host" not in merged and parts.netloc:
        merged["host"] = parts.netloc
    return HttpRequest(method, parts.path or "/", parts.query, merged, body)


def from_botocore(prepared: object) -> HttpRequest:
    """Convert a botocore AWSPreparedRequest (what goes on the wire)."""
    url: str = prepared.url  # type: ignore[attr-defined]
    method: str = prepared.method  # type: ignore[attr-defined]
    raw_headers = prepared.headers  # type: ignore[attr-defined]
    body = prepared.body  # type: ignore[attr-defined]
    if body is None:
        body = b""
    elif isinstance(body, str):
        body = body.encode()
    elif hasattr(body, "read"):
        body = body.read()
    headers = [(k, v.decode() if isinstance(v, bytes) else str(v)) for k, v in raw_headers.items()]
    return http_request(method, url, headers, body)


def expect_error(code: str, status: int, call: Callable[[], object]) -> AuthError:
    with pytest.raises(AuthError) as info:
        call()
    err = info.value
    assert (err.code, err.status) == (code, status), f"{err.code} {err.status}: {err.message}"
    return err


def verify(
    request: HttpRequest, credential: Credential, *, now: float, style: str = "query", **kw: object
) -> AuthResult:
    result = authenticate(request, lookup_of(credential), now=now, style=style, **kw)  # type: ignore[arg-type]
    assert result is not None
    assert result.credential is credential
    return result


def with_secret(credential: Credential, secret: str) -> Credential:
    return replace(credential, secret_key=secret)
