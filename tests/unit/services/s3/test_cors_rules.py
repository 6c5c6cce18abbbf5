"""CORS rule validation and matching, as pure functions."""

from __future__ import annotations

from typing import Any

import pytest

from mallee.api.errors import ServiceError
from mallee.services.s3.cors import cors_headers, matching_rule, validate_rules, wildcard_match

pytestmark = pytest.mark.nodb


def rule(**kw: Any) -> dict[str, Any]:
    return {"AllowedOrigins": ["https://app.example"], "AllowedMethods": ["GET"], **kw}


@pytest.mark.parametrize(
    ("rules", "code", "text"),
    [
        ([], "MalformedXML", ""),
        ([rule()] * 101, "MalformedXML", ""),
        ([rule(AllowedOrigins=[])], "MalformedXML", ""),
        ([rule(AllowedMethods=["PATCH"])], "InvalidRequest", "Unsupported method is PATCH"),
        ([rule(AllowedOrigins=["*.a.*"])], "InvalidRequest", "can not have more than one"),
        ([rule(AllowedHeaders=["x-*-*"])], "InvalidRequest", "can not have more than one"),
        ([rule(ExposeHeaders=["x-*"])], "InvalidRequest", "contains wildcard"),
    ],
)
def test_validation(rules: list[dict[str, Any]], code: str, text: str) -> None:
    with pytest.raises(ServiceError) as err:
        validate_rules(rules)
    assert err.value.code == code and text in err.value.message


def test_valid_rules() -> None:
    validate_rules([rule(AllowedOrigins=["*"], AllowedHeaders=["*"])] * 100)


def test_wildcards() -> None:
    assert wildcard_match("*", "http://x")
    assert wildcard_match("https://*.example.com", "https://a.b.example.com")
    assert not wildcard_match("https://*.example.com", "https://example.com")
    assert not wildcard_match("https://a.example", "https://A.example")
    assert wildcard_match("X-Amz-*", "x-amz-date", fold=True)


def test_first_matching_rule_wins() -> None:
    rules = [
        rule(AllowedMethods=["PUT"], AllowedHeaders=["content-type"]),
        rule(AllowedOrigins=["*"], AllowedMethods=["GET", "PUT"], MaxAgeSeconds=30),
    ]
    assert matching_rule(rules, "https://app.example", "PUT", ["content-type"]) is rules[0]
    assert matching_rule(rules, "https://app.example", "PUT", ["x-other"]) is None
    assert matching_rule(rules, "https://other", "GET") is rules[1]
    assert matching_rule(rules, "https://other", "DELETE") is None


def test_headers() -> None:
    exact = cors_headers(rule(ExposeHeaders=["ETag"], MaxAgeSeconds=0), "https://app.example")
    assert exact["Access-Control-Allow-Origin"] == "https://app.example"
    assert exact["Access-Control-Allow-Credentials"] == "true"
    assert exact["Access-Control-Expose-Headers"] == "ETag"
    assert exact["Access-Control-Max-Age"] == "0"
    assert "Origin" in exact["Vary"]
    star = cors_headers(rule(AllowedOrigins=["*"]), "https://x", ["x-amz-date"])
    assert star["Access-Control-Allow-Origin"] == "*"
    assert "Access-Control-Allow-Credentials" not in star
    assert star["Access-Control-Allow-Headers"] == "x-amz-date"
