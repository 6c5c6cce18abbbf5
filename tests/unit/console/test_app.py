"""The console application without a cloud: escaping, sessions, CSRF, errors as pages."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from mallee.api.errors import request_timeout
from mallee.api.http import HttpRequest, HttpResponse
from mallee.config import Settings
from mallee.console.app import Console, api_endpoint
from mallee.console.context import Route
from mallee.console.html import Html, escape, render, table
from mallee.console.session import COOKIE

pytestmark = pytest.mark.nodb


def get(console: Console, path: str, cookie: str = "") -> HttpResponse:
    headers = {"cookie": cookie} if cookie else {}
    return console.handle(HttpRequest("GET", path, "", headers))


def post(console: Console, path: str, body: str, cookie: str = "") -> HttpResponse:
    headers = {"content-type": "application/x-www-form-urlencoded"}
    if cookie:
        headers["cookie"] = cookie
    return console.handle(HttpRequest("POST", path, "", headers, body=body.encode()))


def cookie_of(response: HttpResponse) -> str:
    return response.headers["set-cookie"].split(";", 1)[0]


@pytest.fixture
def console(tmp_path: Path) -> Console:
    return Console(Settings(data_dir=tmp_path, port=1))  # nothing listens on port 1


def test_escaping_by_default() -> None:
    assert escape("<a href='x'>&</a>") == "&lt;a href=&#x27;x&#x27;&gt;&amp;&lt;/a&gt;"
    assert render("<p>{v}</p>", v="<b>") == "<p>&lt;b&gt;</p>"
    assert render("<p>{v}</p>", v=Html("<b>")) == "<p><b></p>"
    assert "<script>" not in table(["h"], [["<script>"]])


def test_pages_need_a_session(console: Console) -> None:
    answer = get(console, "/console/instances")
    assert answer.status == 303 and answer.headers["location"] == "/console/login"
    cookie = answer.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Path=/console/" in cookie
    assert get(console, "/console").headers["location"] == "/console/"


def test_login_page_and_csrf(console: Console) -> None:
    page = get(console, "/console/login")
    assert page.status == 200 and b'name="_csrf"' in page.body
    assert page.headers["x-frame-options"] == "DENY"
    token = re.search(rb'name="_csrf" value="([^"]+)"', page.body)
    assert token is not None
    cookie = cookie_of(page)
    # No token, a wrong one, or no session: refused before anything is called.
    assert post(console, "/console/login", "account=a&user=u&password=p", cookie).status == 403
    assert post(console, "/console/login", "_csrf=x&account=a", cookie).status == 403
    assert post(console, "/console/login", f"_csrf={token.group(1).decode()}").status == 403
    # With the token: the sign-in is attempted (no cloud here) and fails as a page.
    answer = post(
        console,
        "/console/login",
        f"_csrf={token.group(1).decode()}&account=a&user=u&password=p",
        cookie,
    )
    assert (
        answer.status == 502 and b"ServiceUnavailable: the cloud API did not answer" in answer.body
    )
    assert b"Traceback" not in answer.body


def test_unknown_paths_and_methods(console: Console) -> None:
    assert get(console, "/console/nowhere").status == 404
    assert post(console, "/console/instances", "").status == 405
    assert get(console, "/console/style.css").headers["content-type"].startswith("text/css")


def test_forged_cookie_is_no_session(console: Console) -> None:
    answer = get(console, "/console/", f"{COOKIE}=gAAAAforged")
    assert answer.status == 303 and answer.headers["location"] == "/console/login"


def test_a_failing_page_shows_no_traceback(console: Console) -> None:
    def broken(_ctx: object) -> HttpResponse:
        raise RuntimeError("secret internals")

    console.routes[("GET", "/login")] = Route("GET", "/login", broken, "/login")
    answer = get(console, "/console/login")
    assert answer.status == 500
    assert b"secret internals" not in answer.body and b"Traceback" not in answer.body


@pytest.mark.parametrize(
    "host, url",
    [
        ("127.0.0.1", "http://127.0.0.1:8773"),
        ("0.0.0.0", "http://127.0.0.1:8773"),
        ("::", "http://[::1]:8773"),
        ("fd00::1", "http://[fd00::1]:8773"),
        ("cloud.example", "http://cloud.example:8773"),
    ],
)
def test_api_endpoint(host: str, url: str) -> None:
    assert api_endpoint(Settings(host=host, port=8773)) == url


@pytest.mark.parametrize(
    "path, status, location",
    [
        ("/", 303, "/console/"),
        ("/console", 303, "/console/"),
        ("/consoles/x", 404, None),
        # The console's port serves nothing but the console: never a bucket's object.
        ("/bucket/page.html", 404, None),
    ],
)
def test_only_the_console_on_its_port(
    console: Console, path: str, status: int, location: str | None
) -> None:
    answer = get(console, path)
    assert answer.status == status
    assert answer.headers.get("location") == location


def test_refused_bodies_are_pages(console: Console) -> None:
    stalled = request_timeout()
    answer = console.handle(HttpRequest("POST", "/console/login", "", {}), refused=stalled)
    assert answer.status == 400 and b"not read from or written to" in answer.body
    assert answer.headers["content-type"].startswith("text/html")
