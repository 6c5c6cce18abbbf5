"""Model constraints (length, range, enum, pattern) answered as AWS does, per protocol."""

from __future__ import annotations

import json
from urllib.parse import urlencode

import pytest

from mallee.api.errors import ServiceError
from mallee.api.http import HttpRequest
from mallee.api.models import load_service_model
from mallee.api.protocol import parser_for

IAM = load_service_model("iam")
EC2 = load_service_model("ec2")
CW = load_service_model("cloudwatch")


def _iam(action: str, **params: str) -> HttpRequest:
    body = urlencode({"Action": action, "Version": "2010-05-08", **params}).encode()
    headers = {"content-type": "application/x-www-form-urlencoded; charset=utf-8"}
    return HttpRequest("POST", "/", "", headers, body)


def _iam_error(action: str, **params: str) -> ServiceError:
    with pytest.raises(ServiceError) as caught:
        parser_for("query").parse(_iam(action, **params), IAM)
    assert (caught.value.code, caught.value.status) == ("ValidationError", 400)
    return caught.value


def test_too_short_and_too_long() -> None:
    err = _iam_error("GetRole", RoleName="")
    assert err.message == (
        "1 validation error detected: Value '' at 'roleName' failed to satisfy constraint: "
        "Member must have length greater than or equal to 1"
    )
    err = _iam_error("GetRole", RoleName="r" * 65)
    assert "Member must have length less than or equal to 64" in err.message


def test_pattern_uses_java_classes() -> None:
    err = _iam_error("CreateUser", UserName="bad name!")
    assert "at 'userName'" in err.message
    assert "Member must satisfy regular expression pattern: [\\w+=,.@-]+" in err.message
    # \p{L} is every letter, not only ASCII.
    ok = _iam("TagUser", UserName="bob", **{"Tags.member.1.Key": "日本", "Tags.member.1.Value": ""})
    assert parser_for("query").parse(ok, IAM).params["Tags"] == [{"Key": "日本", "Value": ""}]


def test_range_and_every_problem_listed() -> None:
    err = _iam_error("ListUsers", MaxItems="0", PathPrefix="")
    assert err.message.startswith("2 validation errors detected: ")
    assert "at 'maxItems' failed to satisfy constraint: Member must have value greater" in (
        err.message
    )


def test_sensitive_values_are_not_echoed() -> None:
    err = _iam_error("CreateLoginProfile", UserName="bob", Password="")
    assert "Value at 'password'" in err.message
    assert "Value ''" not in err.message


def test_json_enum() -> None:
    body = {"Namespace": "n", "MetricData": [{"MetricName": "m", "Unit": "Parsecs"}]}
    headers = {
        "content-type": "application/x-amz-json-1.0",
        "x-amz-target": "GraniteServiceVersion20100801.PutMetricData",
    }
    request = HttpRequest("POST", "/", "", headers, json.dumps(body).encode())
    with pytest.raises(ServiceError) as caught:
        parser_for("json").parse(request, CW)
    assert caught.value.code == "ValidationException"
    assert "'metricData.1.member.unit'" in caught.value.message


def test_ec2_leaves_constraints_to_the_service() -> None:
    body = urlencode({"Action": "DescribeInstances", "Version": "2016-11-15", "MaxResults": "1"})
    headers = {"content-type": "application/x-www-form-urlencoded; charset=utf-8"}
    parsed = parser_for("ec2").parse(HttpRequest("POST", "/", "", headers, body.encode()), EC2)
    assert parsed.params["MaxResults"] == 1
