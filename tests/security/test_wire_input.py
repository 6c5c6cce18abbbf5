"""Input an attacker's probe sent, answered as AWS answers it, against a live cloud with boto3.

Control characters that would break every client's XML, policy denials and clock skew worded
per service, NaN in policies, pagination tokens the cloud never issued, non-ASCII IAM names.
"""

from __future__ import annotations

import json
import os
import sqlite3
import urllib.request
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any
from xml.etree import ElementTree

import botocore.auth
import pytest
from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

from mallee.api.models.client import mallee_client
from tests.e2e.conftest import REGION, Cloud
from tests.e2e.s3util import new_bucket

pytestmark = pytest.mark.e2e

# One of each: what XML 1.0 leaves out (C0 controls, NUL, ESC), as they reached the probe.
CONTROL = ["\x01", "\x00", "\x1b[31m", "\x08", "\x1f"]


def _unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def _error(err: pytest.ExceptionInfo[ClientError]) -> tuple[str, int, str]:
    response = err.value.response
    return (
        str(response["Error"]["Code"]),
        int(response["ResponseMetadata"]["HTTPStatusCode"]),
        str(response["Error"].get("Message", "")),
    )


@pytest.fixture(scope="module")
def ec2(cloud: Cloud) -> Any:
    return cloud.client("ec2")


@pytest.fixture(scope="module")
def iam(cloud: Cloud) -> Any:
    return cloud.client("iam")


@pytest.fixture(scope="module")
def s3(cloud: Cloud) -> Any:
    return cloud.client("s3")


@pytest.fixture(scope="module")
def group_id(ec2: Any) -> str:
    found: str = ec2.create_security_group(GroupName=_unique("grp"), Description="probe target")[
        "GroupId"
    ]
    return found


# 7. Control characters --------------------------------------------------------------------


@pytest.mark.parametrize("bad", CONTROL)
def test_ec2_refuses_control_characters_and_still_lists(ec2: Any, group_id: str, bad: str) -> None:
    with pytest.raises(ClientError) as err:
        ec2.create_tags(Resources=[group_id], Tags=[{"Key": "Name", "Value": f"x{bad}y"}])
    code, status, message = _error(err)
    assert (code, status) == ("InvalidParameterValue", 400)
    assert "Tag.1.Value" in message
    with pytest.raises(ClientError) as err:
        ec2.create_tags(Resources=[group_id], Tags=[{"Key": f"k{bad}", "Value": "v"}])
    assert _error(err)[:2] == ("InvalidParameterValue", 400)
    with pytest.raises(ClientError) as err:
        ec2.create_security_group(GroupName=_unique("grp"), Description=f"d{bad}")
    assert _error(err)[:2] == ("InvalidParameterValue", 400)
    # Nothing was stored, and every listing still parses.
    tags = ec2.describe_tags(Filters=[{"Name": "resource-id", "Values": [group_id]}])["Tags"]
    assert all(bad not in t["Key"] + t["Value"] for t in tags)
    groups = ec2.describe_security_groups(GroupIds=[group_id])["SecurityGroups"]
    assert groups[0]["GroupId"] == group_id


def test_query_services_refuse_control_characters(cloud: Cloud, iam: Any) -> None:
    with pytest.raises(ClientError) as err:
        iam.create_user(UserName=_unique("u"), Tags=[{"Key": "k", "Value": "v\x01"}])
    assert _error(err)[:2] == ("ValidationError", 400)
    empyrean = mallee_client(
        "empyrean",
        cloud.endpoint + "/services/Empyrean",
        region_name=REGION,
        aws_access_key_id=cloud.admin.access_key,
        aws_secret_access_key=cloud.admin.secret_key,
    )
    with pytest.raises(ClientError) as err:
        empyrean.modify_property_value(Name="cloud.network.network_configuration", Value="\x00")
    code, status, message = _error(err)
    assert (code, status) == ("ValidationError", 400)
    assert "\\u0000" in message and "\x00" not in message
    sts = cloud.client("sts")
    with pytest.raises(ClientError) as err:
        sts.assume_role(RoleArn="arn:aws:iam::123456789012:role/r", RoleSessionName="s\x1b")
    assert _error(err)[:2] == ("ValidationError", 400)


def test_s3_tag_values_with_control_characters_are_invalid_tags(s3: Any) -> None:
    bucket = new_bucket(s3)
    # \x1c is "white space" to Python's str.isspace, and nothing XML 1.0 can carry.
    with pytest.raises(ClientError) as err:
        s3.put_object(Bucket=bucket, Key="k", Body=b"x", Tagging="k=a%1Cb")
    assert _error(err)[:2] == ("InvalidTag", 400)
    s3.put_object(Bucket=bucket, Key="k", Body=b"x", Tagging="k=a%20b")
    assert s3.get_object_tagging(Bucket=bucket, Key="k")["TagSet"] == [{"Key": "k", "Value": "a b"}]


def _signed_s3_get(cloud: Cloud, path: str) -> bytes:
    request = AWSRequest(method="GET", url=cloud.endpoint + path)
    credentials = Credentials(cloud.admin.access_key, cloud.admin.secret_key)
    S3SigV4Auth(credentials, "s3", REGION).add_auth(request)
    prepared = request.prepare()
    raw = urllib.request.Request(prepared.url, headers=dict(prepared.headers.items()))
    with urllib.request.urlopen(raw, timeout=30) as answer:
        body: bytes = answer.read()
        return body


def test_s3_keys_holding_control_characters_list_as_parseable_xml(cloud: Cloud, s3: Any) -> None:
    """S3 keys may hold any character (as in S3); a listing without EncodingType=url still
    parses: the writer never emits what XML 1.0 cannot carry."""
    bucket = new_bucket(s3)
    s3.put_object(Bucket=bucket, Key="ctl\x01key", Body=b"x")
    # boto3 asks for EncodingType=url and gets the key back exactly.
    listed = s3.list_objects_v2(Bucket=bucket)["Contents"]
    assert [o["Key"] for o in listed] == ["ctl\x01key"]
    body = _signed_s3_get(cloud, f"/{bucket}?list-type=2")
    keys = [e.text for e in ElementTree.fromstring(body).iter() if e.tag.endswith("}Key")]
    assert keys == ["ctl\ufffdkey"]


def _database(cloud: Cloud) -> str | None:
    if cloud.data_dir is None or os.environ.get("MALLEE_TEST_DB", "sqlite") != "sqlite":
        return None
    path = cloud.data_dir / "mallee.db"
    return str(path) if path.exists() else None


def test_values_stored_before_the_fix_still_parse(cloud: Cloud, ec2: Any, group_id: str) -> None:
    database = _database(cloud)
    if database is None:
        pytest.skip("writes the cloud's SQLite database directly")
    ec2.create_tags(Resources=[group_id], Tags=[{"Key": "legacy", "Value": "before"}])
    with sqlite3.connect(database, timeout=30) as db:
        db.execute(
            "UPDATE ec2_tags SET value = ? WHERE resource_id = ? AND key = 'legacy'",
            ("a\x01b\x00c", group_id),
        )
    tags = ec2.describe_tags(Filters=[{"Name": "resource-id", "Values": [group_id]}])["Tags"]
    assert {t["Key"]: t["Value"] for t in tags}["legacy"] == "a\ufffdb\ufffdc"
    groups = ec2.describe_security_groups(GroupIds=[group_id])["SecurityGroups"]
    assert {t["Key"]: t["Value"] for t in groups[0]["Tags"]}["legacy"] == "a\ufffdb\ufffdc"


# 14. Smaller deviations from AWS ----------------------------------------------------------


@pytest.fixture(scope="module")
def no_policy_keys(iam: Any) -> tuple[str, str]:
    name = _unique("nopolicy")
    iam.create_user(UserName=name)
    key = iam.create_access_key(UserName=name)["AccessKey"]
    return str(key["AccessKeyId"]), str(key["SecretAccessKey"])


def test_ec2_policy_denial_is_unauthorized_operation(
    cloud: Cloud, no_policy_keys: tuple[str, str]
) -> None:
    ec2 = cloud.client("ec2", *no_policy_keys)
    calls: list[tuple[str, dict[str, Any]]] = [
        ("describe_instances", {}),
        ("describe_security_groups", {"DryRun": True}),
        ("create_key_pair", {"KeyName": _unique("kp")}),
    ]
    for operation, params in calls:
        with pytest.raises(ClientError) as err:
            getattr(ec2, operation)(**params)
        code, status, message = _error(err)
        assert (code, status) == ("UnauthorizedOperation", 403)
        assert message.startswith("You are not authorized to perform this operation.")
    # IAM keeps its own word for the same denial.
    with pytest.raises(ClientError) as err:
        cloud.client("iam", *no_policy_keys).list_users()
    assert _error(err)[:2] == ("AccessDenied", 403)


@pytest.fixture
def clock_behind(monkeypatch: pytest.MonkeyPatch) -> None:
    """Clients sign as if their clock were 20 minutes behind the cloud's."""
    real: Callable[[], datetime] = botocore.auth.get_current_datetime

    def behind() -> datetime:
        return real() - timedelta(minutes=20)

    monkeypatch.setattr(botocore.auth, "get_current_datetime", behind)


@pytest.mark.usefixtures("clock_behind")
def test_clock_skew_answers_are_each_services_own(cloud: Cloud) -> None:
    for service, operation, expected in (
        ("iam", "list_users", ("SignatureDoesNotMatch", 403)),
        ("sts", "get_caller_identity", ("SignatureDoesNotMatch", 403)),
        ("ec2", "describe_regions", ("RequestExpired", 400)),
        ("s3", "list_buckets", ("RequestTimeTooSkewed", 403)),
    ):
        with pytest.raises(ClientError) as err:
            getattr(cloud.client(service), operation)()
        code, status, message = _error(err)
        assert (code, status) == expected, service
        if service in ("iam", "sts"):
            assert message.startswith("Signature expired: ") and "15 min." in message


def _nan_policy(principal: bool, number: str) -> str:
    who = '"Principal": "*", ' if principal else ""
    return (
        '{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", ' + who + '"Action": '
        '"s3:ListBucket", "Resource": "RESOURCE", "Condition": {"NumericLessThan": '
        '{"s3:max-keys": ' + number + "}}}]}"
    )


@pytest.mark.parametrize("number", ["NaN", "Infinity", "-Infinity", "1e400"])
def test_policies_holding_nan_are_malformed(cloud: Cloud, iam: Any, s3: Any, number: str) -> None:
    user = _unique("pol")
    iam.create_user(UserName=user)
    identity = _nan_policy(False, number).replace("RESOURCE", "*")
    with pytest.raises(ClientError) as err:
        iam.put_user_policy(UserName=user, PolicyName="p", PolicyDocument=identity)
    assert _error(err)[:2] == ("MalformedPolicyDocument", 400)
    assert iam.list_user_policies(UserName=user)["PolicyNames"] == []
    bucket = new_bucket(s3)
    resource = _nan_policy(True, number).replace("RESOURCE", f"arn:aws:s3:::{bucket}")
    with pytest.raises(ClientError) as err:
        s3.put_bucket_policy(Bucket=bucket, Policy=resource)
    assert _error(err)[:2] == ("MalformedPolicy", 400)
    with pytest.raises(ClientError) as err:
        s3.get_bucket_policy(Bucket=bucket)
    assert _error(err)[:2] == ("NoSuchBucketPolicy", 404)
    # The same documents with a finite number are accepted and read back as JSON.
    iam.put_user_policy(
        UserName=user, PolicyName="p", PolicyDocument=identity.replace(number, "10")
    )
    s3.put_bucket_policy(Bucket=bucket, Policy=resource.replace(number, "10"))
    assert json.loads(s3.get_bucket_policy(Bucket=bucket)["Policy"])["Statement"]


# Valid base64, every one, but no token the cloud issued: "key", "k004", NUL bytes, and junk.
GARBAGE_TOKENS = ["a2V5", "azAwNA==", "AAAA", "not-a-token!", "%%%"]


@pytest.mark.parametrize("token", GARBAGE_TOKENS)
def test_garbage_pagination_tokens_are_refused(ec2: Any, iam: Any, s3: Any, token: str) -> None:
    with pytest.raises(ClientError) as err:
        ec2.describe_instance_types(MaxResults=5, NextToken=token)
    code, status, message = _error(err)
    assert (code, status) == ("InvalidParameterValue", 400)
    assert "NextToken" in message
    with pytest.raises(ClientError) as err:
        ec2.describe_tags(MaxResults=5, NextToken=token)
    assert _error(err)[:2] == ("InvalidParameterValue", 400)
    with pytest.raises(ClientError) as err:
        iam.list_users(Marker=token)
    assert _error(err) == ("ValidationError", 400, "Invalid Marker.")
    with pytest.raises(ClientError) as err:
        iam.list_groups(Marker=token)
    assert _error(err)[:2] == ("ValidationError", 400)
    bucket = new_bucket(s3)
    with pytest.raises(ClientError) as err:
        s3.list_objects_v2(Bucket=bucket, ContinuationToken=token)
    assert _error(err) == ("InvalidArgument", 400, "The continuation token provided is incorrect")


def test_issued_pagination_tokens_still_work(ec2: Any, iam: Any, s3: Any) -> None:
    first = ec2.describe_instance_types(MaxResults=5)
    second = ec2.describe_instance_types(MaxResults=5, NextToken=first["NextToken"])
    names = [t["InstanceType"] for t in first["InstanceTypes"] + second["InstanceTypes"]]
    assert len(set(names)) == 10
    for _ in range(2):
        iam.create_user(UserName=_unique("page"))
    users = iam.list_users(MaxItems=1)
    assert users["IsTruncated"]
    assert iam.list_users(MaxItems=1, Marker=users["Marker"])["Users"]
    bucket = new_bucket(s3)
    for key in ("a", "b"):
        s3.put_object(Bucket=bucket, Key=key, Body=b"x")
    page = s3.list_objects_v2(Bucket=bucket, MaxKeys=1)
    rest = s3.list_objects_v2(Bucket=bucket, ContinuationToken=page["NextContinuationToken"])
    assert [o["Key"] for o in rest["Contents"]] == ["b"]


@pytest.mark.parametrize(
    ("call", "params"),
    [
        ("create_user", {"UserName": "jösé"}),
        ("create_user", {"UserName": "bob٣"}),
        ("create_user", {"UserName": "ok", "Path": "/dév/"}),
        ("create_group", {"GroupName": "grüppe"}),
        ("create_role", {"RoleName": "rôle", "AssumeRolePolicyDocument": "{}"}),
        ("create_instance_profile", {"InstanceProfileName": "prof_é"}),
        ("update_user", {"UserName": "admin", "NewUserName": "ädmin"}),
        (
            "put_user_policy",
            {"UserName": "admin", "PolicyName": "pé", "PolicyDocument": "{}"},
        ),
    ],
)
def test_non_ascii_iam_names_are_refused(iam: Any, call: str, params: dict[str, str]) -> None:
    with pytest.raises(ClientError) as err:
        getattr(iam, call)(**params)
    code, status, message = _error(err)
    assert (code, status) == ("ValidationError", 400)
    assert "failed to satisfy constraint: Member must satisfy regular expression pattern" in (
        message
    )
