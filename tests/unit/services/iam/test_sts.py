from __future__ import annotations

import json
import time
from typing import Any

import pytest

from mallee.api.errors import ServiceError
from mallee.gateway.internal import instance_role_assumer
from mallee.identity.credentials import lookup_credential
from mallee.node.network.imds_roles import Issue, issuer
from tests.unit.services.iam.conftest import Harness, allow


def trust(*principals: str) -> str:
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"AWS": list(principals)},
                    "Action": "sts:AssumeRole",
                }
            ],
        }
    )


def creds(result: dict[str, Any]) -> str:
    return str(result["Credentials"]["AccessKeyId"])


def test_get_caller_identity_for_user(h: Harness) -> None:
    acct, root = h.new_account("dev")
    bob = h.new_user(root, "bob")
    ident = h.sts("GetCallerIdentity", bob)
    assert ident["Arn"] == f"arn:aws:iam::{acct}:user/bob" and ident["UserId"].startswith("AIDA")


def test_get_session_token(h: Harness) -> None:
    _, root = h.new_account("dev")
    bob = h.new_user(root, "bob", allow("iam:GetUser"))
    res = h.sts("GetSessionToken", bob, DurationSeconds=900)
    key = creds(res)
    assert key.startswith("ASIA") and res["Credentials"]["SessionToken"]
    cred = lookup_credential(h.store, key)
    assert cred is not None and cred.session_token == res["Credentials"]["SessionToken"]
    assert cred.expires_at is not None and 800 < cred.expires_at - time.time() <= 900
    assert h.sts("GetCallerIdentity", key)["Arn"].endswith(":user/bob")
    # AWS: without MFA they call no IAM operation, whatever bob's policy allows, and of STS
    # only AssumeRole and GetCallerIdentity.
    for service, op in (("iam", "GetUser"), ("sts", "GetSessionToken")):
        with pytest.raises(ServiceError) as exc:
            h.call(service, op, {}, key)
        assert (exc.value.code, exc.value.status) == ("AccessDenied", 403)
    with pytest.raises(ServiceError) as exc:
        h.sts("GetSessionToken", bob, DurationSeconds=200000)
    assert exc.value.code == "ValidationError"
    assert h.sts("GetSessionToken", root)["Credentials"]


def test_assume_role_same_account_trusting_user(h: Harness) -> None:
    acct, root = h.new_account("dev")
    bob = h.new_user(root, "bob")  # no identity policy at all
    role = h.iam(
        "CreateRole",
        root,
        RoleName="deployer",
        AssumeRolePolicyDocument=trust(f"arn:aws:iam::{acct}:user/bob"),
    )["Role"]
    h.iam(
        "PutRolePolicy",
        root,
        RoleName="deployer",
        PolicyName="p",
        PolicyDocument=json.dumps(allow("iam:ListRoles")),
    )
    res = h.sts("AssumeRole", bob, RoleArn=role["Arn"], RoleSessionName="s1")
    assert res["AssumedRoleUser"] == {
        "AssumedRoleId": f"{role['RoleId']}:s1",
        "Arn": f"arn:aws:sts::{acct}:assumed-role/deployer/s1",
    }
    key = creds(res)
    assert h.sts("GetCallerIdentity", key)["Arn"] == f"arn:aws:sts::{acct}:assumed-role/deployer/s1"
    assert h.iam("ListRoles", key)["Roles"]
    with pytest.raises(ServiceError) as exc:
        h.iam("ListUsers", key)
    assert (
        "assumed-role/deployer/s1 is not authorized to perform: iam:ListUsers" in exc.value.message
    )


def test_assume_role_trusting_account_needs_identity_policy(h: Harness) -> None:
    acct, root = h.new_account("dev")
    bob = h.new_user(root, "bob")
    role = h.iam("CreateRole", root, RoleName="r", AssumeRolePolicyDocument=trust(acct))["Role"]
    with pytest.raises(ServiceError) as exc:
        h.sts("AssumeRole", bob, RoleArn=role["Arn"], RoleSessionName="s0")
    assert exc.value.code == "AccessDenied"
    h.iam(
        "PutUserPolicy",
        root,
        UserName="bob",
        PolicyName="a",
        PolicyDocument=json.dumps(allow("sts:AssumeRole", role["Arn"])),
    )
    assert creds(h.sts("AssumeRole", bob, RoleArn=role["Arn"], RoleSessionName="s0"))


def test_assume_role_denied_when_trust_does_not_name_caller(h: Harness) -> None:
    acct, root = h.new_account("dev")
    bob = h.new_user(root, "bob", allow("sts:AssumeRole"))
    role = h.iam(
        "CreateRole",
        root,
        RoleName="r",
        AssumeRolePolicyDocument=trust(f"arn:aws:iam::{acct}:user/someone"),
    )["Role"]
    with pytest.raises(ServiceError) as exc:
        h.sts("AssumeRole", bob, RoleArn=role["Arn"], RoleSessionName="s0")
    assert exc.value.code == "AccessDenied"
    with pytest.raises(ServiceError) as exc:
        h.sts("AssumeRole", bob, RoleArn=f"arn:aws:iam::{acct}:role/missing", RoleSessionName="s0")
    assert exc.value.code == "AccessDenied"


def test_cross_account_assume_role(h: Harness) -> None:
    acct1, root1 = h.new_account("one")
    acct2, root2 = h.new_account("two")
    role = h.iam("CreateRole", root2, RoleName="shared", AssumeRolePolicyDocument=trust(acct1))[
        "Role"
    ]
    h.iam(
        "PutRolePolicy",
        root2,
        RoleName="shared",
        PolicyName="p",
        PolicyDocument=json.dumps(allow("iam:ListUsers")),
    )
    bob = h.new_user(root1, "bob")
    with pytest.raises(ServiceError):
        h.sts("AssumeRole", bob, RoleArn=role["Arn"], RoleSessionName="x0")
    h.iam(
        "PutUserPolicy",
        root1,
        UserName="bob",
        PolicyName="a",
        PolicyDocument=json.dumps(allow("sts:AssumeRole", role["Arn"])),
    )
    key = creds(h.sts("AssumeRole", bob, RoleArn=role["Arn"], RoleSessionName="x0"))
    assert h.sts("GetCallerIdentity", key)["Account"] == acct2
    users = h.iam("ListUsers", key)["Users"]
    assert users[0]["Arn"].startswith(f"arn:aws:iam::{acct2}:")
    # Another account's user, even with an Allow, is not trusted.
    _, root3 = h.new_account("three")
    eve = h.new_user(root3, "eve", allow("sts:AssumeRole"))
    with pytest.raises(ServiceError):
        h.sts("AssumeRole", eve, RoleArn=role["Arn"], RoleSessionName="x0")


def test_session_policy_narrows(h: Harness) -> None:
    acct, root = h.new_account("dev")
    role = h.iam("CreateRole", root, RoleName="r", AssumeRolePolicyDocument=trust(acct))["Role"]
    h.iam(
        "PutRolePolicy",
        root,
        RoleName="r",
        PolicyName="p",
        PolicyDocument=json.dumps(allow("iam:List*")),
    )
    res = h.sts(
        "AssumeRole",
        root,
        RoleArn=role["Arn"],
        RoleSessionName="narrow",
        Policy=json.dumps(allow("iam:ListRoles")),
    )
    assert res["PackedPolicySize"] > 0
    key = creds(res)
    h.iam("ListRoles", key)
    with pytest.raises(ServiceError):
        h.iam("ListUsers", key)


def test_assume_role_validation(h: Harness) -> None:
    acct, root = h.new_account("dev")
    role = h.iam("CreateRole", root, RoleName="r", AssumeRolePolicyDocument=trust(acct))["Role"]
    for params, code in (
        ({"RoleSessionName": "bad name!"}, "ValidationError"),
        ({"RoleSessionName": "ok", "DurationSeconds": 7200}, "ValidationError"),
        ({"RoleSessionName": "ok", "Policy": "{not json"}, "MalformedPolicyDocument"),
    ):
        with pytest.raises(ServiceError) as exc:
            h.sts("AssumeRole", root, RoleArn=role["Arn"], **params)
        assert exc.value.code == code
    h.iam("UpdateRole", root, RoleName="r", MaxSessionDuration=7200)
    assert creds(
        h.sts("AssumeRole", root, RoleArn=role["Arn"], RoleSessionName="ok", DurationSeconds=7200)
    )


def test_explicit_deny_in_trust_policy(h: Harness) -> None:
    acct, root = h.new_account("dev")
    bob = h.new_user(root, "bob", allow("sts:AssumeRole"))
    doc = json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {"Effect": "Allow", "Principal": {"AWS": acct}, "Action": "sts:AssumeRole"},
                {
                    "Effect": "Deny",
                    "Principal": {"AWS": f"arn:aws:iam::{acct}:user/bob"},
                    "Action": "sts:AssumeRole",
                },
            ],
        }
    )
    role = h.iam("CreateRole", root, RoleName="r", AssumeRolePolicyDocument=doc)["Role"]
    with pytest.raises(ServiceError) as exc:
        h.sts("AssumeRole", bob, RoleArn=role["Arn"], RoleSessionName="s0")
    assert "explicit deny" in exc.value.message


def test_get_access_key_info(h: Harness) -> None:
    acct, root = h.new_account("dev")
    assert h.sts("GetAccessKeyInfo", root, AccessKeyId=root[0])["Account"] == acct


def ec2_trust() -> str:
    statement = {
        "Effect": "Allow",
        "Principal": {"Service": "ec2.amazonaws.com"},
        "Action": "sts:AssumeRole",
    }
    return json.dumps({"Version": "2012-10-17", "Statement": [statement]})


def metadata_issuer(h: Harness) -> Issue:
    """What the metadata server asks: rows for the profile, STS (through the gateway's internal
    call, as ec2.amazonaws.com) for the credentials."""
    return issuer(h.store, instance_role_assumer(h.store, "eucalyptus"))


def test_instance_profile_credentials_act_as_the_role(h: Harness) -> None:
    acct, root = h.new_account("dev")
    h.iam("CreateRole", root, RoleName="web", AssumeRolePolicyDocument=ec2_trust())
    h.iam(
        "PutRolePolicy",
        root,
        RoleName="web",
        PolicyName="read",
        PolicyDocument=json.dumps(allow("iam:GetRole")),
    )
    profile = h.iam("CreateInstanceProfile", root, InstanceProfileName="webp")
    profile_id = profile["InstanceProfile"]["InstanceProfileId"]
    instance_role = metadata_issuer(h)
    assert instance_role(profile_id, "i-0123456789abcdef0") is not None
    empty = instance_role(profile_id, "i-0123456789abcdef0")
    assert empty is not None and empty.role_name is None and empty.access_key_id is None

    h.iam("AddRoleToInstanceProfile", root, InstanceProfileName="webp", RoleName="web")
    got = instance_role(profile_id, "i-0123456789abcdef0")
    assert got is not None and got.access_key_id is not None and got.role_name == "web"
    ident = h.sts("GetCallerIdentity", got.access_key_id)
    assert ident["Arn"] == f"arn:aws:sts::{acct}:assumed-role/web/i-0123456789abcdef0"
    assert h.iam("GetRole", got.access_key_id, RoleName="web")["Role"]["RoleName"] == "web"
    with pytest.raises(ServiceError):
        h.iam("ListUsers", got.access_key_id)


def test_instance_profile_role_must_trust_ec2(h: Harness) -> None:
    acct, root = h.new_account("dev")
    h.iam(
        "CreateRole",
        root,
        RoleName="r",
        AssumeRolePolicyDocument=trust(f"arn:aws:iam::{acct}:user/bob"),
    )
    profile = h.iam("CreateInstanceProfile", root, InstanceProfileName="p")
    h.iam("AddRoleToInstanceProfile", root, InstanceProfileName="p", RoleName="r")
    got = metadata_issuer(h)(profile["InstanceProfile"]["InstanceProfileId"], "i-1")
    assert got is not None and got.role_name == "r" and got.access_key_id is None


def test_revoke_access_token_ends_the_callers_own_session(h: Harness) -> None:
    acct, root = h.new_account("dev")
    bob = h.new_user(root, "bob", allow("iam:GetUser"))
    role = h.iam(
        "CreateRole",
        root,
        RoleName="r",
        AssumeRolePolicyDocument=trust(f"arn:aws:iam::{acct}:user/bob"),
    )["Role"]
    mine = creds(h.sts("AssumeRole", bob, RoleArn=role["Arn"], RoleSessionName="one"))
    other = creds(h.sts("AssumeRole", bob, RoleArn=role["Arn"], RoleSessionName="two"))
    assert h.sts("RevokeAccessToken", mine) == {}
    assert lookup_credential(h.store, mine) is None
    assert lookup_credential(h.store, other) is not None
    # A long-term key is not ended this way (DeleteAccessKey is).
    with pytest.raises(ServiceError) as exc:
        h.sts("RevokeAccessToken", bob)
    assert (exc.value.code, exc.value.status) == ("ValidationError", 400)
    assert lookup_credential(h.store, bob[0]) is not None
