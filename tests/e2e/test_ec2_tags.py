"""EC2 tags through boto3 and the AWS CLI: limits, reserved keys, ids, filters, pages, accounts."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.e2e.conftest import Cloud
from tests.e2e.test_ec2_instances import default_image
from tests.e2e.test_iam_accounts import new_account

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def ec2(cloud: Cloud) -> Any:
    return cloud.client("ec2")


@pytest.fixture
def key_id(ec2: Any) -> Iterator[str]:
    made = ec2.create_key_pair(KeyName=f"tags-{uuid.uuid4().hex[:8]}", KeyType="ed25519")
    yield made["KeyPairId"]
    ec2.delete_key_pair(KeyPairId=made["KeyPairId"])


def code(err: pytest.ExceptionInfo[ClientError]) -> str:
    return str(err.value.response["Error"]["Code"])


def tags_of(ec2: Any, resource_id: str) -> dict[str, str]:
    found = ec2.describe_tags(Filters=[{"Name": "resource-id", "Values": [resource_id]}])
    return {t["Key"]: t["Value"] for t in found["Tags"]}


def test_create_overwrite_and_conditional_delete(ec2: Any, key_id: str) -> None:
    ec2.create_tags(
        Resources=[key_id],
        Tags=[{"Key": "a", "Value": "1"}, {"Key": "b", "Value": ""}, {"Key": "c"}],
    )
    assert tags_of(ec2, key_id) == {"a": "1", "b": "", "c": ""}
    ec2.create_tags(Resources=[key_id], Tags=[{"Key": "a", "Value": "2"}])
    assert tags_of(ec2, key_id)["a"] == "2"
    # A value that differs deletes nothing; "" deletes only an empty value; no value deletes.
    ec2.delete_tags(Resources=[key_id], Tags=[{"Key": "a", "Value": "1"}])
    ec2.delete_tags(Resources=[key_id], Tags=[{"Key": "a", "Value": ""}])
    assert "a" in tags_of(ec2, key_id)
    ec2.delete_tags(Resources=[key_id], Tags=[{"Key": "b", "Value": ""}])
    assert "b" not in tags_of(ec2, key_id)
    ec2.delete_tags(Resources=[key_id], Tags=[{"Key": "a"}])
    assert tags_of(ec2, key_id) == {"c": ""}
    # No tags named: all of them go.
    ec2.create_tags(Resources=[key_id], Tags=[{"Key": "d", "Value": "x"}])
    ec2.delete_tags(Resources=[key_id])
    assert tags_of(ec2, key_id) == {}


def test_limits_and_reserved_keys(ec2: Any, key_id: str) -> None:
    ec2.create_tags(Resources=[key_id], Tags=[{"Key": f"k{i}", "Value": "v"} for i in range(50)])
    with pytest.raises(ClientError) as err:
        ec2.create_tags(Resources=[key_id], Tags=[{"Key": "one-too-many", "Value": "v"}])
    assert code(err) == "TagLimitExceeded"
    # Overwriting existing keys stays within the limit.
    ec2.create_tags(Resources=[key_id], Tags=[{"Key": "k0", "Value": "new"}])
    ec2.delete_tags(Resources=[key_id])
    bad_tags = [
        {"Key": "aws:reserved", "Value": "v"},
        {"Key": "AWS:Reserved", "Value": "v"},
        {"Key": "k" * 129, "Value": "v"},
        {"Key": "k", "Value": "v" * 257},
        {"Key": "", "Value": "v"},
    ]
    for tag in bad_tags:
        with pytest.raises(ClientError) as err:
            ec2.create_tags(Resources=[key_id], Tags=[tag])
        assert code(err) == "InvalidParameterValue", tag
    ec2.create_tags(Resources=[key_id], Tags=[{"Key": "k" * 128, "Value": "v" * 256}])
    with pytest.raises(ClientError) as err:
        ec2.delete_tags(Resources=[key_id], Tags=[{"Key": "aws:cloudformation:stack-id"}])
    assert code(err) == "InvalidParameterValue"
    assert tags_of(ec2, key_id) == {"k" * 128: "v" * 256}


def test_resource_ids_are_checked(ec2: Any) -> None:
    tag = [{"Key": "a", "Value": "b"}]
    for rid, expected in (
        ("nonsense", "InvalidID"),
        ("xyz-0123456789abcdef0", "InvalidID"),
        ("i-zzz", "InvalidInstanceID.Malformed"),
        ("emi-xyz", "InvalidAMIID.Malformed"),
        ("i-0123456789abcdef0", "InvalidInstanceID.NotFound"),
        ("emi-01234567", "InvalidAMIID.NotFound"),
        ("key-0123456789abcdef0", "InvalidKeyPair.NotFound"),
    ):
        with pytest.raises(ClientError) as err:
            ec2.create_tags(Resources=[rid], Tags=tag)
        assert code(err) == expected, rid
    with pytest.raises(ClientError) as err:
        ec2.delete_tags(Resources=["i-0123456789abcdef0"])
    assert code(err) == "InvalidInstanceID.NotFound"


def test_instances_and_images(ec2: Any) -> None:
    emi = default_image(ec2)
    run = ec2.run_instances(
        ImageId=emi,
        MinCount=2,
        MaxCount=2,
        TagSpecifications=[{"ResourceType": "instance", "Tags": [{"Key": "role", "Value": "web"}]}],
    )
    ids = [i["InstanceId"] for i in run["Instances"]]
    try:
        ec2.create_tags(Resources=[*ids, emi], Tags=[{"Key": "batch", "Value": "t1"}])
        rows = ec2.describe_tags(Filters=[{"Name": "tag:batch", "Values": ["t1"]}])["Tags"]
        assert {(t["ResourceId"], t["ResourceType"]) for t in rows} == {
            *((i, "instance") for i in ids),
            (emi, "image"),
        }
        by_type = ec2.describe_tags(
            Filters=[
                {"Name": "resource-type", "Values": ["instance"]},
                {"Name": "key", "Values": ["ro?e"]},
                {"Name": "resource-id", "Values": ids},
            ]
        )["Tags"]
        assert sorted((t["ResourceId"], t["Value"]) for t in by_type) == sorted(
            (i, "web") for i in ids
        )
        found = ec2.describe_images(Filters=[{"Name": "tag:batch", "Values": ["t?"]}])
        assert [i["ImageId"] for i in found["Images"]] == [emi]
        assert found["Images"][0]["Tags"] == [{"Key": "batch", "Value": "t1"}]
    finally:
        ec2.delete_tags(Resources=[emi], Tags=[{"Key": "batch"}])
        ec2.terminate_instances(InstanceIds=ids)


def test_describe_tags_pages(ec2: Any, key_id: str) -> None:
    marker = uuid.uuid4().hex[:8]
    ec2.create_tags(
        Resources=[key_id], Tags=[{"Key": f"p{i:02d}", "Value": marker} for i in range(12)]
    )
    flt = [{"Name": "value", "Values": [marker]}]
    first = ec2.describe_tags(Filters=flt, MaxResults=5)
    assert len(first["Tags"]) == 5 and first["NextToken"]
    pages = ec2.get_paginator("describe_tags").paginate(
        Filters=flt, PaginationConfig={"PageSize": 5}
    )
    keys = [t["Key"] for p in pages for t in p["Tags"]]
    assert keys == [f"p{i:02d}" for i in range(12)]
    for bad in ({"MaxResults": 4}, {"MaxResults": 5, "NextToken": "not-a-token!"}):
        with pytest.raises(ClientError) as err:
            ec2.describe_tags(Filters=flt, **bad)
        assert code(err) == "InvalidParameterValue"
    with pytest.raises(ClientError) as err:
        ec2.describe_tags(Filters=[{"Name": "colour", "Values": ["x"]}])
    assert code(err) == "InvalidParameterValue"


def test_tags_belong_to_the_owner(cloud: Cloud, ec2: Any, key_id: str, tmp_path: Path) -> None:
    ec2.create_tags(Resources=[key_id], Tags=[{"Key": "secret", "Value": "s"}])
    _, access, secret = new_account(cloud, tmp_path)
    other = cloud.client("ec2", access, secret)
    assert other.describe_tags()["Tags"] == []
    with pytest.raises(ClientError) as err:
        other.create_tags(Resources=[key_id], Tags=[{"Key": "x", "Value": "y"}])
    assert code(err) == "InvalidKeyPair.NotFound"
    # A public image is visible, but tagging it is the owner's business.
    with pytest.raises(ClientError) as err:
        other.create_tags(Resources=[default_image(ec2)], Tags=[{"Key": "x", "Value": "y"}])
    assert code(err) == "AuthFailure"
    with pytest.raises(ClientError) as err:
        other.delete_tags(Resources=[key_id])
    assert code(err) == "InvalidKeyPair.NotFound"
    assert tags_of(ec2, key_id) == {"secret": "s"}


def test_aws_cli(cloud: Cloud, key_id: str) -> None:
    cloud.aws_cli(
        "ec2", "create-tags", "--resources", key_id, "--tags", "Key=Name,Value=cli key", check=True
    )
    out = cloud.aws_cli(
        "ec2",
        "describe-tags",
        "--filters",
        f"Name=resource-id,Values={key_id}",
        "Name=key,Values=Name",
        check=True,
    )
    assert json.loads(out.stdout)["Tags"] == [
        {"Key": "Name", "ResourceId": key_id, "ResourceType": "key-pair", "Value": "cli key"}
    ]
    cloud.aws_cli("ec2", "delete-tags", "--resources", key_id, "--tags", "Key=Name", check=True)
    bad = cloud.aws_cli("ec2", "create-tags", "--resources", "bogus", "--tags", "Key=a,Value=b")
    assert bad.returncode != 0 and "InvalidID" in bad.stderr
