"""IAM managed policies end to end: the AWS managed ones attached by ARN with the AWS CLI,
customer managed ones and their versions with boto3, permissions boundaries, and the calls
Ansible's iam_user / iam_role / iam_managed_policy make to create and delete."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.e2e.test_iam_accounts import new_account, unique

pytestmark = pytest.mark.e2e

S3_READ = "arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess"
IAM_READ = "arn:aws:iam::aws:policy/IAMReadOnlyAccess"


def code(exc: pytest.ExceptionInfo[ClientError]) -> tuple[str, int]:
    error = exc.value.response
    return error["Error"]["Code"], error["ResponseMetadata"]["HTTPStatusCode"]


def allow(*actions: str) -> str:
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": list(actions), "Resource": "*"}],
        }
    )


def trust(*principals: str) -> str:
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"AWS": list(principals), "Service": "ec2.amazonaws.com"},
                    "Action": "sts:AssumeRole",
                }
            ],
        }
    )


class Account:
    """A new account of the cloud's, its root's clients and a user `dev` who may assume roles."""

    def __init__(self, cloud: Any, tmp: Path) -> None:
        self.cloud = cloud
        self.id, self.key, self.secret = new_account(cloud, tmp)
        self.iam = self.client("iam")
        self.iam.create_user(UserName="dev")
        self.iam.put_user_policy(
            UserName="dev", PolicyName="assume", PolicyDocument=allow("sts:AssumeRole")
        )
        made = self.iam.create_access_key(UserName="dev")["AccessKey"]
        self.dev = {"access_key": made["AccessKeyId"], "secret_key": made["SecretAccessKey"]}

    def client(self, service: str, **keys: str) -> Any:
        keys = keys or {"access_key": self.key, "secret_key": self.secret}
        return self.cloud.client(service, **keys)

    def cli(self, *args: str) -> Any:
        done = self.cloud.aws_cli(
            *args, "--output", "json", access_key=self.key, secret_key=self.secret
        )
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout) if done.stdout.strip() else None

    def assume(self, role_arn: str, session: str) -> dict[str, str]:
        sts = self.cloud.client("sts", **self.dev)
        creds = sts.assume_role(RoleArn=role_arn, RoleSessionName=session)["Credentials"]
        return {
            "access_key": creds["AccessKeyId"],
            "secret_key": creds["SecretAccessKey"],
            "session_token": creds["SessionToken"],
        }


def test_attach_role_policy_by_arn_gives_exactly_s3_read(cloud: Any, tmp_path: Path) -> None:
    """The issue's check: `aws iam attach-role-policy --policy-arn
    arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess` gives the role (and the instance profile
    that carries it) the permissions that policy grants, and no others."""
    a = Account(cloud, tmp_path)
    s3 = a.client("s3")
    bucket = unique("mp")
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="hello.txt", Body=b"hello")
    role = a.iam.create_role(
        RoleName="reader", AssumeRolePolicyDocument=trust(f"arn:aws:iam::{a.id}:user/dev")
    )["Role"]
    a.iam.create_instance_profile(InstanceProfileName="reader")
    a.iam.add_role_to_instance_profile(InstanceProfileName="reader", RoleName="reader")

    assert (
        a.cli("iam", "attach-role-policy", "--role-name", "reader", "--policy-arn", S3_READ) is None
    )
    listed = a.cli("iam", "list-attached-role-policies", "--role-name", "reader")
    assert listed["AttachedPolicies"] == [
        {"PolicyName": "AmazonS3ReadOnlyAccess", "PolicyArn": S3_READ}
    ]
    profile = a.iam.get_instance_profile(InstanceProfileName="reader")["InstanceProfile"]
    assert [r["RoleName"] for r in profile["Roles"]] == ["reader"]

    temp = a.assume(role["Arn"], "read-1")
    s3_as_role = a.client("s3", **temp)
    listing = s3_as_role.list_objects_v2(Bucket=bucket)
    assert [o["Key"] for o in listing["Contents"]] == ["hello.txt"]
    assert s3_as_role.get_object(Bucket=bucket, Key="hello.txt")["Body"].read() == b"hello"
    assert bucket in [b["Name"] for b in s3_as_role.list_buckets()["Buckets"]]
    with pytest.raises(ClientError) as exc:
        s3_as_role.put_object(Bucket=bucket, Key="new.txt", Body=b"x")
    assert code(exc) == ("AccessDenied", 403)
    with pytest.raises(ClientError) as exc:
        s3_as_role.delete_object(Bucket=bucket, Key="hello.txt")
    assert code(exc) == ("AccessDenied", 403)
    with pytest.raises(ClientError) as exc:
        a.client("ec2", **temp).run_instances(ImageId="emi-00000000", MinCount=1, MaxCount=1)
    assert code(exc) == ("UnauthorizedOperation", 403)
    with pytest.raises(ClientError) as exc:
        a.client("iam", **temp).list_users()
    assert code(exc) == ("AccessDenied", 403)
    assert s3.get_object(Bucket=bucket, Key="hello.txt")["Body"].read() == b"hello"

    a.cli("iam", "detach-role-policy", "--role-name", "reader", "--policy-arn", S3_READ)
    with pytest.raises(ClientError) as exc:
        a.client("s3", **a.assume(role["Arn"], "read-2")).list_objects_v2(Bucket=bucket)
    assert code(exc) == ("AccessDenied", 403)


def test_customer_managed_policy_versions_with_boto3(cloud: Any, tmp_path: Path) -> None:
    a = Account(cloud, tmp_path)
    made = a.iam.create_policy(
        PolicyName="listers", PolicyDocument=allow("iam:ListUsers"), Description="lists users"
    )["Policy"]
    arn = made["Arn"]
    assert arn == f"arn:aws:iam::{a.id}:policy/listers" and made["PolicyId"].startswith("ANPA")
    dev = a.client("iam", **a.dev)
    with pytest.raises(ClientError) as exc:
        dev.list_users()
    assert code(exc) == ("AccessDenied", 403)
    a.iam.attach_user_policy(UserName="dev", PolicyArn=arn)
    assert [u["UserName"] for u in dev.list_users()["Users"]] == ["admin", "dev"]

    v2 = a.iam.create_policy_version(
        PolicyArn=arn, PolicyDocument=allow("iam:ListGroups"), SetAsDefault=True
    )["PolicyVersion"]
    assert (v2["VersionId"], v2["IsDefaultVersion"]) == ("v2", True)
    got = a.iam.get_policy_version(PolicyArn=arn, VersionId="v2")["PolicyVersion"]
    assert got["Document"] == json.loads(allow("iam:ListGroups"))
    assert dev.list_groups()["Groups"] == []
    with pytest.raises(ClientError) as exc:
        dev.list_users()
    assert code(exc) == ("AccessDenied", 403)
    for n in range(3, 6):
        a.iam.create_policy_version(PolicyArn=arn, PolicyDocument=allow(f"iam:Get{n}"))
    with pytest.raises(ClientError) as exc:
        a.iam.create_policy_version(PolicyArn=arn, PolicyDocument=allow("iam:GetX"))
    assert code(exc) == ("LimitExceeded", 409)
    with pytest.raises(ClientError) as exc:
        a.iam.create_policy(PolicyName="bad", PolicyDocument='{"Statement": "nope"}')
    assert code(exc) == ("MalformedPolicyDocument", 400)
    with pytest.raises(ClientError) as exc:
        a.iam.get_policy(PolicyArn=f"arn:aws:iam::{a.id}:policy/none")
    assert code(exc) == ("NoSuchEntity", 404)

    # What Ansible's iam_managed_policy does to delete one (DeletePolicy refuses before).
    with pytest.raises(ClientError) as exc:
        a.iam.delete_policy(PolicyArn=arn)
    assert code(exc) == ("DeleteConflict", 409)
    entities = a.iam.list_entities_for_policy(PolicyArn=arn)
    for user in entities["PolicyUsers"]:
        a.iam.detach_user_policy(UserName=user["UserName"], PolicyArn=arn)
    for version in a.iam.list_policy_versions(PolicyArn=arn)["Versions"]:
        if not version["IsDefaultVersion"]:
            a.iam.delete_policy_version(PolicyArn=arn, VersionId=version["VersionId"])
    a.iam.delete_policy(PolicyArn=arn)
    assert all(p["Arn"] != arn for p in a.iam.list_policies(Scope="Local")["Policies"])


def test_documents_are_url_encoded_on_the_wire(cloud: Any, tmp_path: Path) -> None:
    a = Account(cloud, tmp_path)
    bodies: list[bytes] = []
    iam = a.client("iam")
    iam.meta.events.register(
        "after-call.iam.GetPolicyVersion",
        lambda http_response, **_: bodies.append(http_response.content),
    )
    got = iam.get_policy_version(PolicyArn=S3_READ, VersionId="v3")["PolicyVersion"]
    assert got["Document"]["Statement"][0]["Action"][:2] == ["s3:Get*", "s3:List*"]
    assert b"<Document>%7B%0A%20%20%22Version%22" in bodies[0]
    listed = a.cli("iam", "list-policies", "--scope", "AWS", "--max-items", "3")
    assert len(listed["Policies"]) == 3 and "NextToken" in listed


def test_permissions_boundary_caps_a_user(cloud: Any, tmp_path: Path) -> None:
    a = Account(cloud, tmp_path)
    made = a.cli(
        "iam",
        "create-user",
        "--user-name",
        "bounded",
        "--permissions-boundary",
        IAM_READ,
    )
    assert made["User"]["PermissionsBoundary"] == {
        "PermissionsBoundaryType": "PermissionsBoundaryPolicy",
        "PermissionsBoundaryArn": IAM_READ,
    }
    a.iam.put_user_policy(UserName="bounded", PolicyName="all", PolicyDocument=allow("iam:*"))
    key = a.iam.create_access_key(UserName="bounded")["AccessKey"]
    bounded = a.client("iam", access_key=key["AccessKeyId"], secret_key=key["SecretAccessKey"])
    assert bounded.get_user(UserName="dev")["User"]["UserName"] == "dev"
    with pytest.raises(ClientError) as exc:
        bounded.create_user(UserName="escape")
    assert code(exc) == ("AccessDenied", 403)
    policy = a.iam.get_policy(PolicyArn=IAM_READ)["Policy"]
    assert policy["PermissionsBoundaryUsageCount"] == 1
    a.iam.delete_user_permissions_boundary(UserName="bounded")
    assert "PermissionsBoundary" not in a.iam.get_user(UserName="bounded")["User"]
    bounded.create_user(UserName="escape")


def test_ansible_style_create_and_delete_leave_nothing_behind(cloud: Any, tmp_path: Path) -> None:
    """iam_user / iam_role: create with managed policies, then delete after listing every kind
    of credential and policy the entity may hold."""
    a = Account(cloud, tmp_path)
    a.iam.create_user(UserName="svc")
    a.iam.attach_user_policy(UserName="svc", PolicyArn=IAM_READ)
    a.iam.create_role(RoleName="app", AssumeRolePolicyDocument=trust(f"arn:aws:iam::{a.id}:root"))
    a.iam.attach_role_policy(RoleName="app", PolicyArn=S3_READ)
    a.iam.put_role_permissions_boundary(RoleName="app", PermissionsBoundary=S3_READ)
    assert (
        a.iam.get_role(RoleName="app")["Role"]["PermissionsBoundary"]["PermissionsBoundaryArn"]
        == S3_READ
    )
    with pytest.raises(ClientError) as exc:
        a.iam.delete_user(UserName="svc")
    assert code(exc) == ("DeleteConflict", 409)

    assert a.iam.list_access_keys(UserName="svc")["AccessKeyMetadata"] == []
    assert a.iam.list_ssh_public_keys(UserName="svc")["SSHPublicKeys"] == []
    creds = a.iam.list_service_specific_credentials(UserName="svc")
    assert creds["ServiceSpecificCredentials"] == []
    assert a.iam.list_signing_certificates(UserName="svc")["Certificates"] == []
    assert a.iam.list_mfa_devices(UserName="svc")["MFADevices"] == []
    assert a.iam.list_user_policies(UserName="svc")["PolicyNames"] == []
    assert a.iam.list_groups_for_user(UserName="svc")["Groups"] == []
    for policy in a.iam.list_attached_user_policies(UserName="svc")["AttachedPolicies"]:
        a.iam.detach_user_policy(UserName="svc", PolicyArn=policy["PolicyArn"])
    a.iam.delete_user(UserName="svc")

    for policy in a.iam.list_attached_role_policies(RoleName="app")["AttachedPolicies"]:
        a.iam.detach_role_policy(RoleName="app", PolicyArn=policy["PolicyArn"])
    a.iam.delete_role(RoleName="app")
    with pytest.raises(ClientError) as exc:
        a.iam.get_user(UserName="svc")
    assert code(exc) == ("NoSuchEntity", 404)
    with pytest.raises(ClientError) as exc:
        a.iam.get_role(RoleName="app")
    assert code(exc) == ("NoSuchEntity", 404)
    assert a.iam.get_policy(PolicyArn=S3_READ)["Policy"]["AttachmentCount"] == 0
