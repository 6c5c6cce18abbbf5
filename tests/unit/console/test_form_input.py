"""What a browser types is the user's error, never the console's: forged form tokens of any
characters, and input botocore refuses before sending it."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.responses import Response
from starlette.testclient import TestClient

from mallee.config import Settings
from mallee.console.app import Console
from mallee.console.context import Ctx, Route
from mallee.console.session import COOKIE, Session
from mallee.console.templating import redirect

pytestmark = pytest.mark.nodb


@pytest.fixture
def console(tmp_path: Path) -> Console:
    return Console(Settings(data_dir=tmp_path, port=1))  # nothing listens on port 1


@pytest.fixture
def client(console: Console) -> Iterator[TestClient]:
    with TestClient(console, follow_redirects=False) as c:
        session = Session(account="a", user="u", access_key="ASIAX", secret_key="s", expires=2e9)
        c.cookies.set(COOKIE, console.sealer().seal(session), path="/console/")
        c.headers["x-csrf-for-test"] = session.csrf
        yield c


@pytest.mark.parametrize("token", ["é", "\u2603" * 32, "\x00", "%FF%FE"])
def test_a_non_ascii_form_token_is_refused(client: TestClient, token: str) -> None:
    assert client.post("/console/logout", data={"_csrf": token}).status_code == 403


def _lists(ctx: Ctx) -> Response:
    ctx.client("s3").list_objects_v2(Bucket=ctx.arg("bucket"))
    return redirect("/")


@pytest.mark.parametrize(
    "bucket", ["bad name!", "arn:aws:s3:us-east-1:123456789012:accesspoint/x", ""]
)
def test_input_botocore_refuses_is_a_400_page(
    console: Console, client: TestClient, bucket: str
) -> None:
    console.routes[("GET", "/buckets/objects")] = Route("GET", "/buckets/objects", _lists, "/")
    answer = client.get("/console/buckets/objects", params={"bucket": bucket})
    assert answer.status_code == 400
    assert "Invalid bucket name" in answer.text and "did not answer" not in answer.text


def test_a_form_botocore_refuses_comes_back_with_the_message(
    console: Console, client: TestClient
) -> None:
    console.routes[("POST", "/buckets/create")] = Route("POST", "/buckets/create", _lists, "/x")
    csrf = client.headers["x-csrf-for-test"]
    answer = client.post("/console/buckets/create", data={"_csrf": csrf, "bucket": "bad name!"})
    assert answer.status_code == 303 and answer.headers["location"] == "/console/x"
    found = re.match(rf"{COOKIE}=([^;]+)", answer.headers["set-cookie"])
    assert found is not None
    shown = console.sealer().open(found.group(1))
    assert shown is not None
    [(kind, text)] = shown.flash
    # Shown next to the form that posted it.
    assert kind == "error /buckets/create"
    assert "Invalid bucket name" in text and "did not answer" not in text
