"""Bucket CORS through boto3, and what browsers see: preflights and actual cross-origin requests."""

from __future__ import annotations

import urllib.error
import urllib.request
import uuid
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.e2e.conftest import Cloud
from tests.e2e.s3util import code

pytestmark = pytest.mark.e2e

APP = "https://app.example.com"
RULES = [
    {
        "ID": "uploads",
        "AllowedOrigins": [APP],
        "AllowedMethods": ["PUT", "POST"],
        "AllowedHeaders": ["Content-Type", "x-amz-*"],
        "ExposeHeaders": ["ETag", "x-amz-request-id"],
        "MaxAgeSeconds": 600,
    },
    {"AllowedOrigins": ["http://*.example.org"], "AllowedMethods": ["GET", "HEAD"]},
    {"AllowedOrigins": ["*"], "AllowedMethods": ["GET"]},
]


def call(url: str, method: str = "GET", headers: dict[str, str] | None = None) -> Any:
    """(status, headers, body) of a plain HTTP request, errors included."""
    request = urllib.request.Request(url, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(request) as answer:
            return answer.status, answer.headers, answer.read()
    except urllib.error.HTTPError as err:
        return err.code, err.headers, err.read()


def test_config_round_trip(s3: Any, bucket: str) -> None:
    with pytest.raises(ClientError) as err:
        s3.get_bucket_cors(Bucket=bucket)
    assert code(err) == ("NoSuchCORSConfiguration", 404)
    s3.put_bucket_cors(Bucket=bucket, CORSConfiguration={"CORSRules": RULES})
    assert s3.get_bucket_cors(Bucket=bucket)["CORSRules"] == RULES
    s3.delete_bucket_cors(Bucket=bucket)
    with pytest.raises(ClientError) as err:
        s3.get_bucket_cors(Bucket=bucket)
    assert code(err) == ("NoSuchCORSConfiguration", 404)
    with pytest.raises(ClientError) as err:
        s3.get_bucket_cors(Bucket=f"missing-{uuid.uuid4().hex[:8]}")
    assert code(err) == ("NoSuchBucket", 404)


@pytest.mark.parametrize(
    ("rules", "wanted"),
    [
        ([{"AllowedOrigins": ["*"], "AllowedMethods": ["PATCH"]}], "InvalidRequest"),
        ([{"AllowedOrigins": ["*.*"], "AllowedMethods": ["GET"]}], "InvalidRequest"),
        ([{"AllowedOrigins": [], "AllowedMethods": ["GET"]}], "MalformedXML"),
        ([{"AllowedOrigins": ["*"], "AllowedMethods": ["GET"]}] * 101, "MalformedXML"),
    ],
)
def test_config_validation(s3: Any, bucket: str, rules: list[Any], wanted: str) -> None:
    with pytest.raises(ClientError) as err:
        s3.put_bucket_cors(Bucket=bucket, CORSConfiguration={"CORSRules": rules})
    assert code(err) == (wanted, 400)


def test_config_needs_credentials(cloud: Cloud, bucket: str) -> None:
    status, _, body = call(f"{cloud.endpoint}/{bucket}?cors")
    assert status == 403 and b"AccessDenied" in body


def test_preflight(cloud: Cloud, s3: Any, bucket: str) -> None:
    url = f"{cloud.endpoint}/{bucket}/photos/a.png"
    ask = {"Origin": APP, "Access-Control-Request-Method": "PUT"}
    status, _, body = call(url, "OPTIONS", ask)
    assert status == 403 and b"<Code>AccessForbidden</Code>" in body
    assert b"CORS is not enabled for this bucket" in body
    s3.put_bucket_cors(Bucket=bucket, CORSConfiguration={"CORSRules": RULES})

    wanted = ask | {"Access-Control-Request-Headers": "content-type, X-Amz-Date"}
    status, headers, body = call(url, "OPTIONS", wanted)
    assert status == 200, body
    assert headers["Access-Control-Allow-Origin"] == APP
    assert headers["Access-Control-Allow-Methods"] == "PUT, POST"
    assert headers["Access-Control-Allow-Headers"] == "content-type, x-amz-date"
    assert headers["Access-Control-Expose-Headers"] == "ETag, x-amz-request-id"
    assert headers["Access-Control-Max-Age"] == "600"
    assert headers["Access-Control-Allow-Credentials"] == "true"
    assert "Origin" in headers["Vary"]

    # Wildcard origins; a "*" rule answers "*".
    status, headers, _ = call(
        url, "OPTIONS", {"Origin": "http://a.example.org", "Access-Control-Request-Method": "HEAD"}
    )
    assert status == 200 and headers["Access-Control-Allow-Origin"] == "http://a.example.org"
    status, headers, _ = call(
        url, "OPTIONS", {"Origin": "https://else", "Access-Control-Request-Method": "GET"}
    )
    assert status == 200 and headers["Access-Control-Allow-Origin"] == "*"

    for refused in (
        {"Origin": "https://evil.example", "Access-Control-Request-Method": "PUT"},
        ask | {"Access-Control-Request-Headers": "x-custom"},
        {"Origin": APP, "Access-Control-Request-Method": "DELETE"},
    ):
        status, _, body = call(url, "OPTIONS", refused)
        assert status == 403 and b"This CORS request is not allowed" in body
    status, _, body = call(url, "OPTIONS", {"Access-Control-Request-Method": "GET"})
    assert status == 400
    status, _, body = call(f"{cloud.endpoint}/no-such-{bucket}/k", "OPTIONS", ask)
    assert status == 403


def test_actual_requests_get_cors_headers(cloud: Cloud, s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="k", Body=b"data")
    s3.put_bucket_cors(Bucket=bucket, CORSConfiguration={"CORSRules": RULES[:2]})
    url = s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "k"})
    status, headers, body = call(url, headers={"Origin": "http://www.example.org"})
    assert status == 200 and body == b"data"
    assert headers["Access-Control-Allow-Origin"] == "http://www.example.org"
    assert headers["Access-Control-Allow-Methods"] == "GET, HEAD"
    assert "Origin" in headers["Vary"]
    # Errors carry them too, so the page's script can read the error.
    missing = s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "none"})
    status, headers, _ = call(missing, headers={"Origin": "http://www.example.org"})
    assert status == 404
    assert headers["Access-Control-Allow-Origin"] == "http://www.example.org"
    # No matching rule (origin or method): no CORS headers.
    for origin in ("https://evil.example", APP):
        status, headers, _ = call(url, headers={"Origin": origin})
        assert status == 200 and "Access-Control-Allow-Origin" not in headers
    status, headers, _ = call(url)
    assert "Access-Control-Allow-Origin" not in headers
