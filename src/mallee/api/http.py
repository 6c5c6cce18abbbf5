"""Plain HTTP request/response values passed between the server, auth and protocol layers."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Protocol
from urllib.parse import parse_qsl


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
        )

    @property
    def query_params(self) -> list[tuple[str, str]]:
        return parse_qsl(self.query, keep_blank_values=True)

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "").split(";", 1)[0].strip().lower()

    def form_params(self) -> dict[str, str]:
        """Query string plus a form-encoded body, as the query and ec2 protocols send them."""
        params = dict(self.query_params)
        if self.body and self.content_type in ("application/x-www-form-urlencoded", ""):
            params.update(parse_qsl(self.body.decode("utf-8"), keep_blank_values=True))
        return params


@dataclass(slots=True)
class HttpResponse:
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    # Sent instead of `body` when set (S3 GetObject): pieces produced as the client reads.
    stream: Iterable[bytes] | None = None
