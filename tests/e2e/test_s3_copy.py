"""S3 CopyObject through boto3, the AWS CLI and anonymous HTTP."""

from __future__ import annotations

import hashlib
import urllib.error
import urllib.request
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.e2e.conftest import Cloud
from tests.e2e.s3util import code, new_bucket
from tests.e2e.test_iam_accounts import new_account

pytestmark = pytest.mark.e2e


def test_copy_keeps_data_and_metadata(s3: Any, bucket: str) -> None:
    other = new_bucket(s3)
    data = b"copy me" * 1000
    s3.put_object(
        Bucket=bucket, Key="src", Body=data, ContentType="text/x-src", Metadata={"a": "1"}
    )
    out = s3.copy_object(Bucket=other, Key="dst", CopySource={"Bucket": bucket, "Key": "src"})
    result = out["CopyObjectResult"]
    assert result["ETag"] == f'"{hashlib.md5(data).hexdigest()}"'
    assert isinstance(result["LastModified"], datetime)
    got = s3.get_object(Bucket=other, Key="dst")
    assert got["Body"].read() == data
    assert got["ContentType"] == "text/x-src" and got["Metadata"] == {"a": "1"}
    # The copy owns its data: the source may go.
    s3.delete_object(Bucket=bucket, Key="src")
    assert s3.get_object(Bucket=other, Key="dst")["Body"].read() == data


def test_copy_replaces_metadata(s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="src", Body=b"x", ContentType="a/b", Metadata={"a": "1"})
    s3.copy_object(
        Bucket=bucket, Key="dst", CopySource=f"/{bucket}/src", MetadataDirective="REPLACE",
        ContentType="c/d", Metadata={"b": "2"},
    )  # fmt: skip
    head = s3.head_object(Bucket=bucket, Key="dst")
    assert head["ContentType"] == "c/d" and head["Metadata"] == {"b": "2"}
    with pytest.raises(ClientError) as err:
        s3.copy_object(
            Bucket=bucket, Key="dst", CopySource=f"{bucket}/src", MetadataDirective="MOVE"
        )
    assert code(err) == ("InvalidArgument", 400)


def test_copy_to_itself(s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="self", Body=b"x", Metadata={"v": "1"})
    with pytest.raises(ClientError) as err:
        s3.copy_object(Bucket=bucket, Key="self", CopySource=f"{bucket}/self")
    assert code(err) == ("InvalidRequest", 400)
    assert "copy an object to itself" in err.value.response["Error"]["Message"]
    s3.copy_object(
        Bucket=bucket, Key="self", CopySource=f"{bucket}/self", MetadataDirective="REPLACE",
        Metadata={"v": "2"},
    )  # fmt: skip
    got = s3.get_object(Bucket=bucket, Key="self")
    assert got["Metadata"] == {"v": "2"} and got["Body"].read() == b"x"


def test_missing_sources(s3: Any, bucket: str) -> None:
    with pytest.raises(ClientError) as err:
        s3.copy_object(Bucket=bucket, Key="dst", CopySource=f"{bucket}/missing")
    assert code(err) == ("NoSuchKey", 404)
    with pytest.raises(ClientError) as err:
        s3.copy_object(Bucket=bucket, Key="dst", CopySource=f"no-{uuid.uuid4().hex[:8]}/k")
    assert code(err) == ("NoSuchBucket", 404)
    s3.put_object(Bucket=bucket, Key="src", Body=b"x")
    with pytest.raises(ClientError) as err:
        s3.copy_object(Bucket=f"no-{uuid.uuid4().hex[:8]}", Key="dst", CopySource=f"{bucket}/src")
    assert code(err) == ("NoSuchBucket", 404)


def test_copy_source_conditions(s3: Any, bucket: str) -> None:
    etag = s3.put_object(Bucket=bucket, Key="src", Body=b"x")["ETag"]
    later = datetime.now(UTC) + timedelta(hours=1)
    earlier = datetime.now(UTC) - timedelta(hours=1)
    at = {"Bucket": bucket, "Key": "dst", "CopySource": f"{bucket}/src"}
    for failing in (
        {"CopySourceIfMatch": '"00"'},
        {"CopySourceIfNoneMatch": etag},
        {"CopySourceIfModifiedSince": later},
        {"CopySourceIfUnmodifiedSince": earlier},
    ):
        with pytest.raises(ClientError) as err:
            s3.copy_object(**at, **failing)
        assert code(err) == ("PreconditionFailed", 412), failing
    for holding in (
        {"CopySourceIfMatch": etag},
        {"CopySourceIfNoneMatch": '"00"'},
        {"CopySourceIfModifiedSince": earlier},
        {"CopySourceIfUnmodifiedSince": later},
    ):
        s3.copy_object(**at, **holding)
    # The destination's own conditions (conditional writes) apply too.
    with pytest.raises(ClientError) as err:
        s3.copy_object(**at, IfNoneMatch="*")
    assert code(err) == ("PreconditionFailed", 412)


def test_odd_keys_and_empty_objects(s3: Any, bucket: str) -> None:
    key = "dir/sp ace+plus?q=1&é"
    s3.put_object(Bucket=bucket, Key=key, Body=b"odd")
    s3.copy_object(Bucket=bucket, Key="odd-copy", CopySource={"Bucket": bucket, "Key": key})
    assert s3.get_object(Bucket=bucket, Key="odd-copy")["Body"].read() == b"odd"
    s3.put_object(Bucket=bucket, Key="empty", Body=b"")
    out = s3.copy_object(Bucket=bucket, Key="empty-copy", CopySource=f"{bucket}/empty")
    assert out["CopyObjectResult"]["ETag"] == '"d41d8cd98f00b204e9800998ecf8427e"'
    assert s3.get_object(Bucket=bucket, Key="empty-copy")["Body"].read() == b""


def test_copy_tagging_directive(s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="src", Body=b"x", Tagging="color=blue")
    s3.copy_object(Bucket=bucket, Key="same-tags", CopySource=f"{bucket}/src")
    tags = s3.get_object_tagging(Bucket=bucket, Key="same-tags")["TagSet"]
    assert tags == [{"Key": "color", "Value": "blue"}]
    s3.copy_object(
        Bucket=bucket, Key="new-tags", CopySource=f"{bucket}/src", TaggingDirective="REPLACE",
        Tagging="shape=round",
    )  # fmt: skip
    tags = s3.get_object_tagging(Bucket=bucket, Key="new-tags")["TagSet"]
    assert tags == [{"Key": "shape", "Value": "round"}]


def test_copy_source_versions(s3: Any, bucket: str) -> None:
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    v1 = s3.put_object(Bucket=bucket, Key="k", Body=b"one")["VersionId"]
    s3.put_object(Bucket=bucket, Key="k", Body=b"two")
    out = s3.copy_object(
        Bucket=bucket, Key="old", CopySource={"Bucket": bucket, "Key": "k", "VersionId": v1}
    )
    assert out["CopySourceVersionId"] == v1 and out["VersionId"]
    assert s3.get_object(Bucket=bucket, Key="old")["Body"].read() == b"one"
    # In a versioned bucket a copy onto the latest version is still refused without a change.
    with pytest.raises(ClientError) as err:
        s3.copy_object(Bucket=bucket, Key="k", CopySource=f"{bucket}/k")
    assert code(err) == ("InvalidRequest", 400)
    # ... but restoring an older version over it is a copy like any other.
    s3.copy_object(Bucket=bucket, Key="k", CopySource=f"{bucket}/k?versionId={v1}")
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"one"
    with pytest.raises(ClientError) as err:
        s3.copy_object(Bucket=bucket, Key="x", CopySource=f"{bucket}/k?versionId=nope")
    assert code(err)[1] in (400, 404)
    marker = s3.delete_object(Bucket=bucket, Key="k")["VersionId"]
    with pytest.raises(ClientError) as err:
        s3.copy_object(Bucket=bucket, Key="x", CopySource=f"{bucket}/k")
    assert code(err) == ("NoSuchKey", 404)
    with pytest.raises(ClientError) as err:
        s3.copy_object(Bucket=bucket, Key="x", CopySource=f"{bucket}/k?versionId={marker}")
    assert code(err) == ("InvalidRequest", 400)


def test_anonymous_copy_follows_the_acls(cloud: Cloud, s3: Any) -> None:
    source = new_bucket(s3)
    target = new_bucket(s3, ACL="public-read-write")
    s3.put_object(Bucket=source, Key="private", Body=b"secret")
    s3.put_object(Bucket=source, Key="public", Body=b"shared", ACL="public-read")

    def anonymous_copy(bucket: str, key: str, copy_source: str) -> int:
        request = urllib.request.Request(
            f"{cloud.endpoint}/{bucket}/{key}",
            method="PUT",
            headers={"x-amz-copy-source": copy_source},
        )
        try:
            with urllib.request.urlopen(request) as answer:
                return int(answer.status)
        except urllib.error.HTTPError as err:
            return int(err.code)

    assert anonymous_copy(target, "a", f"{source}/private") == 403
    assert anonymous_copy(source, "a", f"{source}/public") == 403  # no WRITE on that bucket
    assert anonymous_copy(target, "a", f"{source}/public") == 200
    assert s3.get_object(Bucket=target, Key="a")["Body"].read() == b"shared"


def test_copy_needs_read_access_to_the_source(cloud: Cloud, s3: Any, tmp_path: Path) -> None:
    source = new_bucket(s3)
    s3.put_object(Bucket=source, Key="private", Body=b"secret")
    _, access, secret = new_account(cloud, tmp_path)
    other = cloud.client("s3", access, secret)
    mine = new_bucket(other)
    with pytest.raises(ClientError) as err:
        other.copy_object(Bucket=mine, Key="stolen", CopySource=f"{source}/private")
    assert code(err) == ("AccessDenied", 403)
    with pytest.raises(ClientError) as err:
        other.upload_part_copy(
            Bucket=mine, Key="stolen", PartNumber=1, CopySource=f"{source}/private",
            UploadId=other.create_multipart_upload(Bucket=mine, Key="stolen")["UploadId"],
        )  # fmt: skip
    assert code(err) == ("AccessDenied", 403)
    s3.put_object(Bucket=source, Key="shared", Body=b"for all", ACL="public-read")
    other.copy_object(Bucket=mine, Key="shared", CopySource=f"{source}/shared")
    assert other.get_object(Bucket=mine, Key="shared")["Body"].read() == b"for all"


def test_aws_cli_copies_between_buckets(cloud: Cloud, s3: Any, bucket: str) -> None:
    other = new_bucket(s3)
    s3.put_object(Bucket=bucket, Key="a/b.txt", Body=b"via cli")
    cloud.aws_cli("s3", "cp", f"s3://{bucket}/a/b.txt", f"s3://{other}/c.txt", check=True)
    assert s3.get_object(Bucket=other, Key="c.txt")["Body"].read() == b"via cli"
