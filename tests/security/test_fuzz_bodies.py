"""Fuzzing the JSON and CBOR protocols, and bodies of the wrong kind through the pipeline.

No service the cloud serves speaks json or smithy-rpc-v2-cbor yet, so their parsers are driven
directly with CloudWatch's model (which speaks both): every operation as botocore would send
it, then with values swapped for the wrong type, numbers past every range, deep nesting,
repeated keys, CBOR tags and truncation. Each refusal must be a 4xx ServiceError that botocore
reads back from its serialized form. Through the pipeline, JSON and CBOR bodies (with the
headers that select those protocols) go to the query services, which must refuse them there.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import math
from typing import Any

import cbor2
import pytest
from botocore.model import ServiceModel
from botocore.parsers import create_parser
from hypothesis import example, given
from hypothesis import strategies as st

from mallee.api.errors import ServiceError
from mallee.api.http import HttpRequest
from mallee.api.models import load_service_model
from mallee.api.protocol import parser_for, serializer_for
from mallee.api.protocol.detect import CBOR
from tests.security.fuzz_harness import (
    Pipeline,
    assert_authenticated,
    fuzz_settings,
    nasty_text,
    params_for,
    raw_request,
)

pytestmark = pytest.mark.fuzz

CW = load_service_model("cloudwatch")
TARGET_PREFIX = str(CW.metadata["targetPrefix"])
OPERATIONS = sorted(CW.operation_names)
# Values of every JSON/CBOR type, at the edges of what the parsers convert.
HOSTILE = st.one_of(
    st.sampled_from([None, True, False, 0, -1, 2**31, 2**63, -(2**63) - 1, 10**400, -(10**400)]),
    st.sampled_from([1e308, -0.0, math.inf, -math.inf, math.nan, 253402300800, -62135596801]),
    st.sampled_from(["NaN", "Infinity", "-Infinity", "", "1", "true", "AAAA", "A", "===="]),
    st.sampled_from([[], {}, [None], {"": None}, [[[[[]]]]]]),
    nasty_text,
)
PATHS = st.lists(st.integers(0, 50), max_size=6)


def _replace(tree: Any, path: list[int], value: Any) -> Any:
    """`tree` with the node `path` leads to (each step picks a child by index) replaced."""
    if not path or not isinstance(tree, dict | list) or not tree:
        return value
    step, rest = path[0], path[1:]
    if isinstance(tree, list):
        at = step % len(tree)
        return [*tree[:at], _replace(tree[at], rest, value), *tree[at + 1 :]]
    key = sorted(tree, key=str)[step % len(tree)]
    return {**tree, key: _replace(tree[key], rest, value)}


def _nest(depth: int) -> Any:
    value: Any = 1
    for _ in range(depth):
        value = [value]
    return value


@st.composite
def documents(draw: st.DrawFn) -> tuple[str, Any]:
    """(operation, a JSON-shaped document): botocore's params, then with hostile nodes."""
    name = draw(st.sampled_from(OPERATIONS))
    shape = CW.operation_model(name).input_shape
    params = draw(params_for(shape)) if shape is not None else {}
    document = _plain(params)
    for path, value in draw(st.lists(st.tuples(PATHS, HOSTILE), max_size=3)):
        document = _replace(document, path, value)
    if draw(st.integers(0, 9)) == 0:
        document = _replace(document, draw(PATHS), _nest(draw(st.sampled_from([70, 900]))))
    return name, document


def _plain(value: Any) -> Any:
    """botocore params as a JSON document (timestamps as epoch seconds, blobs as base64)."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, dt.datetime):
        return value.timestamp()
    if isinstance(value, bytes):
        return base64.b64encode(value).decode()
    return value


def _parse(protocol: str, request: HttpRequest, service: ServiceModel) -> None:
    """Parse; a refusal must be a 4xx that botocore reads back in this protocol."""
    try:
        parsed = parser_for(protocol).parse(request, service)
    except ServiceError as error:
        assert 400 <= error.status < 500, error
        response = serializer_for(protocol).serialize_error(error, service, None, "fuzz-1")
        raw = {"status_code": response.status, "headers": response.headers, "body": response.body}
        read = create_parser(protocol).parse(raw, None)
        assert read["Error"]["Code"] == error.code, read
        return
    assert isinstance(parsed.params, dict)


def _json_text(document: Any) -> bytes:
    try:
        return json.dumps(document).encode()
    except ValueError:  # ints past 4300 digits: the text is what a client could still send
        return repr(document).encode()


@pytest.mark.nodb  # the parser alone: the PostgreSQL pass would find nothing more
@fuzz_settings(300)
@given(
    documents(),
    st.sampled_from(["as-is", "truncated", "bom", "bad-utf8", "repeated-key", "deep"]),
)
# An integer too large for a float, sent for a double member: float() overflowed, a 500.
@example(
    ("PutMetricData", {"Namespace": "n", "MetricData": [{"MetricName": "m", "Value": 10**400}]}),
    "as-is",
)
def test_json_documents(drawn: tuple[str, Any], damage: str) -> None:
    name, document = drawn
    body = _json_text(document)
    if damage == "truncated":
        body = body[: len(body) // 2]
    elif damage == "bom":
        body = b"\xef\xbb\xbf" + body
    elif damage == "bad-utf8":
        body = body[:1] + b"\xc3\x28" + body[1:]
    elif damage == "repeated-key" and body.startswith(b"{") and len(body) > 2:
        body = b'{"Namespace": 5, ' + body[1:]
    elif damage == "deep":
        body = b"[" * 100_000 + b"]" * 100_000
    headers = {
        "x-amz-target": f"{TARGET_PREFIX}.{name}",
        "content-type": "application/x-amz-json-1.0",
    }
    _parse("json", HttpRequest("POST", "/", "", headers, body), CW)


# Built on each draw (a CBORTag of a list cannot be hashed, which sampled_from needs).
_CBOR_EXTRAS = (
    lambda: cbor2.CBORTag(1, "not a number"),
    lambda: cbor2.CBORTag(1, 10**30),
    lambda: cbor2.CBORTag(1, math.nan),
    lambda: cbor2.CBORTag(0, "not a date"),
    lambda: cbor2.CBORTag(28, [1]),
    lambda: cbor2.CBORTag(29, 0),
    lambda: cbor2.CBORTag(2, b"\xff" * 64),
    lambda: cbor2.CBORTag(258, [1, 1]),
    lambda: cbor2.CBORTag(99999, None),
    lambda: cbor2.undefined,
    lambda: cbor2.CBORSimpleValue(99),
    lambda: b"bytes where text goes",
    lambda: {1: "integer key"},
    lambda: {b"k": "bytes key"},
)
CBOR_EXTRAS = st.sampled_from(_CBOR_EXTRAS).map(lambda build: build())


@pytest.mark.nodb  # the parser alone: the PostgreSQL pass would find nothing more
@fuzz_settings(300)
@given(
    documents(),
    st.lists(st.tuples(PATHS, CBOR_EXTRAS), max_size=2),
    st.sampled_from(["as-is", "truncated", "extra-byte", "indefinite"]),
    st.binary(max_size=8),
)
def test_cbor_documents(
    drawn: tuple[str, Any], extras: list[tuple[list[int], Any]], damage: str, noise: bytes
) -> None:
    name, document = drawn
    for path, value in extras:
        document = _replace(document, path, value)
    body = cbor2.dumps(document)
    if damage == "truncated":
        body = body[: len(body) // 2]
    elif damage == "extra-byte":
        body = body + noise
    elif damage == "indefinite":
        body = b"\xbf" + body[1:] + b"\xff" if body[:1] == b"\xa0" else b"\x9f" + noise
    path = f"/service/{TARGET_PREFIX}/operation/{name}"
    headers = {"smithy-protocol": "rpc-v2-cbor", "content-type": "application/cbor"}
    _parse(CBOR, HttpRequest("POST", path, "", headers, body), CW)


@fuzz_settings(150)
@given(
    st.sampled_from(["iam", "sts", "ec2", "empyrean"]),
    st.sampled_from(
        [
            {
                "content-type": "application/x-amz-json-1.1",
                "x-amz-target": "AWSIdentityManagementV20100508.ListUsers",
            },
            {"content-type": "application/json", "x-amz-target": "x.y"},
            {"content-type": "application/cbor", "smithy-protocol": "rpc-v2-cbor"},
            {"content-type": "application/xml"},
        ]
    ),
    st.one_of(
        st.binary(max_size=60),
        documents().map(lambda drawn: _json_text(drawn[1])),
        documents().map(lambda drawn: cbor2.dumps(drawn[1])),
    ),
)
def test_other_protocols_sent_to_query_services(
    fuzz_pipeline: Pipeline, service: str, headers: dict[str, str], body: bytes
) -> None:
    request = raw_request("POST", "/", "", headers, body, fuzz_pipeline.reader, service)
    response = fuzz_pipeline.send(request)
    assert_authenticated(request, response)
    assert response.status >= 400
