"""What a browser types is the user's error, never the console's: forged form tokens of any
characters, and input botocore refuses before sending it."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from mallee.api.http import HttpRequest, HttpResponse
from mallee.config import Settings
from mallee.console.app import Console
from mallee.console.context import Ctx, Route
from mallee.console.session import COOKIE, Session
from mallee.console.web import redirect

pytestmark = pytest.mark.nodb


@pytest.fixture
def console(tmp_path: Path) -> Console:
    return Console(Settings(data_dir=tmp_path, port=1))  # nothing listens on port 1


def _signed_in(console: Console) -> tuple[str, str]:
    session = Session(account="a", user="u", access_key="ASIAX", secret_key="s", expires=2e9)
    return f"{COOKIE}={console.sealer().seal(session)}", session.csrf


def _request(method: str, path: str, cookie: str, body: str = "") -> HttpRequest:
    headers = {"cookie": cookie, "content-type": "application/x-www-form-urlencoded"}
    return HttpRequest(method, path, "", headers, body=body.encode())


@pytest.mark.parametrize("token", ["é", "\u2603" * 32, "%00", "%FF%FE"])
def test_a_non_ascii_form_token_is_refused(console: Console, token: str) -> None:
    cookie, _ = _signed_in(console)
    answer = console.handle(_request("POST", "/console/logout", cookie, f"_csrf={quote(token)}"))
    assert answer.status == 403


def _lists(ctx: Ctx) -> HttpResponse:
    ctx.client("s3").list_objects_v2(Bucket=ctx.arg("bucket"))
    return redirect("/")


@pytest.mark.parametrize(
    "bucket", ["bad name!", "arn:aws:s3:us-east-1:123456789012:accesspoint/x", ""]
)
def test_input_botocore_refuses_is_a_400_page(console: Console, bucket: str) -> None:
    console.routes[("GET", "/buckets/objects")] = Route("GET", "/buckets/objects", _lists, "/")
    cookie, _ = _signed_in(console)
    raw = _request("GET", "/console/buckets/objects", cookie)
    raw.query = f"bucket={quote(bucket)}"
    answer = console.handle(raw)
    assert answer.status == 400
    assert b"Invalid bucket name" in answer.body and b"did not answer" not in answer.body


def test_a_form_botocore_refuses_comes_back_with_the_message(console: Console) -> None:
    console.routes[("POST", "/buckets/create")] = Route("POST", "/buckets/create", _lists, "/x")
    cookie, csrf = _signed_in(console)
    answer = console.handle(
        _request("POST", "/console/buckets/create", cookie, f"_csrf={csrf}&bucket=bad+name%21")
    )
    assert answer.status == 303 and answer.headers["location"] == "/console/x"
    shown = console.sealer().open(_cookie_value(answer))
    assert shown is not None
    [(kind, text)] = shown.flash
    assert kind == "error" and "Invalid bucket name" in text and "did not answer" not in text


def _cookie_value(answer: Any) -> str:
    found = re.match(rf"{COOKIE}=([^;]+)", answer.headers["set-cookie"])
    assert found is not None
    return found.group(1)
