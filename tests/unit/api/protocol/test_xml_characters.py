"""Characters XML 1.0 cannot carry: refused in every string as it is parsed, never written out."""

from __future__ import annotations

import json
from urllib.parse import urlencode
from xml.etree import ElementTree

import cbor2
import pytest
from botocore.model import ServiceModel

from mallee.api.errors import ServiceError
from mallee.api.http import HttpRequest
from mallee.api.models import load_service_model
from mallee.api.protocol import parser_for, serializer_for
from mallee.api.protocol.xmlchars import carries, scrub, visible
from mallee.api.protocol.xmlutil import escape_attr, escape_text
from tests.unit.api.protocol.wire import error_roundtrip, response_roundtrip, to_http_request

EC2 = load_service_model("ec2")
IAM = load_service_model("iam")
EMPYREAN = load_service_model("empyrean")
CW = load_service_model("cloudwatch")

# One of each kind XML 1.0 leaves out: C0 controls, NUL, ESC, a lone surrogate, U+FFFE/U+FFFF.
FORBIDDEN = ["\x01", "\x00", "\x1b", "\x08", "\x0b", "\x0c", "\x1f", "\ud800", "\udfff", "\ufffe"]
# The edges of what it allows.
ALLOWED = ["\t", "\n", "\r", " ", "\x7f", "\x85", "\ud7ff", "\ue000", "\ufffd", "\U00010000"]


def _form(params: dict[str, str]) -> HttpRequest:
    # (A form cannot carry a lone surrogate: its bytes are not UTF-8. JSON can, escaped.)
    body = urlencode(params).encode()
    headers = {"content-type": "application/x-www-form-urlencoded; charset=utf-8"}
    return HttpRequest("POST", "/", "", headers, body)


def _refused(protocol: str, service: ServiceModel, request: HttpRequest) -> ServiceError:
    with pytest.raises(ServiceError) as caught:
        parser_for(protocol).parse(request, service)
    return caught.value


@pytest.mark.parametrize("char", [c for c in FORBIDDEN if not 0xD800 <= ord(c) <= 0xDFFF])
def test_ec2_tag_value_refused(char: str) -> None:
    request = _form(
        {
            "Action": "CreateTags",
            "Version": "2016-11-15",
            "ResourceId.1": "sg-1",
            "Tag.1.Key": "Name",
            "Tag.1.Value": f"a{char}b",
        }
    )
    err = _refused("ec2", EC2, request)
    assert (err.code, err.status) == ("InvalidParameterValue", 400)
    # The value is echoed with the character spelt out, so the error itself stays parseable.
    assert f"Value (a\\u{ord(char):04X}b) for parameter Tag.1.Value is invalid." in err.message
    assert carries(err.message)


@pytest.mark.parametrize("char", ALLOWED)
def test_ec2_allowed_characters_pass(char: str) -> None:
    request = _form(
        {
            "Action": "CreateSecurityGroup",
            "Version": "2016-11-15",
            "GroupName": "g",
            "GroupDescription": f"a{char}b",
        }
    )
    parsed = parser_for("ec2").parse(request, EC2)
    assert parsed.params["Description"] == f"a{char}b"


def test_query_refuses_in_members_without_a_pattern() -> None:
    # Empyrean's property values have no model pattern: only the character check stands.
    request = _form(
        {"Action": "ModifyPropertyValue", "Version": "eucalyptus", "Name": "x", "Value": "v\x1b[2J"}
    )
    err = _refused("query", EMPYREAN, request)
    assert (err.code, err.status) == ("ValidationError", 400)
    assert err.message.startswith(
        "1 validation error detected: Value 'v\\u001B[2J' at 'value' failed to satisfy "
        "constraint: Member must satisfy regular expression pattern: [\\u0009\\u000A"
    )


def test_query_map_keys_and_list_items_are_checked() -> None:
    request = _form(
        {
            "Action": "TagUser",
            "Version": "2010-05-08",
            "UserName": "bob",
            "Tags.member.1.Key": "k\x00",
            "Tags.member.1.Value": "v",
        }
    )
    err = _refused("query", IAM, request)
    assert "at 'tags.1.member.key'" in err.message and "k\\u0000" in err.message


def test_sensitive_values_are_not_echoed() -> None:
    request = _form(
        {
            "Action": "CreateLoginProfile",
            "Version": "2010-05-08",
            "UserName": "bob",
            "Password": "s3cret\x01",
        }
    )
    err = _refused("query", IAM, request)
    assert "s3cret" not in err.message
    assert "Value at 'password' failed to satisfy constraint" in err.message


@pytest.mark.parametrize("char", FORBIDDEN)
def test_json_refuses_escaped_characters(char: str) -> None:
    body = json.dumps({"Namespace": f"ns{char}", "MetricData": []}).encode()
    headers = {
        "x-amz-target": "GraniteServiceVersion20100801.PutMetricData",
        "content-type": "application/x-amz-json-1.0",
    }
    err = _refused("json", CW, HttpRequest("POST", "/", "", headers, body))
    assert (err.code, err.status) == ("ValidationException", 400)
    assert "at 'namespace'" in err.message and carries(err.message)


def test_cbor_refuses_in_nested_strings() -> None:
    body = cbor2.dumps(
        {
            "Namespace": "ns",
            "MetricData": [{"MetricName": "m", "Dimensions": [{"Name": "d", "Value": "a\x02"}]}],
        }
    )
    headers = {"smithy-protocol": "rpc-v2-cbor", "content-type": "application/cbor"}
    request = HttpRequest(
        "POST", "/service/GraniteServiceVersion20100801/operation/PutMetricData", "", headers, body
    )
    err = _refused("smithy-rpc-v2-cbor", CW, request)
    assert "at 'metricData.1.member.dimensions.1.member.value'" in err.message


def test_botocore_built_requests_are_refused_too() -> None:
    request = to_http_request(
        EC2,
        "CreateTags",
        {"Resources": ["sg-1"], "Tags": [{"Key": "k", "Value": "\x00"}]},
        "ec2",
    )
    assert _refused("ec2", EC2, request).code == "InvalidParameterValue"


# Output: values stored before input was checked are still written as parseable XML ----------


def test_escapers_replace_what_xml_cannot_carry() -> None:
    assert escape_text("a\x01<b\ud800\r") == "a\ufffd&lt;b\ufffd&#13;"
    assert escape_attr('a\x00"\t') == "a\ufffd&quot;&#9;"
    for char in ALLOWED:
        assert escape_text(f"x{char}") == f"x{char}".replace("\r", "&#13;")
    assert scrub("ok") == "ok" and visible("\x01\ud800") == "\\u0001\\uD800"


@pytest.mark.parametrize("protocol", ["ec2", "query"])
def test_stored_control_characters_still_parse(protocol: str) -> None:
    service = EC2 if protocol == "ec2" else IAM
    if protocol == "ec2":
        op = service.operation_model("DescribeTags")
        result = {
            "Tags": [
                {"Key": "k\x1b", "Value": "a\x01b\x00", "ResourceId": "i-1", "ResourceType": "x"}
            ]
        }
        parsed = response_roundtrip(protocol, op, result)
        assert parsed["Tags"][0]["Value"] == "a\ufffdb\ufffd"
        assert parsed["Tags"][0]["Key"] == "k\ufffd"
    else:
        op = service.operation_model("ListUserTags")
        parsed = response_roundtrip(
            protocol, op, {"Tags": [{"Key": "k", "Value": "\x02"}], "IsTruncated": False}
        )
        assert parsed["Tags"] == [{"Key": "k", "Value": "\ufffd"}]


def test_rest_xml_output_still_parses() -> None:
    s3 = load_service_model("s3")
    op = s3.operation_model("ListObjectsV2")
    response = serializer_for("rest-xml").serialize(
        op, {"Name": "b", "Contents": [{"Key": "a\x01b", "Size": 1}], "KeyCount": 1}, "r"
    )
    root = ElementTree.fromstring(response.body)
    keys = [e.text for e in root.iter() if e.tag.endswith("Key")]
    assert keys == ["a\ufffdb"]


@pytest.mark.parametrize("protocol", ["ec2", "query", "rest-xml"])
def test_error_messages_holding_them_still_parse(protocol: str) -> None:
    service = {"ec2": EC2, "query": IAM, "rest-xml": load_service_model("s3")}[protocol]
    error = ServiceError("InvalidParameterValue", "bad \x01 value \ud800", 400)
    parsed, response = error_roundtrip(protocol, service, None, error)
    assert parsed["Error"]["Code"] == "InvalidParameterValue"
    assert parsed["Error"]["Message"] == "bad \ufffd value \ufffd"
    response.body.decode("utf-8")
