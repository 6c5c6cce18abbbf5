"""The web console on an origin of its own (issue #13).

The probe: a public text/html object, fetched path-style from the api port, ran its script on
the console's origin with the signed-in user's cookie; a page account B uploaded created a
key pair in account A's account and read its private key. Now the console answers only on
its own port, which serves no S3 object, and the api port serves no console. Anonymous
requests may not turn an object into a page with response-content-type either, as in AWS.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import urllib.error
import urllib.parse
import urllib.request
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from mallee.api.models.client import mallee_client
from tests.e2e.conftest import REGION, Cloud, free_port

pytestmark = pytest.mark.e2e

PAGE = b"<html><script>fetch('/console/keypairs')</script></html>"


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


def fetch(url: str, method: str = "GET", **headers: str) -> tuple[int, dict[str, str], bytes]:
    """(status, headers, body) as a browser gets them, redirects not followed."""
    opener = urllib.request.build_opener(NoRedirect)
    request = urllib.request.Request(url, method=method, headers=headers)
    try:
        with opener.open(request, timeout=30) as answer:
            return answer.status, {k.lower(): v for k, v in answer.headers.items()}, answer.read()
    except urllib.error.HTTPError as failed:
        return failed.code, {k.lower(): v for k, v in failed.headers.items()}, failed.read()


@pytest.fixture(scope="module")
def cloud(module_cloud: Cloud) -> Cloud:
    if not module_cloud.console:
        pytest.skip("no console origin known for this cloud (MALLEE_E2E_CONSOLE)")
    return module_cloud


@dataclass
class Pages:
    """A bucket of another account's (B) with public objects, and B's S3 client."""

    bucket: str
    s3: Any

    @property
    def path(self) -> str:
        return f"/{self.bucket}"


@pytest.fixture(scope="module")
def pages(cloud: Cloud) -> Pages:
    iam = mallee_client(  # the Eucalyptus account APIs are in mallee's own IAM model
        "iam",
        cloud.endpoint + "/services/Euare",
        region_name=REGION,
        aws_access_key_id=cloud.admin.access_key,
        aws_secret_access_key=cloud.admin.secret_key,
    )
    account = f"other{uuid.uuid4().hex[:8]}"
    iam.create_account(AccountName=account)
    key = iam.create_access_key(DelegateAccount=account)["AccessKey"]
    s3 = cloud.client("s3", key["AccessKeyId"], key["SecretAccessKey"])
    bucket = f"pages-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=bucket)
    s3.put_object(
        Bucket=bucket, Key="page.html", Body=PAGE, ContentType="text/html", ACL="public-read"
    )
    s3.put_object(
        Bucket=bucket, Key="note.txt", Body=PAGE, ContentType="text/plain", ACL="public-read"
    )
    return Pages(bucket, s3)


def origin(url: str) -> tuple[str, str, int | None]:
    parts = urllib.parse.urlsplit(url)
    return parts.scheme, parts.hostname or "", parts.port


def test_the_console_has_an_origin_of_its_own(cloud: Cloud) -> None:
    assert origin(cloud.console) != origin(cloud.endpoint)
    status, headers, body = fetch(cloud.console + "/console/login")
    assert status == 200 and headers["content-type"].startswith("text/html")
    assert "Path=/console/" in headers["set-cookie"] and b'name="_csrf"' in body
    # The bare origin leads to the console.
    status, headers, _ = fetch(cloud.console + "/")
    assert status == 303 and headers["location"] == "/console/"


def test_the_api_port_serves_no_console(cloud: Cloud) -> None:
    for path in ("/console/", "/console/login", "/console/keypairs"):
        status, headers, body = fetch(cloud.endpoint + path)
        # S3's answer (a bucket named "console", path style), never a console page or cookie.
        assert status in (403, 404) and headers["content-type"] == "application/xml", body
        assert "set-cookie" not in headers and b"_csrf" not in body
    status, headers, body = fetch(cloud.endpoint + "/console/keypairs/create", method="POST")
    assert "set-cookie" not in headers and headers["content-type"] == "application/xml"


def test_objects_are_never_served_on_the_console_origin(cloud: Cloud, pages: Pages) -> None:
    page = pages.path
    # On the api port the page is S3's, public: another origin than the console's.
    status, headers, body = fetch(cloud.endpoint + page + "/page.html")
    assert status == 200 and body == PAGE and headers["content-type"] == "text/html"
    # The console's port has no such path: not the object, whatever the path or signature.
    for path in (page + "/page.html", "/console" + page + "/page.html"):
        status, headers, body = fetch(cloud.console + path)
        assert status == 404 and PAGE not in body
        assert headers["content-type"].startswith("text/html")
    # And it lets no other origin (the api port's pages) read its answers.
    status, headers, _ = fetch(
        cloud.console + "/console/login", Origin=f"http://127.0.0.1:{origin(cloud.endpoint)[2]}"
    )
    assert status == 200 and not any(h.startswith("access-control-") for h in headers)


def test_anonymous_response_header_overrides_are_refused(cloud: Cloud, pages: Pages) -> None:
    url = cloud.endpoint + pages.path + "/note.txt"
    status, headers, _ = fetch(url)
    assert status == 200 and headers["content-type"] == "text/plain"
    status, headers, body = fetch(url + "?response-content-type=text/html")
    assert status == 400 and b"<Code>InvalidRequest</Code>" in body
    assert (
        b"<Message>Request specific response headers cannot be used for anonymous GET "
        b"requests.</Message>" in body
    )
    status, _, _ = fetch(url + "?response-content-disposition=inline", method="HEAD")
    assert status == 400
    # A signed request may still choose them (presigned, as a browser would use it).
    signed = pages.s3.generate_presigned_url(
        "get_object",
        Params={"Bucket": pages.bucket, "Key": "note.txt", "ResponseContentType": "text/csv"},
    )
    status, headers, _ = fetch(signed)
    assert status == 200 and headers["content-type"] == "text/csv"


def test_console_port_in_use_is_one_sentence(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        console = busy.getsockname()[1]
        env = dict(os.environ, MALLEE_DATA_DIR=str(tmp_path), MALLEE_HYPERVISOR="fake")
        port = free_port()
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "mallee",
                "up",
                "--port",
                str(port),
                "--console-port",
                str(console),
            ],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert result.returncode == 2
    assert result.stderr.strip() == (
        f"mallee up: port {console} on 127.0.0.1 (the web console's) is in use: stop what uses"
        " it, or start with --console-port N."
    )
    assert "Traceback" not in result.stdout + result.stderr
