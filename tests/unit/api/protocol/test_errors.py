"""Errors in every protocol's format, and bad input answered with the exact AWS code and a 4xx."""

from __future__ import annotations

import json
from typing import Any

import cbor2
import pytest
from botocore.model import ServiceModel

from mallee.api.errors import ServiceError
from mallee.api.http import HttpRequest
from mallee.api.models import load_service_model
from mallee.api.protocol import parser_for
from tests.unit.api.protocol.wire import error_roundtrip, to_http_request

IAM = load_service_model("iam")
EC2 = load_service_model("ec2")
CW = load_service_model("cloudwatch")
S3 = load_service_model("s3")
CBOR = "smithy-rpc-v2-cbor"
ERROR_CASES = [("query", IAM), ("ec2", EC2), ("json", CW), (CBOR, CW), ("rest-xml", S3)]


@pytest.mark.parametrize(("protocol", "service"), ERROR_CASES)
@pytest.mark.parametrize(("status", "sender"), [(400, True), (404, True), (503, False)])
def test_error_roundtrip(protocol: str, service: ServiceModel, status: int, sender: bool) -> None:
    error = ServiceError("NoSuchEntity", "The <thing> & co is gone", status, sender_fault=sender)
    parsed, response = error_roundtrip(protocol, service, None, error)
    assert response.status == status
    assert parsed["Error"]["Code"] == "NoSuchEntity"
    assert parsed["Error"]["Message"] == "The <thing> & co is gone"
    assert parsed["ResponseMetadata"]["RequestId"] == "err-req-9"
    assert parsed["ResponseMetadata"]["HTTPStatusCode"] == status


def test_query_error_type_and_extra_headers() -> None:
    error = ServiceError("Throttling", "slow down", 400, headers={"Retry-After": "1"})
    parsed, response = error_roundtrip("query", IAM, None, error)
    assert parsed["Error"]["Type"] == "Sender"
    assert response.headers["Retry-After"] == "1"
    parsed, _ = error_roundtrip(
        "query", IAM, None, ServiceError("Boom", "x", 500, sender_fault=False)
    )
    assert parsed["Error"]["Type"] == "Receiver"


def test_rest_xml_error_extra_fields() -> None:
    error = ServiceError("NoSuchBucket", "nope", 404, extra={"BucketName": "bk"})
    parsed, response = error_roundtrip("rest-xml", S3, None, error)
    assert parsed["Error"]["BucketName"] == "bk"
    assert response.headers["x-amz-request-id"] == "err-req-9"
    assert parsed["ResponseMetadata"]["HostId"]


def test_rest_xml_head_error_has_no_body() -> None:
    op = S3.operation_model("HeadObject")
    parsed, response = error_roundtrip("rest-xml", S3, op, ServiceError("NoSuchKey", "x", 404))
    assert response.body == b""
    assert parsed["Error"]["Code"] == "404"


@pytest.mark.parametrize("protocol", ["json", CBOR])
def test_query_compatible_error_code(protocol: str) -> None:
    error = ServiceError("InvalidParameterValue", "bad", 400)
    parsed, response = error_roundtrip(protocol, CW, None, error)
    assert response.headers["x-amzn-query-error"] == "InvalidParameterValue;Sender"
    assert parsed["Error"]["Code"] == "InvalidParameterValue"


def test_json_error_without_query_compatibility() -> None:
    dynamo = load_service_model("dynamodb")
    parsed, response = error_roundtrip(
        "json", dynamo, None, ServiceError("ResourceNotFoundException", "x")
    )
    assert "x-amzn-query-error" not in response.headers
    assert parsed["Error"]["Code"] == "ResourceNotFoundException"


def _fails(protocol: str, service: ServiceModel, request: HttpRequest) -> ServiceError:
    with pytest.raises(ServiceError) as caught:
        parser_for(protocol).parse(request, service)
    assert 400 <= caught.value.status < 500
    return caught.value


def _form(body: str, query: str = "") -> HttpRequest:
    headers = {"content-type": "application/x-www-form-urlencoded; charset=utf-8"}
    return HttpRequest("POST", "/", query, headers, body.encode())


@pytest.mark.parametrize(("protocol", "service"), [("query", IAM), ("ec2", EC2)])
def test_missing_and_unknown_action(protocol: str, service: ServiceModel) -> None:
    assert _fails(protocol, service, _form("Version=1")).code == "MissingAction"
    error = _fails(protocol, service, _form("Action=Explode&Version=1"))
    assert (error.code, error.status) == ("InvalidAction", 400)


def test_action_in_query_string() -> None:
    parsed = parser_for("query").parse(_form("", "Action=ListUsers&Version=2010-05-08"), IAM)
    assert parsed.operation.name == "ListUsers"


def test_query_missing_required_member() -> None:
    error = _fails("query", IAM, _form("Action=CreateUser&Version=2010-05-08"))
    assert error.code == "ValidationError"
    assert error.message == (
        "1 validation error detected: Value null at 'userName' failed to satisfy "
        "constraint: Member must not be null"
    )


def test_query_nested_missing_and_wrong_types() -> None:
    body = (
        "Action=PutMetricData&Version=2010-08-01&Namespace=n"
        "&MetricData.member.1.Value=abc&MetricData.member.1.Timestamp=yesterday"
    )
    error = _fails("query", CW, _form(body))
    assert error.code == "ValidationError"
    assert error.message.startswith("3 validation errors detected: ")
    assert "Value 'abc' at 'metricData.1.member.value'" in error.message
    assert "Value null at 'metricData.1.member.metricName'" in error.message


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ("Action=ListUsers&Version=2010-05-08&MaxItems=ten", "ValidationError"),
        ("Action=ListUsers&Version=2010-05-08&MaxItems=99999999999", "ValidationError"),
    ],
)
def test_query_wrong_typed(body: str, code: str) -> None:
    assert _fails("query", IAM, _form(body)).code == code


def test_query_body_not_utf8() -> None:
    request = HttpRequest("POST", "/", "", {}, b"Action=ListUsers&x=\xff\xfe")
    assert _fails("query", IAM, request).code == "MalformedQueryString"


@pytest.mark.parametrize(
    ("body", "code", "needle"),
    [
        (
            "Action=RunInstances&Version=2016-11-15&MinCount=1",
            "MissingParameter",
            "MaxCount",
        ),
        (
            "Action=RunInstances&Version=2016-11-15&ImageId=emi-1&MinCount=one&MaxCount=1",
            "InvalidParameterValue",
            "MinCount",
        ),
        (
            "Action=DescribeInstances&Version=2016-11-15&DryRun=maybe",
            "InvalidParameterValue",
            "DryRun",
        ),
        (
            "Action=ImportKeyPair&Version=2016-11-15&KeyName=k&PublicKeyMaterial=%%%",
            "InvalidParameterValue",
            "PublicKeyMaterial",
        ),
    ],
)
def test_ec2_errors(body: str, code: str, needle: str) -> None:
    error = _fails("ec2", EC2, _form(body))
    assert error.code == code
    assert needle in error.message


def _json(body: bytes, target: str = "GraniteServiceVersion20100801.PutMetricData") -> HttpRequest:
    headers = {"content-type": "application/x-amz-json-1.0", "x-amz-target": target}
    return HttpRequest("POST", "/", "", headers, body)


@pytest.mark.parametrize(
    "body",
    [b"{not json", b"[1, 2]", b"\xff\xfe\x00", b"[" * 100_000 + b"]" * 100_000, b'"text"'],
)
def test_json_malformed(body: bytes) -> None:
    error = _fails("json", CW, _json(body))
    assert (error.code, error.status) == ("SerializationException", 400)


def test_json_unknown_target() -> None:
    for target in ("GraniteServiceVersion20100801.Explode", "Other.PutMetricData", ""):
        error = _fails("json", CW, _json(b"{}", target))
        assert (error.code, error.status) == ("UnknownOperationException", 400)


def test_json_missing_and_wrong_typed() -> None:
    error = _fails("json", CW, _json(b'{"MetricData": []}'))
    assert error.code == "ValidationException"
    assert "Value null at 'namespace'" in error.message
    wrong: dict[str, Any] = {"Namespace": "n", "MetricData": [{"MetricName": "m", "Value": "high"}]}
    assert _fails("json", CW, _json(json.dumps(wrong).encode())).code == "SerializationException"
    wrong = {"Namespace": 5, "MetricData": []}
    assert _fails("json", CW, _json(json.dumps(wrong).encode())).code == "SerializationException"
    wrong = {"Namespace": "n", "MetricData": [{"MetricName": "m", "StorageResolution": True}]}
    assert _fails("json", CW, _json(json.dumps(wrong).encode())).code == "SerializationException"


def test_json_enum_is_a_constraint() -> None:
    body = {"Namespace": "n", "MetricData": [{"MetricName": "m", "Unit": "Parsecs"}]}
    err = _fails("json", CW, _json(json.dumps(body).encode()))
    assert (err.code, err.status) == ("ValidationException", 400)
    assert "'metricData.1.member.unit'" in err.message
    assert "Member must satisfy enum value set" in err.message


def _cbor(body: bytes, op: str = "PutMetricData") -> HttpRequest:
    headers = {"content-type": "application/cbor", "smithy-protocol": "rpc-v2-cbor"}
    path = f"/service/GraniteServiceVersion20100801/operation/{op}"
    return HttpRequest("POST", path, "", headers, body)


@pytest.mark.parametrize(
    "body",
    [
        b"\xff\x00",  # a break code with nothing to break
        b"\xbf\x61",  # truncated
        b"\x81" * 5000 + b"\x00",  # nesting beyond the cap
        bytes.fromhex("d81c81d81d00"),  # a value that refers to itself
        cbor2.dumps([1, 2]),  # not a map
        bytes.fromhex("a1614e") + bytes.fromhex("c1") + b"\x61x",  # tag 1 on a string
    ],
)
def test_cbor_malformed(body: bytes) -> None:
    error = _fails(CBOR, CW, _cbor(body))
    assert (error.code, error.status) == ("SerializationException", 400)


def test_cbor_unknown_operation_and_wrong_types() -> None:
    assert _fails(CBOR, CW, _cbor(b"", "Explode")).code == "UnknownOperationException"
    bad_path = HttpRequest("POST", "/service/Other/operation/PutMetricData", "", {}, b"")
    assert _fails(CBOR, CW, bad_path).code == "UnknownOperationException"
    missing = cbor2.dumps({"MetricData": []})
    assert _fails(CBOR, CW, _cbor(missing)).code == "ValidationException"
    wrong = cbor2.dumps({"Namespace": "n", "MetricData": [{"MetricName": "m", "Timestamp": "x"}]})
    assert _fails(CBOR, CW, _cbor(wrong)).code == "SerializationException"


def _s3(
    method: str,
    path: str,
    query: str = "",
    body: bytes = b"",
    headers: dict[str, str] | None = None,
) -> HttpRequest:
    return HttpRequest(method, path, query, headers or {}, body)


BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>
<Tagging><TagSet><Tag><Key>&lol3;</Key><Value>v</Value></Tag></TagSet></Tagging>"""
EXTERNAL = b"""<?xml version="1.0"?><!DOCTYPE t [<!ENTITY x SYSTEM "file:///etc/passwd">]>
<Tagging><TagSet><Tag><Key>&x;</Key><Value>v</Value></Tag></TagSet></Tagging>"""


@pytest.mark.parametrize(
    "body",
    [
        b"<Tagging><TagSet>",
        b"not xml at all",
        BILLION_LAUGHS,
        EXTERNAL,
        b"<Tagging>" + b"<a>" * 200 + b"</a>" * 200 + b"</Tagging>",
        b"<Tagging><TagSet><Tag><Value>v</Value></Tag></TagSet></Tagging>",  # Key is required
        # Another document type's root around a valid body (S3: MalformedXML, never read).
        b"<Tags><TagSet><Tag><Key>k</Key><Value>v</Value></Tag></TagSet></Tags>",
        b"\xff\xfe<\x00",
    ],
)
def test_rest_xml_malformed_body(body: bytes) -> None:
    error = _fails("rest-xml", S3, _s3("PUT", "/bk", "tagging", body))
    assert (error.code, error.status) == ("MalformedXML", 400)


def test_rest_xml_wrong_root_element() -> None:
    parts = b"<Part><PartNumber>1</PartNumber><ETag>e</ETag></Part>"
    right = _s3(
        "POST",
        "/bk/k",
        "uploadId=u",
        b"<CompleteMultipartUpload>" + parts + b"</CompleteMultipartUpload>",
    )
    parsed = parser_for("rest-xml").parse(right, S3)
    assert parsed.params["MultipartUpload"] == {"Parts": [{"PartNumber": 1, "ETag": "e"}]}
    wrong = _s3("POST", "/bk/k", "uploadId=u", b"<Delete>" + parts + b"</Delete>")
    error = _fails("rest-xml", S3, wrong)
    assert (error.code, error.status) == ("MalformedXML", 400)


def test_rest_xml_missing_payload() -> None:
    assert _fails("rest-xml", S3, _s3("PUT", "/bk", "tagging")).code == "MalformedXML"


def test_rest_xml_wrong_typed_values() -> None:
    error = _fails("rest-xml", S3, _s3("GET", "/bk", "list-type=2&max-keys=lots"))
    assert error.code == "InvalidArgument"
    assert error.extra == {"ArgumentName": "max-keys", "ArgumentValue": "lots"}
    bad_date = _s3("GET", "/bk/k", headers={"if-modified-since": "someday"})
    assert _fails("rest-xml", S3, bad_date).code == "InvalidArgument"
    body = (
        b"<CompleteMultipartUpload><Part><PartNumber>one</PartNumber></Part>"
        b"</CompleteMultipartUpload>"
    )
    error = _fails("rest-xml", S3, _s3("POST", "/bk/k", "uploadId=u", body))
    assert error.code == "MalformedXML"


def test_rest_xml_no_matching_operation() -> None:
    error = _fails("rest-xml", S3, _s3("PATCH", "/bk/k"))
    assert (error.code, error.status) == ("MethodNotAllowed", 405)


def test_rest_xml_namespaces_ignored_and_trailing_slash() -> None:
    body = (
        b'<Tagging xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><TagSet>'
        b"<Tag><Key>a</Key><Value>b</Value></Tag></TagSet></Tagging>"
    )
    parsed = parser_for("rest-xml").parse(_s3("PUT", "/bk/", "tagging", body), S3)
    assert parsed.operation.name == "PutBucketTagging"
    assert parsed.params == {"Bucket": "bk", "Tagging": {"TagSet": [{"Key": "a", "Value": "b"}]}}


def test_rest_xml_script_name_already_stripped() -> None:
    request = to_http_request(S3, "GetObject", {"Bucket": "bk", "Key": "a/b"}, "rest-xml")
    request.script_name = "/services/objectstorage"
    parsed = parser_for("rest-xml").parse(request, S3)
    assert parsed.params == {"Bucket": "bk", "Key": "a/b"}
