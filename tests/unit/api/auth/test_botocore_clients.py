"""Requests built by real botocore clients (serializers, checksums, presigners) verify.

A `before-send` hook captures each prepared request and aborts the call, so nothing is sent.
"""

from __future__ import annotations

import io
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import boto3
import pytest
from botocore.config import Config

from mallee.api.auth import ChunkedPayloadDecoder, authenticate
from mallee.api.http import HttpRequest
from tests.unit.api.auth.helpers import (
    expect_error,
    from_botocore,
    http_request,
    lookup_of,
    make_credential,
)

AKID = "AKIAMALLEECLIENT0001"
SECRET = "client/secret/key+value/0123456789abcdef"
CREDENTIAL = make_credential(AKID, SECRET)


class Captured(Exception):
    def __init__(self, request: Any) -> None:
        super().__init__("captured")
        self.request = request


def _client(service: str, endpoint: str, **config: Any) -> Any:
    session = boto3.session.Session(
        aws_access_key_id=AKID, aws_secret_access_key=SECRET, region_name="eucalyptus"
    )
    client = session.client(
        service, endpoint_url=endpoint, config=Config(retries={"max_attempts": 1}, **config)
    )

    def capture(request: Any, **_: Any) -> None:
        raise Captured(request)

    client.meta.events.register("before-send", capture)
    return client


def _capture(call: Callable[[], object]) -> HttpRequest:
    with pytest.raises(Captured) as info:
        call()
    return from_botocore(info.value.request)


def _check(request: HttpRequest, style: str) -> Any:
    result = authenticate(request, lookup_of(CREDENTIAL), now=time.time(), style=style)
    assert result is not None and result.credential is CREDENTIAL
    return result


def test_iam_query_protocol() -> None:
    iam = _client("iam", "http://cloud.example.test:8773/services/Euare")
    request = _capture(lambda: iam.list_users(PathPrefix="/division_abc/sub+div/"))
    result = _check(request, "query")
    assert (result.service, result.region) == ("iam", "eucalyptus")


def test_ec2_protocol_sigv4() -> None:
    ec2 = _client("ec2", "https://ec2.example.test")
    request = _capture(
        lambda: ec2.describe_instances(Filters=[{"Name": "tag:Name", "Values": ["a b", "ü*"]}])
    )
    _check(request, "ec2")


@pytest.mark.parametrize("routed_path", ["", "/"])
@pytest.mark.parametrize(("signer_style", "service"), [("query", "iam"), ("v2", "ec2")])
def test_routing_prefix_is_part_of_the_signed_path(
    routed_path: str, signer_style: str, service: str
) -> None:
    config: dict[str, Any] = {"signature_version": "v2"} if signer_style == "v2" else {}
    client = _client(service, "http://cloud.example.test:8773/services/Euare", **config)
    call = client.list_users if service == "iam" else client.describe_regions
    request = _capture(lambda: call())
    assert request.path == "/services/Euare"
    # Authentication signs script_name + path; routing may leave "" or "/" after the prefix.
    routed = HttpRequest(
        request.method,
        routed_path,
        request.query,
        request.headers,
        request.body,
        script_name="/services/Euare",
    )
    _check(routed, "ec2" if service == "ec2" else "query")
    moved = HttpRequest(
        request.method,
        "/x",
        request.query,
        request.headers,
        request.body,
        script_name="/services/Euare",
    )
    expect_error(
        "AuthFailure" if service == "ec2" else "SignatureDoesNotMatch",
        401 if service == "ec2" else 403,
        lambda: _check(moved, "ec2" if service == "ec2" else "query"),
    )


def test_s3_list_objects_with_awkward_prefix() -> None:
    s3 = _client("s3", "https://s3.example.test", s3={"addressing_style": "path"})
    request = _capture(lambda: s3.list_objects_v2(Bucket="bkt", Prefix="a b/c+d/é~!*'()"))
    _check(request, "s3")


def test_s3_put_object_streams_unsigned_trailer_over_https() -> None:
    s3 = _client("s3", "https://s3.example.test", s3={"addressing_style": "path"})
    data = bytes(range(256)) * 5000
    request = _capture(
        lambda: s3.put_object(Bucket="bkt", Key="dir/obj key", Body=io.BytesIO(data))
    )
    assert request.headers["x-amz-content-sha256"] == "STREAMING-UNSIGNED-PAYLOAD-TRAILER"
    result = _check(request, "s3")
    decoder = result.payload
    assert isinstance(decoder, ChunkedPayloadDecoder)
    out = b"".join(
        decoder.feed(request.body[i : i + 7777]) for i in range(0, len(request.body), 7777)
    )
    decoder.finish()
    assert out == data
    assert decoder.verified_checksums == ["x-amz-checksum-crc32"]


def test_s3_put_object_with_corrupted_trailer_body_is_refused() -> None:
    s3 = _client("s3", "https://s3.example.test", s3={"addressing_style": "path"})
    data = b"x" * 100_000
    request = _capture(lambda: s3.put_object(Bucket="bkt", Key="k", Body=io.BytesIO(data)))
    body = bytearray(request.body)
    body[5000] ^= 0x01
    result = _check(request, "s3")
    decoder = result.payload
    assert decoder is not None
    decoder.feed(bytes(body))
    expect_error("BadDigest", 400, decoder.finish)


def test_s3_put_object_over_http_signs_the_payload() -> None:
    s3 = _client("s3", "http://s3.example.test", s3={"addressing_style": "path"})
    request = _capture(lambda: s3.put_object(Bucket="bkt", Key="k", Body=b"payload bytes"))
    _check(request, "s3")
    tampered = HttpRequest(
        request.method, request.path, request.query, request.headers, b"payload bytez"
    )
    expect_error("XAmzContentSHA256Mismatch", 400, lambda: _check(tampered, "s3"))


def test_s3_presigned_url() -> None:
    s3 = _client("s3", "https://s3.example.test", s3={"addressing_style": "path"})
    url = s3.generate_presigned_url(
        "get_object", Params={"Bucket": "bkt", "Key": "a/b c+d"}, ExpiresIn=600
    )
    host = urlsplit(url).netloc
    request = http_request("GET", url, {"Host": host})
    result = _check(request, "s3")
    assert result.presigned
    late = time.time() + 601
    err = expect_error(
        "AccessDenied",
        403,
        lambda: authenticate(request, lookup_of(CREDENTIAL), now=late, style="s3"),
    )
    assert err.message == "Request has expired"


def test_sts_presigned_get_caller_identity() -> None:
    sts = _client("sts", "https://sts.example.test")
    url = sts.generate_presigned_url("get_caller_identity", ExpiresIn=900, HttpMethod="GET")
    request = http_request("GET", url, {"Host": urlsplit(url).netloc})
    result = _check(request, "query")
    assert result.presigned and result.service == "sts"


def test_presigned_url_used_with_another_method_is_refused() -> None:
    sts = _client("sts", "https://sts.example.test")
    url = sts.generate_presigned_url("get_caller_identity", ExpiresIn=900)  # signed for POST
    request = http_request("GET", url, {"Host": urlsplit(url).netloc})
    expect_error("SignatureDoesNotMatch", 403, lambda: _check(request, "query"))
