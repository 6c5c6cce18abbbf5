"""S3 object and bucket tagging through boto3 and the AWS CLI."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.e2e.conftest import Cloud
from tests.e2e.s3util import code

pytestmark = pytest.mark.e2e


def tags(*pairs: tuple[str, str]) -> dict[str, Any]:
    return {"TagSet": [{"Key": k, "Value": v} for k, v in pairs]}


def test_object_tagging(s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="k", Body=b"x", Tagging="team=blue&cost%20centre=a%2Fb")
    got = s3.get_object_tagging(Bucket=bucket, Key="k")["TagSet"]
    assert got == [{"Key": "team", "Value": "blue"}, {"Key": "cost centre", "Value": "a/b"}]
    assert s3.get_object(Bucket=bucket, Key="k")["TagCount"] == 2
    assert s3.head_object(Bucket=bucket, Key="k")["TagCount"] == 2

    s3.put_object_tagging(Bucket=bucket, Key="k", Tagging=tags(("a", "1")))
    assert s3.get_object_tagging(Bucket=bucket, Key="k")["TagSet"] == [{"Key": "a", "Value": "1"}]
    s3.delete_object_tagging(Bucket=bucket, Key="k")
    assert s3.get_object_tagging(Bucket=bucket, Key="k")["TagSet"] == []
    assert "TagCount" not in s3.get_object(Bucket=bucket, Key="k")

    with pytest.raises(ClientError) as err:
        s3.get_object_tagging(Bucket=bucket, Key="missing")
    assert code(err) == ("NoSuchKey", 404)


@pytest.mark.parametrize(
    "tag_set",
    [
        [{"Key": f"k{i}", "Value": "v"} for i in range(11)],
        [{"Key": "k" * 129, "Value": "v"}],
        [{"Key": "k", "Value": "v" * 257}],
        [{"Key": "k", "Value": "1"}, {"Key": "k", "Value": "2"}],
        [{"Key": "aws:reserved", "Value": "v"}],
    ],
)
def test_invalid_object_tags(s3: Any, bucket: str, tag_set: list[dict[str, str]]) -> None:
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    with pytest.raises(ClientError) as err:
        s3.put_object_tagging(Bucket=bucket, Key="k", Tagging={"TagSet": tag_set})
    assert code(err) == ("InvalidTag", 400)


def test_invalid_tagging_header_stores_nothing(cloud: Cloud, s3: Any, bucket: str) -> None:
    # Its own client: the refusal comes before the body is read, and the server does not yet
    # close a connection whose body it left unread (see the wire layer).
    with pytest.raises(ClientError) as err:
        cloud.client("s3").put_object(Bucket=bucket, Key="k", Body=b"x", Tagging="a=1&a=2")
    assert code(err) == ("InvalidTag", 400)
    assert s3.list_objects_v2(Bucket=bucket)["KeyCount"] == 0


def test_tags_belong_to_versions(s3: Any, bucket: str) -> None:
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    v1 = s3.put_object(Bucket=bucket, Key="k", Body=b"1", Tagging="gen=1")["VersionId"]
    v2 = s3.put_object(Bucket=bucket, Key="k", Body=b"2")["VersionId"]
    assert s3.get_object_tagging(Bucket=bucket, Key="k")["TagSet"] == []
    old = s3.get_object_tagging(Bucket=bucket, Key="k", VersionId=v1)
    assert old["TagSet"] == [{"Key": "gen", "Value": "1"}] and old["VersionId"] == v1
    put = s3.put_object_tagging(Bucket=bucket, Key="k", VersionId=v1, Tagging=tags(("x", "y")))
    assert put["VersionId"] == v1
    assert s3.get_object_tagging(Bucket=bucket, Key="k")["VersionId"] == v2
    assert s3.get_object(Bucket=bucket, Key="k", VersionId=v1)["TagCount"] == 1
    marker = s3.delete_object(Bucket=bucket, Key="k")["VersionId"]
    with pytest.raises(ClientError) as err:
        s3.get_object_tagging(Bucket=bucket, Key="k")
    assert code(err) == ("NoSuchKey", 404)
    with pytest.raises(ClientError) as err:
        s3.get_object_tagging(Bucket=bucket, Key="k", VersionId=marker)
    assert code(err) == ("MethodNotAllowed", 405)
    with pytest.raises(ClientError) as err:
        s3.get_object_tagging(Bucket=bucket, Key="k", VersionId="nosuchversion")
    assert code(err) == ("NoSuchVersion", 404)


def test_bucket_tagging(s3: Any, bucket: str) -> None:
    with pytest.raises(ClientError) as err:
        s3.get_bucket_tagging(Bucket=bucket)
    assert code(err) == ("NoSuchTagSet", 404)
    s3.put_bucket_tagging(Bucket=bucket, Tagging=tags(("env", "prod"), ("owner", "ops@x")))
    got = s3.get_bucket_tagging(Bucket=bucket)["TagSet"]
    assert got == [{"Key": "env", "Value": "prod"}, {"Key": "owner", "Value": "ops@x"}]
    many = [(f"k{i}", "v") for i in range(50)]
    s3.put_bucket_tagging(Bucket=bucket, Tagging=tags(*many))
    assert len(s3.get_bucket_tagging(Bucket=bucket)["TagSet"]) == 50
    with pytest.raises(ClientError) as err:
        s3.put_bucket_tagging(Bucket=bucket, Tagging=tags(*many, ("one", "more")))
    assert code(err) == ("InvalidTag", 400)
    with pytest.raises(ClientError) as err:
        s3.put_bucket_tagging(Bucket=bucket, Tagging=tags(("a", "1"), ("a", "2")))
    assert code(err) == ("InvalidTag", 400)
    s3.delete_bucket_tagging(Bucket=bucket)
    with pytest.raises(ClientError) as err:
        s3.get_bucket_tagging(Bucket=bucket)
    assert code(err) == ("NoSuchTagSet", 404)
    with pytest.raises(ClientError) as err:
        s3.get_bucket_tagging(Bucket=f"nope-{uuid.uuid4().hex[:8]}")
    assert code(err) == ("NoSuchBucket", 404)


def test_aws_cli_tagging(cloud: Cloud, s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    cloud.aws_cli(
        "s3api",
        "put-object-tagging",
        "--bucket",
        bucket,
        "--key",
        "k",
        "--tagging",
        "TagSet=[{Key=color,Value=red}]",
        check=True,
    )
    got = cloud.aws_cli("s3api", "get-object-tagging", "--bucket", bucket, "--key", "k")
    assert got.returncode == 0, got.stderr
    assert json.loads(got.stdout)["TagSet"] == [{"Key": "color", "Value": "red"}]
    cloud.aws_cli(
        "s3api",
        "put-bucket-tagging",
        "--bucket",
        bucket,
        "--tagging",
        "TagSet=[{Key=env,Value=dev}]",
        check=True,
    )
    got = cloud.aws_cli("s3api", "get-bucket-tagging", "--bucket", bucket, check=True)
    assert json.loads(got.stdout)["TagSet"] == [{"Key": "env", "Value": "dev"}]
