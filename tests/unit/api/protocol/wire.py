"""Round-trip helpers: botocore builds requests and parses responses, mallee does the other half."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from botocore.awsrequest import HeadersDict, create_request_object, prepare_request_dict
from botocore.model import OperationModel, ServiceModel
from botocore.parsers import create_parser
from botocore.serialize import create_serializer

from mallee.api.errors import ServiceError
from mallee.api.http import HttpRequest, HttpResponse
from mallee.api.protocol import ParsedRequest, detect_protocol, parser_for, serializer_for

ENDPOINT = "https://mallee.example.com"


def to_http_request(
    service: ServiceModel, operation: str, params: dict[str, Any], protocol: str
) -> HttpRequest:
    """What a botocore client would put on the wire for this call, as mallee receives it."""
    op = service.operation_model(operation)
    serializer = create_serializer(protocol, include_validation=True)
    request_dict = serializer.serialize_to_request(params, op)
    prepare_request_dict(request_dict, endpoint_url=ENDPOINT)
    prepared = create_request_object(request_dict).prepare()
    url = urlsplit(prepared.url)
    body = prepared.body or b""
    if isinstance(body, str):
        body = body.encode("utf-8")
    elif not isinstance(body, bytes):
        body = body.read()
    headers = {name.lower(): str(value) for name, value in prepared.headers.items()}
    return HttpRequest(prepared.method, url.path or "/", url.query, headers, body)


def parse_with_mallee(
    service: ServiceModel, operation: str, params: dict[str, Any], protocol: str
) -> ParsedRequest:
    request = to_http_request(service, operation, params, protocol)
    assert detect_protocol(request, service) == protocol
    return parser_for(protocol).parse(request, service)


def botocore_parse(protocol: str, op: OperationModel | None, response: HttpResponse) -> Any:
    headers = HeadersDict()
    for name, value in response.headers.items():
        headers[name] = value
    raw = {"status_code": response.status, "headers": headers, "body": response.body}
    return create_parser(protocol).parse(raw, op.output_shape if op else None)


def response_roundtrip(
    protocol: str, op: OperationModel, result: dict[str, Any], request_id: str = "req-1"
) -> dict[str, Any]:
    response = serializer_for(protocol).serialize(op, result, request_id)
    assert response.status < 300
    parsed = botocore_parse(protocol, op, response)
    metadata = parsed.pop("ResponseMetadata")
    assert metadata["RequestId"] == request_id
    return dict(parsed)


def error_roundtrip(
    protocol: str, service: ServiceModel, op: OperationModel | None, error: ServiceError
) -> tuple[dict[str, Any], HttpResponse]:
    response = serializer_for(protocol).serialize_error(error, service, op, "err-req-9")
    return botocore_parse(protocol, op, response), response
