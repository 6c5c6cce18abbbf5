"""IAM end to end: accounts, users, keys, policies, AccessDenied, the AWS CLI."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from mallee.api.models import model_dict

pytestmark = pytest.mark.e2e


def _euare_model_dir(tmp: Path) -> str:
    """botocore data dir holding IAM's model with mallee's Eucalyptus operations merged in."""
    model = model_dict("iam")
    target = tmp / "iam" / model["metadata"]["apiVersion"]
    target.mkdir(parents=True, exist_ok=True)
    (target / "service-2.json").write_text(json.dumps(model))
    return str(tmp)


def euare(
    cloud: Any, tmp: Path, access_key: str | None = None, secret_key: str | None = None
) -> Any:
    """An IAM client that also knows CreateAccount & co. (as euca2ools does)."""
    session = boto3.session.Session()
    loader = session._session.get_component("data_loader")
    loader.search_paths.insert(0, _euare_model_dir(tmp))
    return session.client(
        "iam",
        endpoint_url=cloud.endpoint,
        region_name="eucalyptus",
        aws_access_key_id=access_key or cloud.admin.access_key,
        aws_secret_access_key=secret_key or cloud.admin.secret_key,
        config=Config(retries={"max_attempts": 1}),
    )


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def new_account(cloud: Any, tmp: Path) -> tuple[str, str, str]:
    admin = euare(cloud, tmp)
    name = unique("acct")
    acct = admin.create_account(AccountName=name)["Account"]
    assert acct["AccountName"] == name and len(acct["AccountId"]) == 12
    key = admin.create_access_key(DelegateAccount=name)["AccessKey"]
    return acct["AccountId"], key["AccessKeyId"], key["SecretAccessKey"]


def test_account_users_keys_policies(cloud: Any, tmp_path: Path) -> None:
    acct, ak, sk = new_account(cloud, tmp_path)
    iam = cloud.client("iam", access_key=ak, secret_key=sk)
    sts = cloud.client("sts", access_key=ak, secret_key=sk)
    assert sts.get_caller_identity()["Arn"] == f"arn:aws:iam::{acct}:root"

    user = iam.create_user(UserName="bob", Path="/dev/")["User"]
    assert user["Arn"] == f"arn:aws:iam::{acct}:user/dev/bob"
    assert user["UserId"].startswith("AIDA")
    with pytest.raises(ClientError) as exc:
        iam.create_user(UserName="bob")
    assert exc.value.response["Error"]["Code"] == "EntityAlreadyExists"
    assert exc.value.response["ResponseMetadata"]["HTTPStatusCode"] == 409

    key = iam.create_access_key(UserName="bob")["AccessKey"]
    bob = cloud.client("iam", access_key=key["AccessKeyId"], secret_key=key["SecretAccessKey"])
    with pytest.raises(ClientError) as exc:
        bob.create_user(UserName="alice")
    err = exc.value.response["Error"]
    assert err["Code"] == "AccessDenied"
    assert exc.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    assert (
        f"User: arn:aws:iam::{acct}:user/dev/bob is not authorized to perform: iam:CreateUser"
        in err["Message"]
    )

    policy = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "iam:List*", "Resource": "*"}],
    }
    iam.put_user_policy(UserName="bob", PolicyName="list", PolicyDocument=json.dumps(policy))
    assert iam.get_user_policy(UserName="bob", PolicyName="list")["PolicyDocument"] == policy
    names = {u["UserName"] for u in bob.list_users()["Users"]}
    assert names == {"admin", "bob"}

    with pytest.raises(ClientError) as exc:
        iam.put_user_policy(UserName="bob", PolicyName="bad", PolicyDocument='{"Statement": 5}')
    assert exc.value.response["Error"]["Code"] == "MalformedPolicyDocument"

    iam.create_access_key(UserName="bob")
    with pytest.raises(ClientError) as exc:
        iam.create_access_key(UserName="bob")
    assert exc.value.response["Error"]["Code"] == "LimitExceeded"

    iam.update_access_key(UserName="bob", AccessKeyId=key["AccessKeyId"], Status="Inactive")
    with pytest.raises(ClientError) as exc:
        bob.list_users()
    assert exc.value.response["Error"]["Code"] == "InvalidClientTokenId"

    paginator = iam.get_paginator("list_users")
    for i in range(3):
        iam.create_user(UserName=f"p{i}")
    pages = list(paginator.paginate(PaginationConfig={"PageSize": 2}))
    assert len(pages) == 3
    assert sum(len(p["Users"]) for p in pages) == 5


def test_cloud_admin_account_operations(cloud: Any, tmp_path: Path) -> None:
    admin = euare(cloud, tmp_path)
    acct, ak, sk = new_account(cloud, tmp_path)
    names = {a["AccountId"] for a in admin.list_accounts()["Accounts"]}
    assert acct in names
    other = euare(cloud, tmp_path, ak, sk)
    with pytest.raises(ClientError) as exc:
        other.list_accounts()
    assert exc.value.response["Error"]["Code"] == "AccessDenied"
    doc = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}],
    }
    name = next(
        a["AccountName"] for a in admin.list_accounts()["Accounts"] if a["AccountId"] == acct
    )
    admin.put_account_policy(AccountName=name, PolicyName="all", PolicyDocument=json.dumps(doc))
    assert admin.list_account_policies(AccountName=name)["PolicyNames"] == ["all"]
    assert admin.get_account_policy(AccountName=name, PolicyName="all")["PolicyDocument"] == doc
    admin.create_user(UserName="x", DelegateAccount=name)
    with pytest.raises(ClientError) as exc:
        admin.delete_account(AccountName=name)
    assert exc.value.response["Error"]["Code"] == "DeleteConflict"
    admin.delete_account(AccountName=name, Recursive=True)
    assert acct not in {a["AccountId"] for a in admin.list_accounts()["Accounts"]}


def test_aws_cli_list_users(cloud: Any, tmp_path: Path) -> None:
    _, ak, sk = new_account(cloud, tmp_path)
    iam = cloud.client("iam", access_key=ak, secret_key=sk)
    iam.create_user(UserName="cli-user")
    done = cloud.aws_cli("iam", "list-users", "--output", "json", access_key=ak, secret_key=sk)
    assert done.returncode == 0, done.stderr
    names = {u["UserName"] for u in json.loads(done.stdout)["Users"]}
    assert names == {"admin", "cli-user"}
    denied = cloud.aws_cli(
        "iam", "create-user", "--user-name", "x", access_key="AKIANOTAKEYATALL000", secret_key="x"
    )
    assert denied.returncode != 0 and "InvalidClientTokenId" in denied.stderr
