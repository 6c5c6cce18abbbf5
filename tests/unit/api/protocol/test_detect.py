"""Protocol detection and the parser/serializer factories."""

from __future__ import annotations

import pytest

from mallee.api.http import HttpRequest
from mallee.api.models import load_service_model
from mallee.api.protocol import (
    RequestParser,
    ResponseSerializer,
    detect_protocol,
    parser_for,
    serializer_for,
)
from tests.unit.api.protocol.wire import to_http_request

CW = load_service_model("cloudwatch")
PROTOCOLS = ["query", "ec2", "json", "smithy-rpc-v2-cbor", "rest-xml"]


@pytest.mark.parametrize("protocol", ["query", "json", "smithy-rpc-v2-cbor"])
def test_cloudwatch_request_detected_in_the_protocol_botocore_used(protocol: str) -> None:
    request = to_http_request(CW, "ListMetrics", {"Namespace": "n"}, protocol)
    assert detect_protocol(request, CW) == protocol


def test_detection_signals() -> None:
    def request(**headers: str) -> HttpRequest:
        return HttpRequest("POST", "/", "", headers, b"")

    assert (
        detect_protocol(request(**{"content-type": "application/cbor"}), CW) == "smithy-rpc-v2-cbor"
    )
    assert (
        detect_protocol(request(**{"smithy-protocol": "rpc-v2-cbor"}), CW) == "smithy-rpc-v2-cbor"
    )
    assert detect_protocol(request(**{"x-amz-target": "G.ListMetrics"}), CW) == "json"
    assert detect_protocol(request(), CW) == "query"


@pytest.mark.parametrize(
    ("service", "expected"), [("iam", "query"), ("ec2", "ec2"), ("s3", "rest-xml")]
)
def test_single_protocol_services(service: str, expected: str) -> None:
    request = HttpRequest("POST", "/", "", {"x-amz-target": "anything"}, b"")
    assert detect_protocol(request, load_service_model(service)) == expected


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_factories(protocol: str) -> None:
    parser = parser_for(protocol)
    serializer = serializer_for(protocol)
    assert isinstance(parser, RequestParser)
    assert isinstance(serializer, ResponseSerializer)
    assert parser.protocol == serializer.protocol == protocol
    assert parser_for(protocol) is parser


def test_unknown_protocol() -> None:
    with pytest.raises(ValueError, match="rest-json"):
        parser_for("rest-json")
    with pytest.raises(ValueError, match="rest-json"):
        serializer_for("rest-json")
