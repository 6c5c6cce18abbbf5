"""S3 core through boto3 and the AWS CLI: buckets, objects, ranges, conditions, listing."""

from __future__ import annotations

import base64
import hashlib
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.e2e.conftest import Cloud
from tests.e2e.s3util import code
from tests.e2e.test_iam_accounts import new_account

pytestmark = pytest.mark.e2e


def test_buckets(s3: Any, bucket: str) -> None:
    names = [b["Name"] for b in s3.list_buckets()["Buckets"]]
    assert bucket in names
    s3.head_bucket(Bucket=bucket)
    assert s3.get_bucket_location(Bucket=bucket)["LocationConstraint"] == "eucalyptus"
    with pytest.raises(ClientError) as err:
        s3.create_bucket(Bucket=bucket)
    assert code(err) == ("BucketAlreadyOwnedByYou", 409)
    # (botocore itself refuses names outside [A-Za-z0-9._-]{1,255})
    for bad in ("ab", "192.168.1.1"):
        with pytest.raises(ClientError) as err:
            s3.create_bucket(Bucket=bad)
        assert code(err) == ("InvalidBucketName", 400)
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    with pytest.raises(ClientError) as err:
        s3.delete_bucket(Bucket=bucket)
    assert code(err) == ("BucketNotEmpty", 409)
    s3.delete_object(Bucket=bucket, Key="k")
    s3.delete_bucket(Bucket=bucket)
    with pytest.raises(ClientError) as err:
        s3.head_bucket(Bucket=bucket)
    assert code(err)[1] == 404
    with pytest.raises(ClientError) as err:
        s3.list_objects_v2(Bucket=bucket)
    assert code(err) == ("NoSuchBucket", 404)


def test_bucket_names_are_global(cloud: Cloud, s3: Any, bucket: str, tmp_path: Path) -> None:
    _, access, secret = new_account(cloud, tmp_path)
    other = cloud.client("s3", access, secret)
    with pytest.raises(ClientError) as err:
        other.create_bucket(Bucket=bucket)
    assert code(err) == ("BucketAlreadyExists", 409)
    assert bucket not in [b["Name"] for b in other.list_buckets()["Buckets"]]


def test_put_get_head_metadata(s3: Any, bucket: str) -> None:
    data = b"hello, object storage"
    md5 = base64.b64encode(hashlib.md5(data).digest()).decode()
    put = s3.put_object(
        Bucket=bucket,
        Key="dir/a.txt",
        Body=data,
        ContentType="text/plain",
        ContentMD5=md5,
        Metadata={"Color": "blue"},
        CacheControl="max-age=60",
    )
    assert put["ETag"] == f'"{hashlib.md5(data).hexdigest()}"'
    got = s3.get_object(Bucket=bucket, Key="dir/a.txt")
    assert got["Body"].read() == data
    assert got["ContentType"] == "text/plain" and got["CacheControl"] == "max-age=60"
    assert got["Metadata"] == {"color": "blue"}
    head = s3.head_object(Bucket=bucket, Key="dir/a.txt")
    assert head["ContentLength"] == len(data) and head["ETag"] == put["ETag"]
    with pytest.raises(ClientError) as err:
        s3.get_object(Bucket=bucket, Key="missing")
    assert code(err) == ("NoSuchKey", 404)
    with pytest.raises(ClientError) as err:
        s3.head_object(Bucket=bucket, Key="missing")
    assert code(err)[1] == 404


def test_bad_digest_stores_nothing(s3: Any, bucket: str) -> None:
    wrong = base64.b64encode(hashlib.md5(b"other").digest()).decode()
    with pytest.raises(ClientError) as err:
        s3.put_object(Bucket=bucket, Key="k", Body=b"data", ContentMD5=wrong)
    assert code(err) == ("BadDigest", 400)
    with pytest.raises(ClientError) as err:
        s3.put_object(Bucket=bucket, Key="k", Body=b"data", ContentMD5="not-base64!")
    assert code(err) == ("InvalidDigest", 400)
    with pytest.raises(ClientError):
        s3.head_object(Bucket=bucket, Key="k")


def test_ranges(s3: Any, bucket: str) -> None:
    data = bytes(range(100))
    s3.put_object(Bucket=bucket, Key="r", Body=data)
    for header, want in (("bytes=0-9", data[:10]), ("bytes=90-", data[90:]),
                         ("bytes=-5", data[-5:]), ("bytes=95-200", data[95:])):  # fmt: skip
        got = s3.get_object(Bucket=bucket, Key="r", Range=header)
        assert got["Body"].read() == want
        assert got["ResponseMetadata"]["HTTPStatusCode"] == 206
        assert got["ContentRange"].endswith("/100")
    with pytest.raises(ClientError) as err:
        s3.get_object(Bucket=bucket, Key="r", Range="bytes=100-")
    assert code(err) == ("InvalidRange", 416)


def test_conditional_requests(s3: Any, bucket: str) -> None:
    etag = s3.put_object(Bucket=bucket, Key="c", Body=b"v1")["ETag"]
    assert s3.get_object(Bucket=bucket, Key="c", IfMatch=etag)["Body"].read() == b"v1"
    with pytest.raises(ClientError) as err:
        s3.get_object(Bucket=bucket, Key="c", IfMatch='"00"')
    assert code(err) == ("PreconditionFailed", 412)
    with pytest.raises(ClientError) as err:
        s3.get_object(Bucket=bucket, Key="c", IfNoneMatch=etag)
    assert code(err)[1] == 304
    later = datetime.now(UTC) + timedelta(hours=1)
    with pytest.raises(ClientError) as err:
        s3.get_object(Bucket=bucket, Key="c", IfModifiedSince=later)
    assert code(err)[1] == 304
    earlier = datetime.now(UTC) - timedelta(hours=1)
    with pytest.raises(ClientError) as err:
        s3.get_object(Bucket=bucket, Key="c", IfUnmodifiedSince=earlier)
    assert code(err) == ("PreconditionFailed", 412)
    # Conditional writes: create only if absent.
    with pytest.raises(ClientError) as err:
        s3.put_object(Bucket=bucket, Key="c", Body=b"v2", IfNoneMatch="*")
    assert code(err) == ("PreconditionFailed", 412)
    s3.put_object(Bucket=bucket, Key="new", Body=b"v1", IfNoneMatch="*")


def test_keys_are_data_not_paths(s3: Any, bucket: str, cloud: Cloud) -> None:
    keys = ["../../etc/passwd", "a/../b", "back\\slash", "per%2Fcent", "é ü 漢字", "a" * 1024]
    for key in keys:
        s3.put_object(Bucket=bucket, Key=key, Body=key.encode())
    for key in keys:
        assert s3.get_object(Bucket=bucket, Key=key)["Body"].read() == key.encode()
    listed = [c["Key"] for c in s3.list_objects_v2(Bucket=bucket)["Contents"]]
    assert sorted(listed, key=lambda k: k.encode()) == listed and set(listed) == set(keys)
    with pytest.raises(ClientError) as err:
        s3.put_object(Bucket=bucket, Key="a" * 1025, Body=b"")
    assert code(err) == ("KeyTooLongError", 400)


def test_listing_prefix_delimiter_pages(s3: Any, bucket: str) -> None:
    keys = [f"photos/2024/{i:02}.jpg" for i in range(5)] + ["photos/readme", "top", "zz/1"]
    for key in keys:
        s3.put_object(Bucket=bucket, Key=key, Body=b"")
    top = s3.list_objects_v2(Bucket=bucket, Delimiter="/")
    assert [c["Key"] for c in top["Contents"]] == ["top"]
    assert [p["Prefix"] for p in top["CommonPrefixes"]] == ["photos/", "zz/"]
    inner = s3.list_objects_v2(Bucket=bucket, Prefix="photos/", Delimiter="/")
    assert [p["Prefix"] for p in inner["CommonPrefixes"]] == ["photos/2024/"]
    assert [c["Key"] for c in inner["Contents"]] == ["photos/readme"]
    seen, token = [], None
    while True:
        extra = {"ContinuationToken": token} if token else {}
        page = s3.list_objects_v2(Bucket=bucket, MaxKeys=3, **extra)
        seen += [c["Key"] for c in page["Contents"]]
        assert page["KeyCount"] <= 3
        if not page["IsTruncated"]:
            break
        token = page["NextContinuationToken"]
    assert seen == sorted(keys)
    first = s3.list_objects(Bucket=bucket, Delimiter="/", MaxKeys=1)
    assert [p["Prefix"] for p in first["CommonPrefixes"]] == ["photos/"]
    rest = s3.list_objects(Bucket=bucket, Delimiter="/", Marker=first["NextMarker"])
    assert [c["Key"] for c in rest["Contents"]] == ["top"]
    assert [p["Prefix"] for p in rest["CommonPrefixes"]] == ["zz/"]
    v1 = s3.list_objects(Bucket=bucket, Marker="photos/readme")
    assert [c["Key"] for c in v1["Contents"]] == ["top", "zz/1"]
    paginator = s3.get_paginator("list_objects")
    assert sum(len(p.get("Contents", [])) for p in paginator.paginate(Bucket=bucket)) == 8


def test_delete_objects(s3: Any, bucket: str) -> None:
    for i in range(3):
        s3.put_object(Bucket=bucket, Key=f"k{i}", Body=b"x")
    out = s3.delete_objects(
        Bucket=bucket, Delete={"Objects": [{"Key": "k0"}, {"Key": "k1"}, {"Key": "nope"}]}
    )
    assert sorted(d["Key"] for d in out["Deleted"]) == ["k0", "k1", "nope"]
    assert [c["Key"] for c in s3.list_objects_v2(Bucket=bucket)["Contents"]] == ["k2"]


def test_anonymous_access_follows_the_acl(cloud: Cloud, s3: Any) -> None:
    import urllib.error
    import urllib.request

    private, public = f"pv-{uuid.uuid4().hex[:8]}", f"pb-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=private)
    s3.create_bucket(Bucket=public, ACL="public-read")
    s3.put_object(Bucket=private, Key="k", Body=b"secret")
    s3.put_object(Bucket=public, Key="k", Body=b"shared", ACL="public-read")
    with pytest.raises(urllib.error.HTTPError) as denied:
        urllib.request.urlopen(f"{cloud.endpoint}/{private}/k")
    assert denied.value.code == 403, denied.value.read()
    with urllib.request.urlopen(f"{cloud.endpoint}/{public}/k") as answer:
        assert answer.read() == b"shared"
    put = urllib.request.Request(f"{cloud.endpoint}/{public}/k2", data=b"x", method="PUT")
    with pytest.raises(urllib.error.HTTPError) as denied:
        urllib.request.urlopen(put)
    assert denied.value.code == 403


def test_aws_cli_cp_ls_sync(cloud: Cloud, bucket: str, tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    (src / "one.txt").write_text("one")
    (src / "sub").mkdir()
    (src / "sub" / "two.bin").write_bytes(b"\x00" * 70_000)
    cloud.aws_cli("s3", "cp", str(src / "one.txt"), f"s3://{bucket}/one.txt", check=True)
    cloud.aws_cli("s3", "sync", str(src), f"s3://{bucket}/tree", check=True)
    listing = cloud.aws_cli("s3", "ls", "--recursive", f"s3://{bucket}", check=True).stdout
    assert "tree/sub/two.bin" in listing and "one.txt" in listing
    out = tmp_path / "back"
    cloud.aws_cli("s3", "sync", f"s3://{bucket}/tree", str(out), check=True)
    assert (out / "sub" / "two.bin").read_bytes() == b"\x00" * 70_000
