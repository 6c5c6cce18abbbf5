"""A request signed too far from now gets each service's own AWS answer, the one SDKs look for
to correct their clock: IAM/STS SignatureDoesNotMatch "Signature expired", EC2 RequestExpired,
S3 RequestTimeTooSkewed."""

from __future__ import annotations

import time

import pytest
from botocore.auth import S3SigV4Auth, SigV2Auth, SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from mallee.api.auth import authenticate
from mallee.api.http import HttpRequest
from tests.unit.api.auth.helpers import expect_error, from_botocore, lookup_of, make_credential

AKID = "AKIASKEWTEST00000001"
SECRET = "skew-secret/0123456789abcdefghijklmnopqr"
LOOKUP = lookup_of(make_credential(AKID, SECRET))


def _query(service: str) -> HttpRequest:
    request = AWSRequest(
        method="POST",
        url=f"https://{service}.example.test/",
        headers={"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"},
        data={"Action": "GetCallerIdentity", "Version": "2011-06-15"},
    )
    SigV4Auth(Credentials(AKID, SECRET), service, "us-east-1").add_auth(request)
    return from_botocore(request.prepare())


@pytest.mark.parametrize(("offset", "words"), [(1200, "expired"), (-1200, "not yet current")])
@pytest.mark.parametrize("service", ["iam", "sts"])
def test_query_services_answer_signature_does_not_match(
    service: str, offset: int, words: str
) -> None:
    request = _query(service)
    err = expect_error(
        "SignatureDoesNotMatch",
        403,
        lambda: authenticate(request, LOOKUP, now=time.time() + offset, style="query"),
    )
    assert err.message.startswith(f"Signature {words}: {request.headers['x-amz-date']} is ")
    assert "15 min." in err.message


def test_ec2_answers_request_expired() -> None:
    request = _query("ec2")
    expect_error(
        "RequestExpired",
        400,
        lambda: authenticate(request, LOOKUP, now=time.time() + 1200, style="ec2"),
    )


def test_s3_answers_request_time_too_skewed() -> None:
    aws = AWSRequest(method="GET", url="http://s3.example.test/b/k")
    S3SigV4Auth(Credentials(AKID, SECRET), "s3", "us-east-1").add_auth(aws)
    request = from_botocore(aws.prepare())
    expect_error(
        "RequestTimeTooSkewed",
        403,
        lambda: authenticate(request, LOOKUP, now=time.time() - 1200, style="s3"),
    )


def test_sigv2_timestamp_keeps_request_expired() -> None:
    aws = AWSRequest(
        method="POST",
        url="https://iam.example.test/",
        headers={"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"},
        data={"Action": "GetUser", "Version": "2010-05-08"},
    )
    SigV2Auth(Credentials(AKID, SECRET)).add_auth(aws)
    request = from_botocore(aws.prepare())
    err = expect_error(
        "RequestExpired",
        400,
        lambda: authenticate(request, LOOKUP, now=time.time() + 1200, style="query"),
    )
    assert err.message.startswith("Request has expired. Timestamp date is")
