"""S3 bucket policies through boto3 and the AWS CLI: validation, who may manage them, and how
they decide access with the ACLs: explicit Deny wins, cross-account and anonymous Allows,
conditions on s3:prefix and aws:SourceIp."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.e2e.conftest import Cloud
from tests.e2e.test_s3_acl import Account, denied, fresh_anon, make_account

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def owner(cloud: Cloud, tmp_path_factory: pytest.TempPathFactory) -> Account:
    return make_account(cloud, tmp_path_factory.mktemp("owner"))


@pytest.fixture(scope="module")
def other(cloud: Cloud, tmp_path_factory: pytest.TempPathFactory) -> Account:
    return make_account(cloud, tmp_path_factory.mktemp("other"))


@pytest.fixture
def bucket(owner: Account) -> str:
    name = f"pol-{uuid.uuid4().hex[:10]}"
    owner.s3.create_bucket(Bucket=name)
    return name


def doc(*statements: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def allow(principal: Any, action: Any, resource: Any, **extra: Any) -> dict[str, Any]:
    return {
        "Effect": "Allow",
        "Principal": principal,
        "Action": action,
        "Resource": resource,
        **extra,
    }


def test_put_get_delete_policy(owner: Account, other: Account, bucket: str) -> None:
    s3 = owner.s3
    assert denied(s3.get_bucket_policy, Bucket=bucket) == ("NoSuchBucketPolicy", 404)
    assert denied(s3.get_bucket_policy_status, Bucket=bucket) == ("NoSuchBucketPolicy", 404)
    text = doc(allow({"AWS": other.id}, "s3:GetObject", f"arn:aws:s3:::{bucket}/*"))
    s3.put_bucket_policy(Bucket=bucket, Policy=text)
    assert json.loads(s3.get_bucket_policy(Bucket=bucket)["Policy"]) == json.loads(text)
    assert s3.get_bucket_policy_status(Bucket=bucket)["PolicyStatus"] == {"IsPublic": False}
    s3.put_bucket_policy(
        Bucket=bucket, Policy=doc(allow("*", "s3:GetObject", f"arn:aws:s3:::{bucket}/*"))
    )
    assert s3.get_bucket_policy_status(Bucket=bucket)["PolicyStatus"] == {"IsPublic": True}
    response = s3.delete_bucket_policy(Bucket=bucket)
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 204
    assert denied(s3.get_bucket_policy, Bucket=bucket) == ("NoSuchBucketPolicy", 404)
    s3.delete_bucket_policy(Bucket=bucket)  # nothing to delete: still 204
    assert denied(s3.get_bucket_policy, Bucket=f"no-{bucket}") == ("NoSuchBucket", 404)


@pytest.mark.parametrize(
    ("policy", "message"),
    [
        ("not json", "Policies must be valid JSON and the first byte must be '{'"),
        (
            doc(allow("*", "s3:GetObject", "arn:aws:s3:::elsewhere/*")),
            "Policy has invalid resource",
        ),
        (doc(allow("*", "iam:CreateUser", "arn:aws:s3:::{b}/*")), "Policy has invalid action"),
        (
            doc(allow("*", "s3:GetObject", "arn:aws:s3:::{b}")),
            "Action does not apply to any resource(s) in statement",
        ),
        (
            doc({"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::{b}/*"}),
            "Missing required field Principal",
        ),
        (
            doc(allow({"AWS": "999999999999"}, "s3:GetObject", "arn:aws:s3:::{b}/*")),
            "Invalid principal in policy",
        ),
        (
            doc(allow("*", "s3:GetObject", "arn:aws:s3:::{b}/*", Condition={"Bogus": {}})),
            None,
        ),
    ],
)
def test_malformed_policies(owner: Account, bucket: str, policy: str, message: str | None) -> None:
    with pytest.raises(ClientError) as err:
        owner.s3.put_bucket_policy(Bucket=bucket, Policy=policy.replace("{b}", bucket))
    error = err.value.response["Error"]
    assert error["Code"] == "MalformedPolicy"
    assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    if message is not None:
        assert error["Message"] == message


def test_only_the_owner_manages_the_policy(
    cloud: Cloud, owner: Account, other: Account, bucket: str
) -> None:
    everything = doc(
        allow({"AWS": other.id}, "s3:*", [f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"])
    )
    owner.s3.put_bucket_policy(Bucket=bucket, Policy=everything)
    assert denied(other.s3.get_bucket_policy, Bucket=bucket) == ("MethodNotAllowed", 405)
    assert denied(other.s3.put_bucket_policy, Bucket=bucket, Policy=everything) == (
        "MethodNotAllowed",
        405,
    )
    assert denied(other.s3.delete_bucket_policy, Bucket=bucket) == ("MethodNotAllowed", 405)
    anon = fresh_anon(cloud)
    assert denied(anon.get_bucket_policy, Bucket=bucket) == ("AccessDenied", 403)


def test_cross_account_allow_and_explicit_deny(owner: Account, other: Account, bucket: str) -> None:
    owner.s3.put_object(Bucket=bucket, Key="doc", Body=b"shared")
    owner.s3.put_object(Bucket=bucket, Key="secret", Body=b"no")
    assert denied(other.s3.get_object, Bucket=bucket, Key="doc") == ("AccessDenied", 403)
    policy = doc(
        allow({"AWS": f"arn:aws:iam::{other.id}:root"}, "s3:GetObject", f"arn:aws:s3:::{bucket}/*"),
        {
            "Effect": "Deny",
            "Principal": "*",
            "Action": "s3:GetObject",
            "Resource": f"arn:aws:s3:::{bucket}/secret",
        },
    )
    owner.s3.put_bucket_policy(Bucket=bucket, Policy=policy)
    assert other.s3.get_object(Bucket=bucket, Key="doc")["Body"].read() == b"shared"
    assert denied(other.s3.get_object, Bucket=bucket, Key="secret") == ("AccessDenied", 403)
    # The Deny binds the owner's account too, and beats an ACL grant.
    assert denied(owner.s3.get_object, Bucket=bucket, Key="secret") == ("AccessDenied", 403)
    owner.s3.put_object_acl(Bucket=bucket, Key="secret", ACL="public-read")
    assert denied(other.s3.get_object, Bucket=bucket, Key="secret") == ("AccessDenied", 403)
    assert denied(other.s3.list_objects_v2, Bucket=bucket) == ("AccessDenied", 403)


def test_users_of_the_owner_account(cloud: Cloud, owner: Account, bucket: str) -> None:
    name = f"u{uuid.uuid4().hex[:8]}"
    owner.iam.create_user(UserName=name)
    key = owner.iam.create_access_key(UserName=name)["AccessKey"]
    user = cloud.client("s3", key["AccessKeyId"], key["SecretAccessKey"])
    arn = owner.iam.get_user(UserName=name)["User"]["Arn"]
    owner.s3.put_object(Bucket=bucket, Key="k", Body=b"k")
    assert denied(user.get_object, Bucket=bucket, Key="k") == ("AccessDenied", 403)
    # A bucket policy naming the user itself is enough in its own account.
    owner.s3.put_bucket_policy(
        Bucket=bucket, Policy=doc(allow({"AWS": arn}, "s3:GetObject", f"arn:aws:s3:::{bucket}/*"))
    )
    assert user.get_object(Bucket=bucket, Key="k")["Body"].read() == b"k"
    assert denied(user.list_objects_v2, Bucket=bucket) == ("AccessDenied", 403)


def test_anonymous_by_policy(cloud: Cloud, owner: Account, bucket: str) -> None:
    anon = fresh_anon(cloud)
    owner.s3.put_object(Bucket=bucket, Key="pub/a", Body=b"a")
    owner.s3.put_object(Bucket=bucket, Key="pub/hidden", Body=b"h", ACL="public-read")
    assert denied(anon.get_object, Bucket=bucket, Key="pub/a") == ("AccessDenied", 403)
    policy = doc(
        allow("*", "s3:GetObject", f"arn:aws:s3:::{bucket}/pub/*"),
        {
            "Effect": "Deny",
            "Principal": {"AWS": "*"},
            "Action": "s3:GetObject",
            "Resource": f"arn:aws:s3:::{bucket}/pub/hidden",
        },
    )
    owner.s3.put_bucket_policy(Bucket=bucket, Policy=policy)
    assert anon.get_object(Bucket=bucket, Key="pub/a")["Body"].read() == b"a"
    assert anon.head_object(Bucket=bucket, Key="pub/a")["ContentLength"] == 1
    # The explicit Deny wins over the object's public-read ACL.
    assert denied(anon.get_object, Bucket=bucket, Key="pub/hidden") == ("AccessDenied", 403)
    assert denied(anon.list_objects_v2, Bucket=bucket) == ("AccessDenied", 403)
    assert denied(fresh_anon(cloud).put_object, Bucket=bucket, Key="pub/b", Body=b"b") == (
        "AccessDenied",
        403,
    )
    # Writing by policy alone (the ACL grants nothing).
    owner.s3.put_bucket_policy(
        Bucket=bucket,
        Policy=doc(
            allow("*", ["s3:PutObject", "s3:GetObject"], f"arn:aws:s3:::{bucket}/drop/*"),
            allow("*", "s3:ListBucket", f"arn:aws:s3:::{bucket}"),
        ),
    )
    anon.put_object(Bucket=bucket, Key="drop/x", Body=b"x")
    assert anon.get_object(Bucket=bucket, Key="drop/x")["Body"].read() == b"x"
    keys = [o["Key"] for o in anon.list_objects_v2(Bucket=bucket)["Contents"]]
    assert "drop/x" in keys and "pub/a" in keys


def test_prefix_condition(owner: Account, other: Account, bucket: str) -> None:
    for key in ("home/a", "home/b", "private/c"):
        owner.s3.put_object(Bucket=bucket, Key=key, Body=b"x")
    owner.s3.put_bucket_policy(
        Bucket=bucket,
        Policy=doc(
            allow(
                {"AWS": other.id},
                "s3:ListBucket",
                f"arn:aws:s3:::{bucket}",
                Condition={"StringLike": {"s3:prefix": "home/*"}},
            )
        ),
    )
    listed = other.s3.list_objects_v2(Bucket=bucket, Prefix="home/")["Contents"]
    assert [o["Key"] for o in listed] == ["home/a", "home/b"]
    assert denied(other.s3.list_objects_v2, Bucket=bucket, Prefix="private/") == (
        "AccessDenied",
        403,
    )
    assert denied(other.s3.list_objects_v2, Bucket=bucket) == ("AccessDenied", 403)


def test_source_ip_condition(cloud: Cloud, owner: Account, other: Account, bucket: str) -> None:
    owner.s3.put_object(Bucket=bucket, Key="k", Body=b"k")
    objects = f"arn:aws:s3:::{bucket}/*"
    elsewhere = {"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}}
    here = {"IpAddress": {"aws:SourceIp": "127.0.0.0/8"}}
    owner.s3.put_bucket_policy(
        Bucket=bucket, Policy=doc(allow("*", "s3:GetObject", objects, Condition=elsewhere))
    )
    assert denied(fresh_anon(cloud).get_object, Bucket=bucket, Key="k")[1] == 403
    assert denied(other.s3.get_object, Bucket=bucket, Key="k")[1] == 403
    owner.s3.put_bucket_policy(
        Bucket=bucket, Policy=doc(allow("*", "s3:GetObject", objects, Condition=here))
    )
    assert fresh_anon(cloud).get_object(Bucket=bucket, Key="k")["Body"].read() == b"k"
    assert other.s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"k"
    # A Deny from everywhere but elsewhere shuts out even the owner, here.
    owner.s3.put_bucket_policy(
        Bucket=bucket,
        Policy=doc(
            {
                "Effect": "Deny",
                "Principal": "*",
                "Action": "s3:GetObject",
                "Resource": objects,
                "Condition": {"NotIpAddress": {"aws:SourceIp": "10.0.0.0/8"}},
            }
        ),
    )
    assert denied(owner.s3.get_object, Bucket=bucket, Key="k")[1] == 403
    owner.s3.delete_bucket_policy(Bucket=bucket)
    assert owner.s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"k"


def test_aws_cli_put_bucket_policy(cloud: Cloud, owner: Account, bucket: str) -> None:
    ak, sk = owner.keys
    text = doc(allow("*", "s3:GetObject", f"arn:aws:s3:::{bucket}/*"))
    cloud.aws_cli(
        "s3api",
        "put-bucket-policy",
        "--bucket",
        bucket,
        "--policy",
        text,
        access_key=ak,
        secret_key=sk,
        check=True,
    )
    out = cloud.aws_cli(
        "s3api", "get-bucket-policy", "--bucket", bucket, access_key=ak, secret_key=sk, check=True
    )
    assert json.loads(json.loads(out.stdout)["Policy"]) == json.loads(text)
    status = cloud.aws_cli(
        "s3api",
        "get-bucket-policy-status",
        "--bucket",
        bucket,
        access_key=ak,
        secret_key=sk,
        check=True,
    )
    assert json.loads(status.stdout)["PolicyStatus"]["IsPublic"] is True
    cloud.aws_cli(
        "s3api",
        "delete-bucket-policy",
        "--bucket",
        bucket,
        access_key=ak,
        secret_key=sk,
        check=True,
    )
