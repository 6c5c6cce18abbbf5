"""Error codes per style, anonymous requests, time limits, and the routing scope peek."""

from __future__ import annotations

import time
from typing import Any

import pytest
from botocore.auth import S3SigV4Auth, SigV2Auth, SigV4Auth, SigV4QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from mallee.api.auth import (
    Failure,
    PayloadHashVerifier,
    authenticate,
    credential_scope,
    missing_authentication,
)
from mallee.api.auth.errors import STYLES, TABLE
from mallee.api.http import HttpRequest
from tests.unit.api.auth.helpers import (
    expect_error,
    from_botocore,
    http_request,
    lookup_of,
    make_credential,
)

AKID = "AKIAERRORTEST0000001"
SECRET = "error-secret/0123456789abcdefghijklmnopq"
CRED = make_credential(AKID, SECRET)
LOOKUP = lookup_of(CRED)


def _sign(signer: Any, request: AWSRequest) -> HttpRequest:
    signer.add_auth(request)
    return from_botocore(request.prepare())


def _iam(data: dict[str, str] | None = None) -> AWSRequest:
    return AWSRequest(
        method="POST",
        url="https://iam.example.test/",
        headers={"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"},
        data=data or {"Action": "GetUser", "Version": "2010-05-08"},
    )


def _auth(request: HttpRequest, style: str = "query", **kw: Any) -> object:
    return authenticate(request, LOOKUP, now=kw.pop("now", time.time()), style=style, **kw)


def test_table_covers_every_failure_and_style() -> None:
    for failure in Failure:
        assert set(TABLE[failure]) == set(STYLES), failure
        for code, status, message in TABLE[failure].values():
            assert code and message and 400 <= status < 500


def test_unknown_style_is_a_programming_error() -> None:
    with pytest.raises(ValueError):
        authenticate(http_request("GET", "http://x/"), LOOKUP, now=0, style="json")


@pytest.mark.parametrize("style", STYLES)
def test_no_authentication_is_anonymous(style: str) -> None:
    assert _auth(http_request("GET", "http://x/?Action=ListUsers"), style) is None
    binary = http_request("POST", "http://x/", {"Content-Type": ""}, b"\xff\xfe\x00binary")
    assert _auth(binary, style) is None


@pytest.mark.parametrize(
    ("style", "code", "status"),
    [
        ("query", "MissingAuthenticationToken", 403),
        ("ec2", "MissingParameter", 400),
        ("s3", "AccessDenied", 403),
    ],
)
def test_missing_authentication_error(style: str, code: str, status: int) -> None:
    err = missing_authentication(style)  # type: ignore[arg-type]
    assert (err.code, err.status) == (code, status)


@pytest.mark.parametrize(
    ("style", "code", "status"),
    [
        ("query", "InvalidClientTokenId", 403),
        ("ec2", "AuthFailure", 401),
        ("s3", "InvalidAccessKeyId", 403),
    ],
)
def test_unknown_access_key(style: str, code: str, status: int) -> None:
    request = _sign(SigV4Auth(Credentials("AKIANOBODY", SECRET), "iam", "us-east-1"), _iam())
    expect_error(code, status, lambda: _auth(request, style))


@pytest.mark.parametrize(
    ("style", "code"), [("query", "IncompleteSignature"), ("s3", "AuthorizationHeaderMalformed")]
)
@pytest.mark.parametrize(
    "header",
    [
        "AWS4-HMAC-SHA256 Credential=AKID/20150830/us-east-1/iam/aws4_request",
        "AWS4-HMAC-SHA256 Credential=AKID/20150830/us-east-1/aws4_request, SignedHeaders=host,"
        " Signature=abc",
        "AWS4-HMAC-SHA256 Credential AKID, SignedHeaders=host, Signature=abc",
    ],
)
def test_malformed_authorization_header(style: str, code: str, header: str) -> None:
    request = http_request(
        "GET", "http://x/", {"Authorization": header, "X-Amz-Date": "20150830T123600Z"}
    )
    expect_error(code, 400, lambda: _auth(request, style, now=1440938160))


def test_unsupported_scheme() -> None:
    request = http_request("GET", "http://x/", {"Authorization": "Bearer abc"})
    expect_error("IncompleteSignature", 400, lambda: _auth(request))
    expect_error("InvalidArgument", 400, lambda: _auth(request, "s3"))


def test_s3_clock_skew_reports_times() -> None:
    request = _sign(
        S3SigV4Auth(Credentials(AKID, SECRET), "s3", "us-east-1"),
        AWSRequest(method="GET", url="http://s3.example.test/b/k"),
    )
    err = expect_error(
        "RequestTimeTooSkewed", 403, lambda: _auth(request, "s3", now=time.time() + 1000)
    )
    assert err.extra["MaxAllowedSkewMilliseconds"] == "900000"
    assert err.extra["RequestTime"] == request.headers["x-amz-date"]
    expect_error("RequestExpired", 400, lambda: _auth(request, "ec2", now=time.time() - 1000))


def test_s3_requires_content_sha256_and_checks_it() -> None:
    request = _sign(
        S3SigV4Auth(Credentials(AKID, SECRET), "s3", "us-east-1"),
        AWSRequest(method="PUT", url="http://s3.example.test/b/k", data=b"abc"),
    )
    headers = {k: v for k, v in request.headers.items() if k != "x-amz-content-sha256"}
    missing = HttpRequest("PUT", request.path, "", headers, b"abc")
    expect_error("InvalidRequest", 400, lambda: _auth(missing, "s3"))
    bogus = HttpRequest("PUT", request.path, "", {**headers, "x-amz-content-sha256": "nope"})
    expect_error("InvalidArgument", 400, lambda: _auth(bogus, "s3"))
    streamed = HttpRequest("PUT", request.path, "", request.headers, b"")
    result = authenticate(streamed, LOOKUP, now=time.time(), style="s3", verify_body=False)
    assert result is not None and isinstance(result.payload, PayloadHashVerifier)
    assert result.payload.feed(b"abd") == b"abd"
    expect_error("XAmzContentSHA256Mismatch", 400, result.payload.finish)


def test_s3_unsigned_payload() -> None:
    class S3Config:
        s3 = {"payload_signing_enabled": False}

    aws = AWSRequest(method="PUT", url="https://s3.example.test/b/k", data=b"body")
    aws.context["client_config"] = S3Config()
    request = _sign(S3SigV4Auth(Credentials(AKID, SECRET), "s3", "us-east-1"), aws)
    assert request.headers["x-amz-content-sha256"] == "UNSIGNED-PAYLOAD"
    result = _auth(request, "s3")
    assert result is not None


def test_presign_expiry_limits() -> None:
    aws = AWSRequest(
        method="GET",
        url="https://sts.example.test/",
        params={"Action": "GetCallerIdentity", "Version": "2011-06-15"},
    )
    signer = SigV4QueryAuth(Credentials(AKID, SECRET), "sts", "us-east-1", expires=604801)
    too_long = _sign(signer, aws)
    expect_error("AuthorizationQueryParametersError", 400, lambda: _auth(too_long, "s3"))
    expect_error("IncompleteSignature", 400, lambda: _auth(too_long, "query"))
    short = _sign(
        SigV4QueryAuth(Credentials(AKID, SECRET), "sts", "us-east-1", expires=60),
        AWSRequest(method="GET", url="https://sts.example.test/?Action=GetCallerIdentity"),
    )
    assert _auth(short) is not None
    expect_error("RequestExpired", 400, lambda: _auth(short, now=time.time() + 61))
    expect_error("AccessDenied", 403, lambda: _auth(short, "s3", now=time.time() + 61))
    expect_error("AccessDenied", 403, lambda: _auth(short, "s3", now=time.time() - 3600))


def test_scope_date_must_match_request_date() -> None:
    request = _sign(SigV4Auth(Credentials(AKID, SECRET), "iam", "us-east-1"), _iam())
    headers = dict(request.headers)
    headers["authorization"] = headers["authorization"].replace(
        f"{AKID}/{headers['x-amz-date'][:8]}", f"{AKID}/20010101"
    )
    moved = HttpRequest(request.method, request.path, request.query, headers, request.body)
    err = expect_error("SignatureDoesNotMatch", 403, lambda: _auth(moved))
    assert "Date in Credential scope does not match" in err.message
    expect_error("AuthorizationHeaderMalformed", 400, lambda: _auth(moved, "s3"))


def test_date_header_instead_of_x_amz_date() -> None:
    aws = _iam()
    aws.headers["Date"] = "placeholder"
    request = _sign(SigV4Auth(Credentials(AKID, SECRET), "iam", "us-east-1"), aws)
    assert "x-amz-date" not in request.headers
    assert _auth(request) is not None


def test_sigv2_time_and_parameter_errors() -> None:
    request = _sign(SigV2Auth(Credentials(AKID, SECRET)), _iam())
    assert _auth(request, "ec2") is not None
    err = expect_error("RequestExpired", 400, lambda: _auth(request, "ec2", now=time.time() + 1000))
    assert err.message.startswith("Request has expired. Timestamp date is")
    params = dict(request.form_params())
    del params["Signature"]
    body = "&".join(f"{k}={v}" for k, v in params.items()).encode()
    unsigned = HttpRequest("POST", "/", "", request.headers, body)
    expect_error("MissingParameter", 400, lambda: _auth(unsigned, "ec2"))
    v1 = HttpRequest(
        "POST",
        "/",
        "",
        request.headers,
        request.body.replace(b"SignatureVersion=2", b"SignatureVersion=1"),
    )
    expect_error("IncompleteSignature", 400, lambda: _auth(v1, "query"))


def test_sigv2_expires_parameter() -> None:
    query = (
        "AWSAccessKeyId=AKIAERRORTEST0000001&Action=DescribeRegions&SignatureMethod=HmacSHA1"
        "&SignatureVersion=2&Expires=2001-01-01T00:00:00Z&Signature=abc"
    )
    request = http_request("GET", f"http://ec2.example.test/?{query}")
    expect_error("RequestExpired", 400, lambda: _auth(request, "ec2"))


def test_credential_scope_peek() -> None:
    header = _sign(SigV4Auth(Credentials(AKID, SECRET), "iam", "eucalyptus"), _iam())
    date = header.headers["x-amz-date"][:8]
    assert credential_scope(header) == (AKID, date, "eucalyptus", "iam")
    presigned = _sign(
        SigV4QueryAuth(Credentials(AKID, SECRET), "sts", "us-west-2"),
        AWSRequest(method="GET", url="https://x/?Action=GetCallerIdentity"),
    )
    assert credential_scope(presigned) == (AKID, date, "us-west-2", "sts")
    v2 = _sign(SigV2Auth(Credentials(AKID, SECRET)), _iam())
    assert credential_scope(v2) is None
    assert (
        credential_scope(http_request("GET", "http://x/?NotX-Amz-Credential=a/b/c/d/aws4_request"))
        is None
    )
    bad = http_request("GET", "http://x/", {"Authorization": "AWS4-HMAC-SHA256 Credential=a/b"})
    assert credential_scope(bad) is None


def test_s3_allows_only_one_auth_mechanism() -> None:
    request = _sign(
        S3SigV4Auth(Credentials(AKID, SECRET), "s3", "us-east-1"),
        AWSRequest(method="GET", url="http://s3.example.test/b/k?X-Amz-Algorithm=AWS4-HMAC-SHA256"),
    )
    err = expect_error("InvalidArgument", 400, lambda: _auth(request, "s3"))
    assert err.message.startswith("Only one auth mechanism allowed")


def test_presigned_request_must_sign_host() -> None:
    request = _sign(
        SigV4QueryAuth(Credentials(AKID, SECRET), "sts", "us-east-1"),
        AWSRequest(method="GET", url="https://sts.example.test/?Action=GetCallerIdentity"),
    )
    query = request.query.replace("X-Amz-SignedHeaders=host", "X-Amz-SignedHeaders=x-amz-date")
    unsigned_host = HttpRequest("GET", "/", query, request.headers)
    expect_error("IncompleteSignature", 400, lambda: _auth(unsigned_host))
    expect_error("AuthorizationQueryParametersError", 400, lambda: _auth(unsigned_host, "s3"))
