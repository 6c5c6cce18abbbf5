"""Requests signed by botocore's own signers verify; under a wrong secret they do not."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest
from botocore.auth import (
    HmacV1Auth,
    HmacV1QueryAuth,
    S3SigV4Auth,
    S3SigV4QueryAuth,
    SigV2Auth,
    SigV4Auth,
    SigV4QueryAuth,
)
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from mallee.api.auth import authenticate
from mallee.api.credentials import Credential
from mallee.api.http import HttpRequest
from tests.unit.api.auth.helpers import (
    expect_error,
    from_botocore,
    lookup_of,
    make_credential,
    verify,
    with_secret,
)

AKID = "AKIAMALLEETEST000001"
SECRET = "mallee/secret+key/0123456789abcdefghijkl"
TOKEN = "FwoGZXIvYXdzEXAMPLETOKEN//////////wEaDKv+token=="


def _signed(signer: Any, request: AWSRequest) -> HttpRequest:
    signer.add_auth(request)
    return from_botocore(request.prepare())


def _creds(token: str | None = None) -> Credentials:
    return Credentials(AKID, SECRET, token)


def _credential(token: str | None = None) -> Credential:
    return make_credential(AKID, SECRET, token=token)


def _iam_post() -> AWSRequest:
    return AWSRequest(
        method="POST",
        url="https://iam.example.test/",
        headers={"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"},
        data={"Action": "ListUsers", "Version": "2010-05-08", "PathPrefix": "/a b/+~*"},
    )


def _s3_put() -> AWSRequest:
    return AWSRequest(
        method="PUT",
        url="http://s3.example.test:8773/bucket/dir/my%20key%2Bplus~%21.txt?tagging",
        headers={"x-amz-meta-color": "  blue  green ", "Content-Type": "text/plain"},
        data=b"hello, object",
    )


def _s3_presign_put() -> AWSRequest:
    request = _s3_put()
    request.data = None
    return request


def _s3_get() -> AWSRequest:
    return AWSRequest(
        method="GET",
        url="https://s3.example.test/bucket/a/b%20c.txt?versionId=v1&response-content-type=x%2Fy",
    )


Case = tuple[str, Callable[[Credentials], Any], Callable[[], AWSRequest], str]
CASES: list[Case] = [
    ("sigv4 iam", lambda c: SigV4Auth(c, "iam", "us-east-1"), _iam_post, "query"),
    ("sigv4 ec2", lambda c: SigV4Auth(c, "ec2", "eucalyptus"), _iam_post, "ec2"),
    ("sigv4 query sts", lambda c: SigV4QueryAuth(c, "sts", "us-east-1", 900), _iam_post, "query"),
    ("s3 sigv4 put", lambda c: S3SigV4Auth(c, "s3", "us-east-1"), _s3_put, "s3"),
    ("s3 sigv4 get", lambda c: S3SigV4Auth(c, "s3", "us-east-1"), _s3_get, "s3"),
    ("s3 sigv4 presign", lambda c: S3SigV4QueryAuth(c, "s3", "us-east-1", 3600), _s3_get, "s3"),
    (
        "s3 sigv4 presign put",
        lambda c: S3SigV4QueryAuth(c, "s3", "us-east-1"),
        _s3_presign_put,
        "s3",
    ),
    ("sigv2 query", SigV2Auth, _iam_post, "query"),
    ("sigv2 ec2", SigV2Auth, _iam_post, "ec2"),
    ("hmacv1 put", HmacV1Auth, _s3_put, "s3"),
    ("hmacv1 get", HmacV1Auth, _s3_get, "s3"),
    ("hmacv1 presign", lambda c: HmacV1QueryAuth(c, 3600), _s3_get, "s3"),
]
BAD_SIGNATURE = {
    "query": ("SignatureDoesNotMatch", 403),
    "ec2": ("AuthFailure", 401),
    "s3": ("SignatureDoesNotMatch", 403),
}
TOKEN_INVALID = {
    "query": ("InvalidClientTokenId", 403),
    "ec2": ("AuthFailure", 401),
    "s3": ("InvalidToken", 400),
}


@pytest.mark.parametrize(("label", "signer", "build", "style"), CASES, ids=[c[0] for c in CASES])
def test_botocore_signed_request_verifies(
    label: str, signer: Callable[[Credentials], Any], build: Callable[[], AWSRequest], style: str
) -> None:
    request = _signed(signer(_creds()), build())
    result = verify(request, _credential(), now=time.time(), style=style)
    assert result.signature_version in ("v4", "v2", "s3v2")
    assert result.presigned == ("presign" in label or ("query" in label and "v4" in label))


@pytest.mark.parametrize(("label", "signer", "build", "style"), CASES, ids=[c[0] for c in CASES])
def test_botocore_signed_request_with_wrong_secret_is_refused(
    label: str, signer: Callable[[Credentials], Any], build: Callable[[], AWSRequest], style: str
) -> None:
    request = _signed(signer(_creds()), build())
    wrong = with_secret(_credential(), SECRET[:-1] + "X")
    code, status = BAD_SIGNATURE[style]
    expect_error(
        code, status, lambda: authenticate(request, lookup_of(wrong), now=time.time(), style=style)
    )


@pytest.mark.parametrize(("label", "signer", "build", "style"), CASES, ids=[c[0] for c in CASES])
def test_botocore_signed_with_session_token(
    label: str, signer: Callable[[Credentials], Any], build: Callable[[], AWSRequest], style: str
) -> None:
    request = _signed(signer(_creds(TOKEN)), build())
    verify(request, _credential(TOKEN), now=time.time(), style=style)
    code, status = TOKEN_INVALID[style]
    other = _credential(TOKEN + "x")
    expect_error(
        code, status, lambda: authenticate(request, lookup_of(other), now=time.time(), style=style)
    )
    expired = make_credential(AKID, SECRET, token=TOKEN, expires_at=time.time() - 1)
    code = {"query": "ExpiredToken", "ec2": "RequestExpired", "s3": "ExpiredToken"}[style]
    status = {"query": 403, "ec2": 400, "s3": 400}[style]
    expect_error(
        code,
        status,
        lambda: authenticate(request, lookup_of(expired), now=time.time(), style=style),
    )


def test_temporary_credentials_need_the_token() -> None:
    request = _signed(SigV4Auth(_creds(), "iam", "us-east-1"), _iam_post())
    expect_error(
        "InvalidClientTokenId",
        403,
        lambda: authenticate(request, lookup_of(_credential(TOKEN)), now=time.time()),
    )


def test_s3_virtual_hosted_sigv2() -> None:
    request = AWSRequest(method="GET", url="https://bucket.s3.example.test/key.txt?acl")
    request.auth_path = "/bucket/key.txt"
    signed = _signed(HmacV1Auth(_creds()), request)
    verify(signed, _credential(), now=time.time(), style="s3", virtual_bucket="bucket")
    expect_error(
        "SignatureDoesNotMatch",
        403,
        lambda: authenticate(signed, lookup_of(_credential()), now=time.time(), style="s3"),
    )


@pytest.mark.parametrize("sent", ["uploads", "uploads="])
def test_s3v2_empty_sub_resource_signed_as_its_name(sent: str) -> None:
    """Libcloud sends `?uploads=` and signs `uploads`, as AWS and Ceph take it; botocore signs
    what it sends. Both verify."""
    request = AWSRequest(method="POST", url=f"https://s3.example.test/bucket/big.bin?{sent}")
    signer = HmacV1Auth(_creds())
    date = time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime())
    request.headers["Date"] = date
    text = f"POST\n\n\n{date}\n/bucket/big.bin?uploads"
    request.headers["Authorization"] = f"AWS {AKID}:{signer.sign_string(text)}"
    verify(from_botocore(request.prepare()), _credential(), now=time.time(), style="s3")
    botocore_signed = _signed(
        signer, AWSRequest(method="POST", url=f"https://s3.example.test/bucket/big.bin?{sent}")
    )
    verify(botocore_signed, _credential(), now=time.time(), style="s3")
