"""Fuzzing the front of the pipeline with requests of any shape, unsigned.

Routing (Eucalyptus /services/<Name> paths, the credential scope, the Host header with its
virtual-hosted buckets), the protocol detection and the anonymous paths (STS GetAccessToken's
Basic password sign-in, anonymous S3) all see methods, paths, queries, headers and bodies of
any kind. Every answer is one the server can send, in some service's protocol, never a 5xx.
"""

from __future__ import annotations

import base64
from urllib.parse import quote

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from mallee.api.http import HttpRequest
from mallee.gateway.catalog import SERVICES
from tests.security.fuzz_harness import (
    BUCKET,
    HOST,
    Pipeline,
    fuzz_settings,
    header_text,
    nasty_text,
    query_piece,
)

pytestmark = pytest.mark.fuzz

PATH_NAMES = sorted({name for spec in SERVICES for name in spec.path_names})
hosts = st.one_of(
    st.sampled_from([HOST, "iam.localhost", "ec2.eucalyptus.localhost", "s3.localhost"]),
    st.sampled_from([f"{BUCKET}.s3.localhost", ".s3.localhost", "a..b.s3.localhost:99"]),
    header_text.map(lambda text: f"{text}.s3.localhost"),
    header_text,
)
paths = st.one_of(
    st.sampled_from(PATH_NAMES).map(lambda name: f"/services/{name}"),
    st.tuples(st.sampled_from(PATH_NAMES), nasty_text).map(
        lambda p: f"/services/{p[0]}/{quote(p[1])}"
    ),
    nasty_text.map(lambda text: "/" + quote(text, safe="/")),
    st.sampled_from(["/", "//", "/services/", "/services//x", "/%2e%2e/", f"/{BUCKET}/"]),
)
# Basic credentials as the console's sign-in sends them (account, user, password), broken.
basic = st.tuples(nasty_text, nasty_text, nasty_text).map(
    lambda p: "Basic " + base64.b64encode(f"{p[0]}@{p[1]}:{p[2]}".encode()).decode()
)
authorizations = st.one_of(
    st.none(),
    basic,
    st.sampled_from(["Basic", "Basic !!!", "Basic " + base64.b64encode(b"\xff\xfe").decode()]),
    header_text,
)
queries = st.one_of(
    st.just(""),
    st.just("Action=GetAccessToken&Version=2011-06-15"),
    st.lists(query_piece, max_size=4).map("&".join),
)
bodies = st.one_of(
    st.just(b""),
    st.just(b"Action=GetAccessToken&Version=2011-06-15"),
    st.binary(max_size=80),
    nasty_text.map(lambda text: text.encode("utf-8", "replace")),
)
headers = st.dictionaries(
    st.sampled_from(
        ["content-type", "x-amz-target", "smithy-protocol", "x-amz-date", "origin", "expect"]
    ),
    header_text | st.sampled_from(["application/x-www-form-urlencoded", "application/cbor"]),
    max_size=3,
)


@fuzz_settings(400)
@given(
    st.sampled_from(["GET", "POST", "PUT", "DELETE", "HEAD", "OPTIONS", "PATCH", "FOO"]),
    paths,
    queries,
    hosts,
    authorizations,
    headers,
    bodies,
)
# A seed, not a regression: Basic credentials that are not UTF-8, to the console sign-in.
@example(
    "POST",
    "/services/Tokens",
    "Action=GetAccessToken&Version=2011-06-15",
    HOST,
    "Basic " + base64.b64encode(b"\xff\xfe:\xff").decode(),
    {},
    b"",
)
def test_requests_of_any_shape(
    fuzz_pipeline: Pipeline,
    method: str,
    path: str,
    query: str,
    host: str,
    authorization: str | None,
    extra: dict[str, str],
    body: bytes,
) -> None:
    sent = {"host": host, **extra}
    if authorization is not None:
        sent["authorization"] = authorization
    fuzz_pipeline.send(HttpRequest(method, path, query, sent, body))
