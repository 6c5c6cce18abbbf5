"""Every shape type of every protocol, both directions, with Hypothesis-generated values."""

from __future__ import annotations

import string
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mallee.api.protocol import parser_for, serializer_for
from tests.unit.api.protocol import synthetic
from tests.unit.api.protocol.wire import (
    botocore_parse,
    parse_with_mallee,
    response_roundtrip,
    to_http_request,
)

BODY_PROTOCOLS = ["query", "ec2", "json", "smithy-rpc-v2-cbor", "rest-xml"]
SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
LABEL = st.text(string.ascii_letters + string.digits + "-_", min_size=1, max_size=10)
HEADER_WORD = st.text(string.ascii_letters + string.digits, min_size=1, max_size=8)
META_KEY = st.text(string.ascii_lowercase + string.digits + "-", min_size=1, max_size=8)


def _body(protocol: str, operation: str, output: bool) -> st.SearchStrategy[dict[str, Any]]:
    op = synthetic.model(protocol).operation_model(operation)
    shape = op.output_shape if output else op.input_shape
    values = synthetic.Values(
        nonempty=protocol == "ec2",
        nonempty_maps=protocol == "query",
        no_cr=protocol == "rest-xml" and not output,
    )
    return values.for_shape(shape)


def _rest_request_extras() -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries(
        {"Id": LABEL, "Path": synthetic.TEXT.filter(bool)},
        optional={
            "HInt": st.integers(-(2**31), 2**31 - 1),
            "HTs": synthetic.Values(seconds_only=True).scalar("timestamp"),
            "HBool": st.booleans(),
            # botocore quotes items with ',' or '"' but leaves '\\' unescaped: ambiguous.
            "HList": st.lists(
                synthetic.HEADER_TEXT.filter(lambda t: t and "\\" not in t), min_size=1, max_size=3
            ),
            "Meta": st.dictionaries(META_KEY, HEADER_WORD, min_size=1, max_size=3),
            "QLng": st.integers(-(2**63), 2**63 - 1),
            "QTs": synthetic.MOMENTS,
            "QList": st.lists(synthetic.TEXT, min_size=1, max_size=3),
        },
    )


def _rest_response_extras() -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries(
        # botocore always returns a header map, empty when no header has the prefix.
        {"Meta": st.dictionaries(META_KEY, HEADER_WORD, max_size=3)},
        optional={
            "HInt": st.integers(-(2**31), 2**31 - 1),
            "HTs": synthetic.Values(seconds_only=True).scalar("timestamp"),
            "HBool": st.booleans(),
            # botocore splits response header lists on bare commas, without quoting rules.
            "HList": st.lists(HEADER_WORD, min_size=1, max_size=3),
        },
    )


@pytest.mark.parametrize("protocol", BODY_PROTOCOLS)
@SETTINGS
@given(data=st.data())
def test_request_roundtrip_every_type(protocol: str, data: st.DataObject) -> None:
    params = data.draw(_body(protocol, "AllTypes", output=False))
    if protocol == "rest-xml":
        params.update(data.draw(_rest_request_extras()))
    else:
        params["Id"] = data.draw(synthetic.TEXT)
    parsed = parse_with_mallee(synthetic.model(protocol), "AllTypes", params, protocol)
    assert parsed.operation.name == "AllTypes"
    assert parsed.params == params


@pytest.mark.parametrize("protocol", BODY_PROTOCOLS)
@SETTINGS
@given(data=st.data())
def test_response_roundtrip_every_type(protocol: str, data: st.DataObject) -> None:
    service = synthetic.model(protocol)
    result = data.draw(_body(protocol, "AllTypes", output=True))
    if protocol == "rest-xml":
        result.update(data.draw(_rest_response_extras()))
    op = service.operation_model("AllTypes")
    assert response_roundtrip(protocol, op, result) == result


@pytest.mark.parametrize("protocol", BODY_PROTOCOLS)
def test_operation_without_members(protocol: str) -> None:
    service = synthetic.model(protocol)
    request = to_http_request(service, "Nothing", {}, protocol)
    parsed = parser_for(protocol).parse(request, service)
    assert (parsed.operation.name, parsed.params) == ("Nothing", {})
    op = service.operation_model("Nothing")
    response = serializer_for(protocol).serialize(op, {}, "req-7")
    parsed = botocore_parse(protocol, op, response)
    metadata = parsed.pop("ResponseMetadata")
    assert parsed == {}
    # botocore's cbor parser skips RequestId when there is no output shape; the header is there.
    assert metadata.get("RequestId", response.headers.get("x-amzn-RequestId")) == "req-7"


@pytest.mark.parametrize("protocol", ["query", "json", "smithy-rpc-v2-cbor"])
def test_special_floats_in_requests(protocol: str) -> None:
    params = {"Id": "x", "Dbl": float("inf"), "Flt": float("-inf")}
    parsed = parse_with_mallee(synthetic.model(protocol), "AllTypes", params, protocol)
    assert parsed.params == params
