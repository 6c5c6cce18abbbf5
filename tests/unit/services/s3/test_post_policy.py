"""POST policy documents: parsing, conditions, expiry and the two signature versions."""

from __future__ import annotations

import base64
import json
import time
from typing import Any

import pytest
from botocore.auth import HmacV1PostAuth, S3SigV4PostAuth
from botocore.credentials import Credentials

from mallee.api.errors import ServiceError
from mallee.services.s3.post_policy import (
    check_policy,
    parse_policy,
    signature_fields,
    signature_matches,
)

pytestmark = pytest.mark.nodb

NOW = time.time()
SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"


def encode(document: dict[str, Any]) -> str:
    return base64.b64encode(json.dumps(document).encode()).decode()


def policy(*conditions: Any, expires: float = NOW + 600) -> str:
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(expires))
    return encode({"expiration": stamp, "conditions": list(conditions)})


def code_of(err: pytest.ExceptionInfo[ServiceError]) -> tuple[str, str]:
    return err.value.code, err.value.message


def test_conditions_pass() -> None:
    parsed = parse_policy(
        policy(
            {"bucket": "bk"},
            ["starts-with", "$key", "user/"],
            ["eq", "$acl", "public-read"],
            ["starts-with", "$Content-Type", "image/"],
            ["content-length-range", 1, 1024],
            ["starts-with", "$x-amz-meta-tag", ""],
        )
    )
    assert parsed.length_range == (1, 1024)
    fields = {
        "key": "user/a.png",
        "acl": "public-read",
        "content-type": "image/png, image/jpeg",
        "x-amz-meta-tag": "anything",
        "x-ignore-this": "free",
        "policy": "...",
    }
    check_policy(parsed, fields, "bk", NOW)


@pytest.mark.parametrize(
    ("fields", "bucket", "message"),
    [
        ({"key": "other/a"}, "bk", 'Policy Condition failed: ["starts-with", "$key", "user/"]'),
        ({"key": "user/a"}, "nope", 'Policy Condition failed: ["eq", "$bucket", "bk"]'),
        ({"key": "user/a", "acl": "x"}, "bk", "Extra input fields: acl"),
    ],
)
def test_conditions_fail(fields: dict[str, str], bucket: str, message: str) -> None:
    parsed = parse_policy(policy({"bucket": "bk"}, ["starts-with", "$key", "user/"]))
    with pytest.raises(ServiceError) as err:
        check_policy(parsed, fields, bucket, NOW)
    assert code_of(err) == ("AccessDenied", f"Invalid according to Policy: {message}")
    assert err.value.status == 403


def test_content_type_list_needs_every_entry() -> None:
    parsed = parse_policy(policy(["starts-with", "$Content-Type", "image/"]))
    with pytest.raises(ServiceError):
        check_policy(parsed, {"content-type": "image/png,text/html"}, "bk", NOW)


def test_expired() -> None:
    parsed = parse_policy(policy({"bucket": "bk"}, expires=NOW - 1))
    with pytest.raises(ServiceError) as err:
        check_policy(parsed, {}, "bk", NOW)
    assert code_of(err) == ("AccessDenied", "Invalid according to Policy: Policy expired.")


@pytest.mark.parametrize(
    ("text", "detail"),
    [
        ("not base64!", "Invalid 'base64' encoding."),
        (base64.b64encode(b"{nope").decode(), "Invalid JSON."),
        (encode({"conditions": []}), "Policy missing expiration."),
        (encode({"expiration": "2030-01-01T00:00:00Z"}), "Policy missing conditions."),
        (encode({"expiration": "tomorrow", "conditions": []}), "Invalid 'expiration' value"),
        (policy({"a": "1", "b": "2"}), "Invalid Simple-Condition"),
        (policy(["like", "$key", "x"]), "Invalid Condition"),
        (policy(["eq", "key", "x"]), "Invalid Condition"),
        (policy(["content-length-range", 10, 1]), "Invalid content-length-range"),
        (policy(["content-length-range", "a", 1]), "Invalid content-length-range"),
    ],
)
def test_invalid_documents(text: str, detail: str) -> None:
    with pytest.raises(ServiceError) as err:
        parse_policy(text)
    assert err.value.code == "InvalidPolicyDocument"
    assert err.value.message.startswith(f"Invalid Policy: {detail}")


class _Req:
    """What botocore's POST signers expect: a request dict with a context holding the policy."""

    def __init__(self, fields: dict[str, str], policy: dict[str, Any]) -> None:
        self.context = {"s3-presign-post-fields": fields, "s3-presign-post-policy": policy}


def test_botocore_signatures_verify() -> None:
    creds = Credentials("AKIDEXAMPLE", SECRET)
    for auth in (S3SigV4PostAuth(creds, "s3", "eucalyptus"), HmacV1PostAuth(creds)):
        fields: dict[str, str] = {}
        auth.add_auth(_Req(fields, {"expiration": "2030-01-01T00:00:00Z", "conditions": []}))
        lower = {k.lower(): v for k, v in fields.items()}
        claims = signature_fields(lower)
        assert claims is not None and claims.access_key == "AKIDEXAMPLE"
        assert signature_matches(claims, SECRET, lower["policy"])
        assert not signature_matches(claims, SECRET + "x", lower["policy"])
        assert not signature_matches(claims, SECRET, lower["policy"] + "=")


def test_partial_signature_fields() -> None:
    assert signature_fields({"key": "k"}) is None
    with pytest.raises(ServiceError) as err:
        signature_fields({"x-amz-algorithm": "AWS4-HMAC-SHA256", "x-amz-signature": "ab"})
    assert err.value.code == "InvalidArgument"
    with pytest.raises(ServiceError) as err:
        signature_fields({"awsaccesskeyid": "AKID"})
    assert err.value.extra["ArgumentName"] == "Signature"
    with pytest.raises(ServiceError) as err:
        signature_fields(
            {
                "x-amz-algorithm": "AWS4-HMAC-SHA1",
                "x-amz-credential": "A/20260101/r/s3/aws4_request",
                "x-amz-date": "20260101T000000Z",
                "x-amz-signature": "ab",
            }
        )
    assert err.value.code == "InvalidArgument"


def test_length_range_is_enforced_while_streaming() -> None:
    from mallee.services.s3.post_upload import IteratorStream, length_checked

    def pieces() -> Any:
        yield b"abc"
        yield b"defg"
        raise AssertionError("read past the limit")

    stream = IteratorStream(length_checked(pieces(), (0, 5)))
    assert stream.read(2) == b"ab" and stream.read(5) == b"c"
    with pytest.raises(ServiceError) as err:
        stream.read(10)
    assert err.value.code == "EntityTooLarge" and err.value.extra["MaxSizeAllowed"] == "5"
    small = IteratorStream(length_checked(iter([b"ab"]), (3, 5)))
    assert small.read() == b"ab"
    with pytest.raises(ServiceError) as err:
        small.read()
    assert err.value.code == "EntityTooSmall"
