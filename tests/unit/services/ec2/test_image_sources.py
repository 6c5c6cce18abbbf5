"""RegisterImage's stored objects: read through S3's GetObject as the caller (the internal
call), copied into a blob of the image's own, S3's refusals turned into EC2's errors."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from mallee.api.context import Principal, RequestContext
from mallee.api.errors import ServiceError
from mallee.api.http import HttpRequest
from mallee.config import Settings
from mallee.objectstore.backends.fs import FsBackend
from mallee.services.base import Params, Result, Runtime
from mallee.services.ec2.image_sources import BLOB_PREFIX, stored_object
from mallee.store import Store

CALLER = Principal(
    account_id="111122223333",
    arn="arn:aws:iam::111122223333:user/u",
    user_id="AIDAEXAMPLE",
    kind="user",
    name="u",
)
KERNEL_HEAD = b"\0" * 0x202 + b"HdrS" + b"\0" * 64


class FakeCalls:
    """S3's GetObject as the gateway would answer it: a body, or S3's error."""

    def __init__(self, answer: Result | ServiceError) -> None:
        self.answer = answer
        self.asked: list[tuple[str, str, Params, Principal]] = []

    def call(self, service: str, operation: str, params: Params, *, principal: Principal) -> Result:
        self.asked.append((service, operation, params, principal))
        if isinstance(self.answer, ServiceError):
            raise self.answer
        return self.answer


def runtime(tmp_path: Path, answer: Result | ServiceError) -> tuple[Runtime, FakeCalls]:
    calls = FakeCalls(answer)
    return Runtime(Settings(data_dir=tmp_path), Store("sqlite://"), calls=calls), calls


def context() -> RequestContext:
    return RequestContext(
        request_id="r",
        service="ec2",
        region="eucalyptus",
        http=HttpRequest("POST", "/", "", {}),
        principal=CALLER,
    )


def pieces(data: bytes, size: int) -> Iterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]


@pytest.mark.parametrize("streamed", [False, True])
def test_the_object_is_read_as_the_caller_and_copied(tmp_path: Path, streamed: bool) -> None:
    data = KERNEL_HEAD + b"x" * 5000
    body: Any = pieces(data, 100) if streamed else data
    rt, calls = runtime(tmp_path, {"Body": body})
    backend = FsBackend(tmp_path / "blobs")
    source = stored_object(rt, context(), backend, "/bucket/images/vmlinuz")
    assert calls.asked == [
        ("s3", "GetObject", {"Bucket": "bucket", "Key": "images/vmlinuz"}, CALLER)
    ]
    assert source.location.startswith(BLOB_PREFIX)
    assert source.head == data[:0x210]
    assert (source.digest, source.size, source.hint) == (
        hashlib.sha256(data).hexdigest(),
        len(data),
        "vmlinuz",
    )
    blob = source.location.removeprefix(BLOB_PREFIX)
    assert b"".join(bytes(p) for p in backend.read(blob)) == data


@pytest.mark.parametrize(
    ("s3_error", "code"),
    [
        ("NoSuchKey", "InvalidParameterValue"),
        ("NoSuchBucket", "InvalidParameterValue"),
        ("AccessDenied", "AuthFailure"),
    ],
)
def test_s3_refusals_become_ec2_errors(tmp_path: Path, s3_error: str, code: str) -> None:
    rt, _ = runtime(tmp_path, ServiceError(s3_error, "from S3", 404))
    with pytest.raises(ServiceError) as err:
        stored_object(rt, context(), FsBackend(tmp_path / "blobs"), "bucket/key")
    assert err.value.code == code
    assert "from S3" not in err.value.message


@pytest.mark.parametrize("location", ["bucket", "bucket/", "/bucket", "bucket/b.manifest.xml"])
def test_locations_refused_before_reading(tmp_path: Path, location: str) -> None:
    rt, calls = runtime(tmp_path, {"Body": b""})
    with pytest.raises(ServiceError):
        stored_object(rt, context(), FsBackend(tmp_path / "blobs"), location)
    assert calls.asked == []
