"""Small objects kept in their metadata rows (services/s3/data.py) behave as every object does.

Where an object lives shows in the backend: an inline write adds no blob. The blob count is
read from the fs backend's directory or, with MALLEE_TEST_S3_BACKEND=1, from the S3 server
behind the s3 backend; blobs that a write frees are deleted just after its answer, so counts
are polled until they settle.
"""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from botocore.exceptions import ClientError

from mallee.services.s3.data import INLINE_MAX
from tests.e2e.conftest import Cloud
from tests.e2e.s3util import code, new_bucket

pytestmark = pytest.mark.e2e

MIB = 1 << 20


@pytest.fixture
def bucket(s3: Any) -> Iterator[str]:
    """A bucket for one test, emptied and removed after it (the account's bucket quota is
    shared by the whole session)."""
    name = new_bucket(s3, "inl")
    yield name
    for page in s3.get_paginator("list_object_versions").paginate(Bucket=name):
        for entry in [*page.get("Versions", []), *page.get("DeleteMarkers", [])]:
            s3.delete_object(Bucket=name, Key=entry["Key"], VersionId=entry["VersionId"])
    for upload in s3.list_multipart_uploads(Bucket=name).get("Uploads", []):
        s3.abort_multipart_upload(Bucket=name, Key=upload["Key"], UploadId=upload["UploadId"])
    s3.delete_bucket(Bucket=name)


def blobs(cloud: Cloud) -> int:
    """Blobs in the cloud's object backend right now."""
    if cloud.object_store is not None:
        store = cloud.object_store
        pages = store.client().get_paginator("list_objects_v2").paginate(Bucket=store.bucket)
        return sum(len(page.get("Contents", [])) for page in pages)
    if cloud.data_dir is None:
        pytest.skip("needs the local cloud's object backend")
    root = cloud.data_dir / "objects"
    return sum(1 for p in root.rglob("*") if p.is_file() and len(p.name) == 32)


def steady(cloud: Cloud) -> int:
    """The blob count once deletes still in flight (from earlier writes) have landed."""
    found = blobs(cloud)
    for _ in range(50):
        time.sleep(0.1)
        again = blobs(cloud)
        if again == found:
            break
        found = again
    return found


def settled(cloud: Cloud, expected: int) -> int:
    """The blob count once it reaches `expected` (or what it is after a few seconds)."""
    deadline = time.monotonic() + 5
    while (found := blobs(cloud)) != expected and time.monotonic() < deadline:
        time.sleep(0.05)
    return found


def md5_etag(data: bytes) -> str:
    return f'"{hashlib.md5(data).hexdigest()}"'


def read(s3: Any, bucket: str, key: str, **kwargs: Any) -> bytes:
    data: bytes = s3.get_object(Bucket=bucket, Key=key, **kwargs)["Body"].read()
    return data


@pytest.mark.parametrize(
    ("size", "inline"),
    [
        (0, True),
        (1, True),
        (INLINE_MAX - 1, True),
        (INLINE_MAX, True),
        (INLINE_MAX + 1, False),
        (3 * MIB + 5, False),
    ],
)
def test_round_trip_at_every_size(
    cloud: Cloud, s3: Any, bucket: str, size: int, inline: bool
) -> None:
    data = os.urandom(size)
    before = steady(cloud)
    answer = s3.put_object(Bucket=bucket, Key="k", Body=data, ContentType="text/x-test")
    assert answer["ETag"] == md5_etag(data)
    assert settled(cloud, before + (0 if inline else 1)) == before + (0 if inline else 1)
    got = s3.get_object(Bucket=bucket, Key="k")
    assert got["Body"].read() == data
    assert (got["ContentLength"], got["ETag"], got["ContentType"]) == (
        size,
        md5_etag(data),
        "text/x-test",
    )
    head = s3.head_object(Bucket=bucket, Key="k")
    assert (head["ContentLength"], head["ETag"]) == (size, md5_etag(data))
    # Overwriting with the other kind frees the old blob (or adds one) and reads back right.
    other = os.urandom(INLINE_MAX + 10 if inline else 10)
    s3.put_object(Bucket=bucket, Key="k", Body=other)
    assert read(s3, bucket, "k") == other
    assert settled(cloud, before + (1 if inline else 0)) == before + (1 if inline else 0)
    s3.delete_object(Bucket=bucket, Key="k")
    assert settled(cloud, before) == before


def test_ranges_and_conditions_on_an_inline_object(s3: Any, bucket: str) -> None:
    data = bytes(range(256)) * 40  # 10,240 bytes
    etag = s3.put_object(Bucket=bucket, Key="r", Body=data)["ETag"]
    for header, want in (
        ("bytes=0-9", data[:10]),
        ("bytes=100-", data[100:]),
        ("bytes=-7", data[-7:]),
        ("bytes=10000-99999", data[10000:]),
    ):
        got = s3.get_object(Bucket=bucket, Key="r", Range=header)
        assert got["Body"].read() == want, header
        assert got["ResponseMetadata"]["HTTPStatusCode"] == 206
        assert got["ContentLength"] == len(want)
    head = s3.head_object(Bucket=bucket, Key="r", Range="bytes=5-9")
    assert (head["ContentLength"], head["ContentRange"]) == (5, f"bytes 5-9/{len(data)}")
    with pytest.raises(ClientError) as err:
        s3.get_object(Bucket=bucket, Key="r", Range="bytes=20000-")
    assert code(err) == ("InvalidRange", 416)
    with pytest.raises(ClientError) as err:
        s3.get_object(Bucket=bucket, Key="r", IfNoneMatch=etag)
    assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 304
    with pytest.raises(ClientError) as err:
        s3.get_object(Bucket=bucket, Key="r", IfMatch='"0123"')
    assert code(err) == ("PreconditionFailed", 412)
    later = datetime.now(UTC) + timedelta(days=1)
    assert read(s3, bucket, "r", IfModifiedSince=datetime(2000, 1, 1, tzinfo=UTC)) == data
    assert read(s3, bucket, "r", IfUnmodifiedSince=later) == data


def test_copy_between_inline_and_blob(cloud: Cloud, s3: Any, bucket: str) -> None:
    small, large = os.urandom(1000), os.urandom(INLINE_MAX + 1)
    s3.put_object(Bucket=bucket, Key="small", Body=small, Metadata={"kind": "small"})
    s3.put_object(Bucket=bucket, Key="large", Body=large)
    before = steady(cloud)
    # Inline to inline: no blob anywhere.
    s3.copy_object(Bucket=bucket, Key="small-copy", CopySource=f"{bucket}/small")
    assert settled(cloud, before) == before
    got = s3.get_object(Bucket=bucket, Key="small-copy")
    assert got["Body"].read() == small and got["Metadata"] == {"kind": "small"}
    # Blob to blob: the copy owns a blob of its own.
    s3.copy_object(Bucket=bucket, Key="large-copy", CopySource=f"{bucket}/large")
    assert settled(cloud, before + 1) == before + 1
    # A small object that lives in a blob (a one-part multipart upload) copies inline.
    upload = s3.create_multipart_upload(Bucket=bucket, Key="mp")["UploadId"]
    etag = s3.upload_part(Bucket=bucket, Key="mp", UploadId=upload, PartNumber=1, Body=small)
    s3.complete_multipart_upload(
        Bucket=bucket,
        Key="mp",
        UploadId=upload,
        MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": etag["ETag"]}]},
    )
    assert settled(cloud, before + 2) == before + 2
    s3.copy_object(Bucket=bucket, Key="mp-copy", CopySource=f"{bucket}/mp")
    assert settled(cloud, before + 2) == before + 2
    assert read(s3, bucket, "mp-copy") == small
    # Sources deleted: every copy keeps its bytes.
    s3.delete_objects(
        Bucket=bucket, Delete={"Objects": [{"Key": k} for k in ("small", "large", "mp")]}
    )
    assert (read(s3, bucket, "small-copy"), read(s3, bucket, "large-copy")) == (small, large)
    assert read(s3, bucket, "mp-copy") == small


def test_upload_part_copy_from_an_inline_source(s3: Any, bucket: str) -> None:
    small = os.urandom(2000)
    s3.put_object(Bucket=bucket, Key="src", Body=small)
    first = os.urandom(5 * MIB)
    upload = s3.create_multipart_upload(Bucket=bucket, Key="joined")["UploadId"]
    one = s3.upload_part(Bucket=bucket, Key="joined", UploadId=upload, PartNumber=1, Body=first)
    two = s3.upload_part_copy(
        Bucket=bucket,
        Key="joined",
        UploadId=upload,
        PartNumber=2,
        CopySource=f"{bucket}/src",
        CopySourceRange="bytes=100-1099",
    )["CopyPartResult"]
    assert two["ETag"] == md5_etag(small[100:1100])
    parts = [{"PartNumber": 1, "ETag": one["ETag"]}, {"PartNumber": 2, "ETag": two["ETag"]}]
    s3.complete_multipart_upload(
        Bucket=bucket, Key="joined", UploadId=upload, MultipartUpload={"Parts": parts}
    )
    assert read(s3, bucket, "joined") == first + small[100:1100]


def test_versions_keep_their_inline_bytes(cloud: Cloud, s3: Any, bucket: str) -> None:
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    bodies = [b"one", os.urandom(INLINE_MAX), os.urandom(INLINE_MAX + 1), b"four"]
    ids = [s3.put_object(Bucket=bucket, Key="v", Body=b)["VersionId"] for b in bodies]
    assert len(set(ids)) == len(ids)
    assert read(s3, bucket, "v") == bodies[-1]
    for version, body in zip(ids, bodies, strict=True):
        assert read(s3, bucket, "v", VersionId=version) == body
        head = s3.head_object(Bucket=bucket, Key="v", VersionId=version)
        assert head["ContentLength"] == len(body)
    marker = s3.delete_object(Bucket=bucket, Key="v")
    assert marker["DeleteMarker"]
    with pytest.raises(ClientError) as err:
        s3.get_object(Bucket=bucket, Key="v")
    assert code(err) == ("NoSuchKey", 404)
    assert read(s3, bucket, "v", VersionId=ids[0], Range="bytes=1-") == b"ne"
    # Suspended: a "null" version replaces the previous "null" one, real versions stay.
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Suspended"})
    s3.put_object(Bucket=bucket, Key="v", Body=b"null one")
    s3.put_object(Bucket=bucket, Key="v", Body=b"null two")
    assert read(s3, bucket, "v", VersionId="null") == b"null two"
    listed = s3.list_object_versions(Bucket=bucket)
    assert len(listed["Versions"]) == len(bodies) + 1
    before = steady(cloud)
    for version in [*ids, "null", marker["VersionId"]]:
        s3.delete_object(Bucket=bucket, Key="v", VersionId=version)
    # Only the one version kept in a blob had one to free.
    assert settled(cloud, before - 1) == before - 1
    assert "Versions" not in s3.list_object_versions(Bucket=bucket)


def test_deleting_inline_objects_leaves_nothing(cloud: Cloud, s3: Any, bucket: str) -> None:
    before = steady(cloud)
    keys = [f"d/{i}" for i in range(20)]
    for i, key in enumerate(keys):
        s3.put_object(Bucket=bucket, Key=key, Body=os.urandom(i * 100))
    s3.put_object(Bucket=bucket, Key="d/big", Body=os.urandom(INLINE_MAX + 1))
    s3.delete_object(Bucket=bucket, Key="d/0")
    answer = s3.delete_objects(
        Bucket=bucket, Delete={"Objects": [{"Key": k} for k in [*keys[1:], "d/big"]]}
    )
    assert len(answer["Deleted"]) == len(keys)
    assert "Contents" not in s3.list_objects_v2(Bucket=bucket)
    assert settled(cloud, before) == before


def test_conditional_writes_of_inline_objects(s3: Any, bucket: str) -> None:
    first = s3.put_object(Bucket=bucket, Key="c", Body=b"first", IfNoneMatch="*")
    with pytest.raises(ClientError) as err:
        s3.put_object(Bucket=bucket, Key="c", Body=b"second", IfNoneMatch="*")
    assert code(err) == ("PreconditionFailed", 412)
    with pytest.raises(ClientError) as err:
        s3.put_object(Bucket=bucket, Key="c", Body=b"second", IfMatch='"0000"')
    assert code(err) == ("PreconditionFailed", 412)
    s3.put_object(Bucket=bucket, Key="c", Body=b"second", IfMatch=first["ETag"])
    assert read(s3, bucket, "c") == b"second"
