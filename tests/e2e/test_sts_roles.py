"""STS end to end: roles with trust policies, AssumeRole, temporary credentials."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.e2e.test_iam_accounts import new_account

pytestmark = pytest.mark.e2e


def test_assume_role_and_use_temporary_credentials(cloud: Any, tmp_path: Path) -> None:
    acct, ak, sk = new_account(cloud, tmp_path)
    iam = cloud.client("iam", access_key=ak, secret_key=sk)
    iam.create_user(UserName="dev")
    key = iam.create_access_key(UserName="dev")["AccessKey"]
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{acct}:user/dev"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
    role = iam.create_role(
        RoleName="ops", AssumeRolePolicyDocument=json.dumps(trust), MaxSessionDuration=7200
    )["Role"]
    assert role["AssumeRolePolicyDocument"] == trust
    iam.put_role_policy(
        RoleName="ops",
        PolicyName="read",
        PolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Action": "iam:Get*", "Resource": "*"}],
            }
        ),
    )

    sts = cloud.client("sts", access_key=key["AccessKeyId"], secret_key=key["SecretAccessKey"])
    res = sts.assume_role(RoleArn=role["Arn"], RoleSessionName="night-shift", DurationSeconds=3600)
    creds = res["Credentials"]
    assert creds["AccessKeyId"].startswith("ASIA")
    assert res["AssumedRoleUser"]["Arn"] == f"arn:aws:sts::{acct}:assumed-role/ops/night-shift"
    assert res["AssumedRoleUser"]["AssumedRoleId"] == f"{role['RoleId']}:night-shift"

    temp = dict(
        access_key=creds["AccessKeyId"],
        secret_key=creds["SecretAccessKey"],
        session_token=creds["SessionToken"],
    )
    ident = cloud.client("sts", **temp).get_caller_identity()
    assert ident["Arn"] == f"arn:aws:sts::{acct}:assumed-role/ops/night-shift"
    assert ident["Account"] == acct
    assert cloud.client("iam", **temp).get_role(RoleName="ops")["Role"]["RoleName"] == "ops"
    with pytest.raises(ClientError) as exc:
        cloud.client("iam", **temp).list_users()
    assert exc.value.response["Error"]["Code"] == "AccessDenied"

    with pytest.raises(ClientError) as exc:
        sts.assume_role(RoleArn=role["Arn"], RoleSessionName="too-long", DurationSeconds=10000)
    assert exc.value.response["Error"]["Code"] == "ValidationError"

    done = cloud.aws_cli(
        "sts",
        "get-caller-identity",
        "--output",
        "json",
        access_key=creds["AccessKeyId"],
        secret_key=creds["SecretAccessKey"],
        session_token=creds["SessionToken"],
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["Arn"].endswith("assumed-role/ops/night-shift")


def test_untrusted_caller_is_denied(cloud: Any, tmp_path: Path) -> None:
    acct, ak, sk = new_account(cloud, tmp_path)
    _, ak2, sk2 = new_account(cloud, tmp_path)
    iam = cloud.client("iam", access_key=ak, secret_key=sk)
    trust = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"AWS": acct}, "Action": "sts:AssumeRole"}],
    }
    role = iam.create_role(RoleName="internal", AssumeRolePolicyDocument=json.dumps(trust))["Role"]
    outsider = cloud.client("sts", access_key=ak2, secret_key=sk2)
    with pytest.raises(ClientError) as exc:
        outsider.assume_role(RoleArn=role["Arn"], RoleSessionName="x1")
    assert exc.value.response["Error"]["Code"] == "AccessDenied"
    # The account's root is trusted through the account principal.
    own = cloud.client("sts", access_key=ak, secret_key=sk)
    assert own.assume_role(RoleArn=role["Arn"], RoleSessionName="x1")["Credentials"]


def test_session_token(cloud: Any, tmp_path: Path) -> None:
    _acct, ak, sk = new_account(cloud, tmp_path)
    iam = cloud.client("iam", access_key=ak, secret_key=sk)
    iam.create_user(UserName="s")
    iam.put_user_policy(
        UserName="s",
        PolicyName="p",
        PolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Action": "iam:GetUser", "Resource": "*"}],
            }
        ),
    )
    key = iam.create_access_key(UserName="s")["AccessKey"]
    sts = cloud.client("sts", access_key=key["AccessKeyId"], secret_key=key["SecretAccessKey"])
    creds = sts.get_session_token(DurationSeconds=900)["Credentials"]
    temp = cloud.client(
        "sts",
        access_key=creds["AccessKeyId"],
        secret_key=creds["SecretAccessKey"],
        session_token=creds["SessionToken"],
    )
    assert temp.get_caller_identity()["Arn"].endswith(":user/s")
    # AWS: without MFA they call no IAM operation, whatever the user's policy allows.
    temp_iam = cloud.client(
        "iam",
        access_key=creds["AccessKeyId"],
        secret_key=creds["SecretAccessKey"],
        session_token=creds["SessionToken"],
    )
    with pytest.raises(ClientError) as denied:
        temp_iam.get_user()
    assert denied.value.response["Error"]["Code"] == "AccessDenied"
    bad = cloud.client(
        "sts",
        access_key=creds["AccessKeyId"],
        secret_key=creds["SecretAccessKey"],
        session_token="wrong",
    )
    with pytest.raises(ClientError) as refused:
        bad.get_caller_identity()
    assert refused.value.response["Error"]["Code"] == "InvalidClientTokenId"
