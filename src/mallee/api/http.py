"""Plain HTTP request/response values passed between the server, auth and protocol layers."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Protocol
from urllib.parse import unquote


class BodyStream(Protocol):
    """A request body read as it arrives (S3 uploads): `read(n)` returns b"" at the end."""

    def read(self, size: int = -1) -> bytes: ...


@dataclass(slots=True)
class HttpRequest:
    """One HTTP request as received.

    `path` is the raw (still percent-encoded) path, `query` the raw query string without '?'.
    Header names are lower-case; repeated headers are joined with ',' as RFC 9110 allows.
    """

    method: str
    path: str
    query: str
    headers: dict[str, str]
    body: bytes = b""
    remote_addr: str = ""
    # The path prefix that routing consumed (e.g. "/services/Euare"); parsers see `path` after it.
    script_name: str = ""
    # Set instead of `body` for services that stream (S3): the body is read from it on demand.
    stream: BodyStream | None = None
    # form_params' answer, kept: routing, the chain and the parser each ask for it.
    form_cache: dict[str, str] | None = field(default=None, repr=False, compare=False)

    def copy(self) -> HttpRequest:
        """A shallow copy (routing rewrites path and script_name on it), faster than
        dataclasses.replace, which every request pays for."""
        return HttpRequest(
            self.method,
            self.path,
            self.query,
            self.headers,
            self.body,
            self.remote_addr,
            self.script_name,
            self.stream,
            self.form_cache,
        )

    @property
    def query_params(self) -> list[tuple[str, str]]:
        return parse_form(self.query)

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "").split(";", 1)[0].strip().lower()

    def form_params(self) -> dict[str, str]:
        """Query string plus a form-encoded body, as the query and ec2 protocols send them.

        Parsed once per request; the dict is shared, so callers read it and never change it.
        UnicodeDecodeError when the body is not UTF-8.
        """
        if self.form_cache is None:
            params = dict(parse_form(self.query))
            if self.body and self.content_type in ("application/x-www-form-urlencoded", ""):
                params.update(parse_form(self.body.decode("utf-8")))
            self.form_cache = params
        return self.form_cache


@dataclass(slots=True)
class HttpResponse:
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    # Sent instead of `body` when set (S3 GetObject): pieces produced as the client reads.
    stream: Iterable[bytes] | None = None


def parse_form(text: str) -> list[tuple[str, str]]:
    """urllib's parse_qsl(text, keep_blank_values=True), its answer to the character.

    Faster on what clients send (a PutMetricData carries ~120 fields, few of them escaped):
    a name or value is unquoted only when it holds a "+" or "%".
    """
    out = []
    for part in text.split("&"):
        if not part:
            continue
        name, _, value = part.partition("=")
        if "+" in name or "%" in name:
            name = _unquote(name)
        if "+" in value or "%" in value:
            value = _unquote(value)
        out.append((name, value))
    return out


# The escapes clients send most (a timestamp's ":", a path's "/", a list's ","), replaced by
# C-speed str.replace; not "%25", whose "%" could start another escape once decoded.
_COMMON_ESCAPES = (("%3A", ":"), ("%2F", "/"), ("%2C", ","), ("%20", " "), ("%2B", "+"))


def _unquote(text: str) -> str:
    plain = text.replace("+", " ")
    if "%" not in plain:
        return plain
    fast = plain
    for escape, char in _COMMON_ESCAPES:
        if escape in fast:
            fast = fast.replace(escape, char)
    # Every "%" began one of those escapes (3 characters each, no "%" in their digits, none
    # produced by a replacement), so this is what unquote answers; otherwise ask unquote.
    return fast if "%" not in fast else unquote(plain)
