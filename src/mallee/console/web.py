"""Requests as the console's pages see them, and the responses they give."""

from __future__ import annotations

from dataclasses import dataclass, field
from http.cookies import CookieError, SimpleCookie
from urllib.parse import parse_qsl, unquote

from mallee.api.http import HttpRequest, HttpResponse
from mallee.console.html import Html
from mallee.console.multipart import FormData, MultipartError, Upload, parse

# The console's pages are below this path on its own port (Settings.console_port), and so is
# its cookie: browsers do not keep cookies apart by port, and on the api port this path is
# only S3's (a bucket named "console"), which ignores cookies.
PREFIX = "/console"
# Every answer: not cached (pages show credentials-bound data), not framed, no inline script.
SECURITY_HEADERS = {
    "cache-control": "no-store",
    "x-frame-options": "DENY",
    "x-content-type-options": "nosniff",
    "referrer-policy": "same-origin",
    "content-security-policy": (
        "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'"
    ),
}


class BadRequest(Exception):
    """The browser sent something no console form sends."""


@dataclass
class Request:
    method: str
    # Below /console: "/", "/instances", ...
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    cookie: str | None
    # The browser's address (the sign-in throttle counts attempts against it).
    remote_addr: str = ""
    form: dict[str, str] = field(default_factory=dict)
    files: dict[str, Upload] = field(default_factory=dict)

    def arg(self, name: str, default: str = "") -> str:
        """A form field (POST) or query parameter (GET), stripped."""
        value = self.form.get(name) if self.method == "POST" else self.query.get(name)
        return (value if value is not None else default).strip()


def parse_request(raw: HttpRequest, cookie_name: str) -> Request:
    path = unquote(raw.path[len(PREFIX) :]) or "/"
    request = Request(
        method=raw.method.upper(),
        path=path,
        query=dict(parse_qsl(raw.query, keep_blank_values=True)),
        headers=raw.headers,
        cookie=_cookie(raw.headers.get("cookie", ""), cookie_name),
        remote_addr=raw.remote_addr,
    )
    if request.method == "POST":
        _parse_body(request, raw)
    return request


def _parse_body(request: Request, raw: HttpRequest) -> None:
    kind = raw.content_type
    if kind == "multipart/form-data":
        try:
            data: FormData = parse(raw.body, raw.headers.get("content-type", ""))
        except MultipartError as bad:
            raise BadRequest(str(bad)) from None
        request.form, request.files = data.fields, data.files
    elif kind in ("application/x-www-form-urlencoded", ""):
        try:
            request.form = dict(parse_qsl(raw.body.decode("utf-8"), keep_blank_values=True))
        except UnicodeDecodeError:
            raise BadRequest("the form is not UTF-8") from None
    else:
        raise BadRequest(f"unexpected content type {kind}")


def _cookie(header: str, name: str) -> str | None:
    jar: SimpleCookie = SimpleCookie()
    try:
        jar.load(header)
    except CookieError:
        return None
    morsel = jar.get(name)
    return morsel.value if morsel is not None else None


def set_cookie(name: str, value: str) -> str:
    # HttpOnly: no script reads it; SameSite=Strict: no other site's page sends it (the first
    # line of CSRF defence, the per-session form token the second). A page on the api port is
    # the same site (ports do not count) but another origin: it may send a request with the
    # cookie yet never read the answer, so it never learns a form token. Not Secure: mallee
    # serves plain HTTP unless a TLS proxy is put in front.
    return f"{name}={value}; Path={PREFIX}/; HttpOnly; SameSite=Strict"


def html_response(body: Html, status: int = 200) -> HttpResponse:
    headers = {"content-type": "text/html; charset=utf-8", **SECURITY_HEADERS}
    return HttpResponse(status, headers, body.encode("utf-8"))


def redirect(path: str) -> HttpResponse:
    """303 See Other to a console path (after a POST, so reloading does not repeat it)."""
    return HttpResponse(303, {"location": PREFIX + path, **SECURITY_HEADERS}, b"")
