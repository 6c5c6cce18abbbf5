"""Arbitrary input never escapes as anything but a ServiceError with a 4xx status."""

from __future__ import annotations

from urllib.parse import urlencode

import cbor2
from botocore.model import ServiceModel
from hypothesis import given, settings
from hypothesis import strategies as st

from mallee.api.errors import ServiceError
from mallee.api.http import HttpRequest
from mallee.api.models import load_service_model
from mallee.api.protocol import parser_for

IAM = load_service_model("iam")
EC2 = load_service_model("ec2")
CW = load_service_model("cloudwatch")
S3 = load_service_model("s3")
FUZZ = settings(max_examples=200, deadline=None)
KEYS = st.sampled_from(
    ["Action", "Version", "UserName", "Tags.member.1.Key", "MaxItems", "MetricData.member.1.Value"]
)
JSONISH = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=5),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=10,
)


def _only_client_errors(protocol: str, service: ServiceModel, request: HttpRequest) -> None:
    try:
        parser_for(protocol).parse(request, service)
    except ServiceError as error:
        assert 400 <= error.status < 500


XMLISH = st.lists(
    st.sampled_from(
        ["<Tagging>", "</Tagging>", "<TagSet>", "<Tag>", "<Key>", "</Key>", "x", "&amp;"]
    ),
    max_size=12,
).map(lambda parts: "".join(parts).encode())


@FUZZ
@given(st.dictionaries(KEYS | st.text(max_size=20), st.text(max_size=20), max_size=6))
def test_query_and_ec2_forms(form: dict[str, str]) -> None:
    body = urlencode(form).encode()
    _only_client_errors("query", IAM, HttpRequest("POST", "/", "", {}, body))
    _only_client_errors("ec2", EC2, HttpRequest("POST", "/", "", {}, body))


@FUZZ
@given(st.binary(max_size=64) | JSONISH.map(lambda v: repr(v).encode()))
def test_json_bodies(body: bytes) -> None:
    headers = {"x-amz-target": "GraniteServiceVersion20100801.PutMetricData"}
    _only_client_errors("json", CW, HttpRequest("POST", "/", "", headers, body))


@FUZZ
@given(
    st.binary(max_size=64)
    | JSONISH.map(cbor2.dumps)
    | st.binary(max_size=8).map(lambda raw: b"\xa1\x71MetricDataQueries" + raw)
)
def test_cbor_bodies(body: bytes) -> None:
    path = "/service/GraniteServiceVersion20100801/operation/GetMetricData"
    _only_client_errors("smithy-rpc-v2-cbor", CW, HttpRequest("POST", path, "", {}, body))


@FUZZ
@given(
    st.sampled_from(["GET", "PUT", "POST", "DELETE", "HEAD"]),
    st.text(max_size=20).map(lambda p: "/" + p),
    st.text(max_size=20),
    st.binary(max_size=64) | XMLISH,
    st.dictionaries(
        st.sampled_from(["x-amz-copy-source", "if-modified-since", "content-length"]),
        st.text(max_size=10),
    ),
)
def test_rest_xml_requests(
    method: str, path: str, query: str, body: bytes, headers: dict[str, str]
) -> None:
    _only_client_errors("rest-xml", S3, HttpRequest(method, path, query, headers, body))
