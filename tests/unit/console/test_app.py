"""The console application without a cloud: escaping, sessions, CSRF, limits, and every
refusal a page with its reason and status (issue #16's bad input)."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Iterator, MutableMapping
from pathlib import Path
from typing import Any

import pytest
from starlette.responses import Response
from starlette.testclient import TestClient

from mallee.config import Settings
from mallee.console.app import Console, api_endpoint
from mallee.console.context import Ctx, Notes, Route
from mallee.console.session import COOKIE, Session
from mallee.console.templating import render

pytestmark = pytest.mark.nodb


@pytest.fixture
def console(tmp_path: Path) -> Console:
    # Nothing listens on port 1; bodies may pause a second at most.
    settings = Settings(data_dir=tmp_path, port=1, body_idle_timeout=1, body_timeout=2)
    return Console(settings, max_upload=1024 * 1024)


@pytest.fixture
def client(console: Console) -> Iterator[TestClient]:
    with TestClient(console, follow_redirects=False) as c:
        yield c


def signed_in(console: Console, client: TestClient, **fields: Any) -> str:
    """Give the client a signed-in session's cookie; its form token."""
    values: dict[str, Any] = {
        "account": "a",
        "user": "u",
        "access_key": "ASIAX",
        "secret_key": "s",
        "expires": time.time() + 600,
        **fields,
    }
    session = Session(**values)
    client.cookies.clear()
    client.cookies.set(COOKIE, console.sealer().seal(session), path="/console/")
    return session.csrf


def token(page: str) -> str:
    found = re.search(r'name="_csrf" value="([^"]+)"', page)
    assert found is not None
    return found.group(1)


def errors(page: str) -> list[str]:
    return re.findall(r'<div class="flash error[^"]*"[^>]*>([^<]*)</div>', page)


def test_templates_escape_everything() -> None:
    shown = render(
        "error.html",
        session=Session(),
        csrf="t",
        title="<b>",
        active="",
        notes=Notes([("error", "<script>x</script>")]),
        reason="<img src=x>",
    )
    assert "<script>x" not in shown and "&lt;script&gt;x&lt;/script&gt;" in shown
    assert "<img" not in shown and "<b>" not in shown


def test_pages_need_a_session(client: TestClient) -> None:
    answer = client.get("/console/instances")
    assert answer.status_code == 303 and answer.headers["location"] == "/console/login"
    cookie = answer.headers["set-cookie"]
    assert "httponly" in cookie.lower() and "samesite=strict" in cookie.lower()
    assert "Path=/console/" in cookie
    assert client.get("/console").headers["location"] == "/console/"
    # htmx polling a list is sent away from the page, not given the sign-in form to show in it.
    polled = client.get("/console/instances/rows", headers={"hx-request": "true"})
    assert polled.headers["hx-redirect"] == "/console/login" and polled.text == ""


def test_login_page_and_csrf(client: TestClient) -> None:
    page = client.get("/console/login")
    assert page.status_code == 200 and 'name="_csrf"' in page.text
    assert page.headers["x-frame-options"] == "DENY"
    assert "script-src 'self'" in page.headers["content-security-policy"]
    form = {"account": "a", "user": "u", "password": "p"}
    # No token, a wrong one: refused before anything is called.
    for sent in ({}, {"_csrf": "x"}):
        refused = client.post("/console/login", data={**sent, **form})
        assert refused.status_code == 403 and "did not come from the console" in refused.text
    # With the token: the sign-in is attempted (no cloud here) and fails as a page.
    answer = client.post("/console/login", data={"_csrf": token(page.text), **form})
    assert answer.status_code == 502
    assert errors(answer.text)[0].startswith("ServiceUnavailable: the cloud API did not answer")
    assert "Traceback" not in answer.text


def test_a_token_without_its_session_is_refused(console: Console, tmp_path: Path) -> None:
    with TestClient(console, follow_redirects=False) as first:
        sent = token(first.get("/console/login").text)
    with TestClient(console, follow_redirects=False) as other:
        answer = other.post("/console/login", data={"_csrf": sent, "account": "a"})
        assert answer.status_code == 403


def test_unknown_paths_and_methods(client: TestClient) -> None:
    missing = client.get("/console/nowhere")
    assert missing.status_code == 404 and "no such page" in missing.text
    assert missing.headers["content-type"].startswith("text/html")
    assert client.post("/console/instances").status_code == 405
    css = client.get("/console/static/style.css")
    assert css.headers["content-type"].startswith("text/css")
    assert client.get("/console/static/../app.py").status_code == 404


@pytest.mark.parametrize("value", ["gAAAAforged", "x" * 300])
def test_a_forged_cookie_is_a_403_sign_in_page(client: TestClient, value: str) -> None:
    client.cookies.set(COOKIE, value, path="/console/")
    answer = client.get("/console/")
    assert answer.status_code == 403 and "session cookie is not valid" in answer.text
    assert 'action="/console/login"' in answer.text  # the way back in, at once
    # And a fresh session instead: its form token signs in.
    assert COOKIE in answer.headers["set-cookie"]


def test_an_expired_session_is_a_403_sign_in_page(console: Console, client: TestClient) -> None:
    signed_in(console, client, expires=time.time() - 1)
    answer = client.get("/console/instances")
    assert answer.status_code == 403 and "Your session has expired" in answer.text


def test_a_post_with_a_forged_cookie_changes_nothing(console: Console, client: TestClient) -> None:
    called: list[str] = []

    def record(ctx: Ctx) -> Response:
        called.append(ctx.arg("name"))
        return ctx.back()

    console.routes[("POST", "/keypairs/create")] = Route("POST", "/keypairs/create", record, "/")
    csrf = signed_in(console, client)
    good = client.cookies.get(COOKIE)
    assert good is not None
    client.cookies.clear()
    client.cookies.set(COOKIE, good[:-6] + "AAAAAA", path="/console/")
    assert (
        client.post("/console/keypairs/create", data={"_csrf": csrf, "name": "k"}).status_code
        == 403
    )
    client.cookies.clear()
    client.cookies.set(COOKIE, good, path="/console/")
    assert client.post("/console/keypairs/create", data={"name": "k"}).status_code == 403
    assert called == []
    assert (
        client.post("/console/keypairs/create", data={"_csrf": csrf, "name": "k"}).status_code
        == 303
    )
    assert called == ["k"]


def test_admin_pages_need_the_cloud_admin(console: Console, client: TestClient) -> None:
    signed_in(console, client, account="demo")
    for path in ("/console/admin/services", "/console/admin/properties"):
        answer = client.get(path)
        assert answer.status_code == 403 and "Only the cloud administrator" in answer.text
    assert "/console/admin/services" not in client.get("/console/login", follow_redirects=True).text


def test_a_failing_page_shows_no_traceback(console: Console, client: TestClient) -> None:
    def broken(_ctx: Ctx) -> Response:
        raise RuntimeError("secret internals")

    console.routes[("GET", "/login")] = Route("GET", "/login", broken, "/login")
    answer = client.get("/console/login")
    assert answer.status_code == 500
    assert "secret internals" not in answer.text and "Traceback" not in answer.text


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
        ("/console/../bucket/page.html", 404, None),
    ],
)
def test_only_the_console_on_its_port(
    client: TestClient, path: str, status: int, location: str | None
) -> None:
    answer = client.get(path)
    assert answer.status_code == status
    assert answer.headers.get("location") == location


def test_an_oversized_form_or_upload_is_a_413_page(console: Console, client: TestClient) -> None:
    csrf = signed_in(console, client)
    big = client.post("/console/keypairs/create", data={"_csrf": csrf, "name": "x" * (2 << 20)})
    assert big.status_code == 413 and "larger than the console takes (1 MiB)" in big.text
    files = {"file": ("f.bin", b"x" * (2 << 20))}
    data = {"_csrf": csrf, "bucket": "b"}
    upload = client.post("/console/buckets/upload", data=data, files=files)
    assert upload.status_code == 413 and upload.headers["connection"] == "close"


def asgi(
    console: Console, path: str, pieces: list[bytes], pause: float = 0, cookie: str = ""
) -> tuple[int, bytes]:
    """A POST whose body comes in `pieces` with no Content-Length, `pause` seconds apart."""
    sent: list[MutableMapping[str, Any]] = []
    queue = list(pieces)

    async def receive() -> dict[str, Any]:
        if not queue:
            await asyncio.sleep(3600)
        await asyncio.sleep(pause)
        piece = queue.pop(0)
        return {"type": "http.request", "body": piece, "more_body": bool(queue)}

    async def send(message: MutableMapping[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "method": "POST",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "headers": [
            (b"content-type", b"multipart/form-data; boundary=XyZ"),
            (b"cookie", f"{COOKIE}={cookie}".encode()),
        ],
        "client": ("127.0.0.1", 1),
        "server": ("127.0.0.1", 2),
        "scheme": "http",
        "root_path": "",
    }
    asyncio.run(console(scope, receive, send))
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return sent[0]["status"], body


def test_a_body_counted_past_the_limit_is_refused(console: Console) -> None:
    session = Session(account="a", user="u", access_key="A", secret_key="s", expires=2e9)
    head = (
        f'--XyZ\r\nContent-Disposition: form-data; name="_csrf"\r\n\r\n{session.csrf}\r\n'
        '--XyZ\r\nContent-Disposition: form-data; name="bucket"\r\n\r\nb\r\n'
        '--XyZ\r\nContent-Disposition: form-data; name="file"; filename="f"\r\n\r\n'
    ).encode()
    calls: list[str] = []

    class S3:
        def __getattr__(self, name: str) -> Any:
            calls.append(name)
            return lambda **_: {"UploadId": "u", "ETag": "e"}

    console.cloud.client = lambda service, keys: S3()  # type: ignore[method-assign]
    pieces = [head] + [b"x" * 65536] * 20
    status, body = asgi(
        console, "/console/buckets/upload", pieces, cookie=console.sealer().seal(session)
    )
    assert status == 413 and b"larger than the console takes" in body
    assert calls == []  # nothing written: less than a part had come


def test_a_stalled_body_is_a_page(console: Console) -> None:
    status, body = asgi(console, "/console/login", [b"a=1", b"b=2"], pause=1.6)
    assert status == 400 and b"RequestTimeout" in body and b"Traceback" not in body
