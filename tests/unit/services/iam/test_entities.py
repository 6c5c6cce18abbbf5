from __future__ import annotations

import json
import urllib.parse

import pytest

from mallee.api.errors import ServiceError
from mallee.store.tables.iam import IamLoginProfile
from tests.unit.services.iam.conftest import Harness, allow

TRUST = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "ec2.amazonaws.com"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
)


def err(fn, *a, **kw) -> tuple[str, int]:  # type: ignore[no-untyped-def]
    with pytest.raises(ServiceError) as exc:
        fn(*a, **kw)
    return exc.value.code, exc.value.status


def test_user_lifecycle(h: Harness) -> None:
    user = h.iam("CreateUser", UserName="Bob", Path="/eng/")["User"]
    assert user["UserId"].startswith("AIDA") and len(user["UserId"]) == 21
    assert user["Arn"].endswith(":user/eng/Bob")
    assert err(h.iam, "CreateUser", UserName="bob") == ("EntityAlreadyExists", 409)
    assert h.iam("GetUser", UserName="bob")["User"]["UserName"] == "Bob"
    h.iam("UpdateUser", UserName="Bob", NewUserName="robert", NewPath="/ops/")
    assert err(h.iam, "GetUser", UserName="Bob") == ("NoSuchEntity", 404)
    assert h.iam("GetUser", UserName="robert")["User"]["Path"] == "/ops/"
    h.iam("DeleteUser", UserName="robert")
    assert err(h.iam, "DeleteUser", UserName="robert") == ("NoSuchEntity", 404)


def test_user_validation(h: Harness) -> None:
    assert err(h.iam, "CreateUser", UserName="bad name") == ("ValidationError", 400)
    assert err(h.iam, "CreateUser", UserName="x", Path="noslash") == ("ValidationError", 400)
    assert err(h.iam, "DeleteUser", UserName="admin") == ("DeleteConflict", 409)


def test_list_users_pagination_and_prefix(h: Harness) -> None:
    for i in range(7):
        h.iam("CreateUser", UserName=f"u{i}", Path="/a/" if i % 2 else "/b/")
    seen: list[str] = []
    marker = None
    while True:
        params = {"MaxItems": 3, **({"Marker": marker} if marker else {})}
        page = h.iam("ListUsers", **params)
        seen += [u["UserName"] for u in page["Users"]]
        if not page["IsTruncated"]:
            break
        marker = page["Marker"]
    assert seen == sorted(["admin"] + [f"u{i}" for i in range(7)])
    assert {u["UserName"] for u in h.iam("ListUsers", PathPrefix="/a/")["Users"]} == {
        "u1",
        "u3",
        "u5",
    }
    assert err(h.iam, "ListUsers", MaxItems=5000) == ("ValidationError", 400)


def test_get_user_without_name_is_the_caller(h: Harness) -> None:
    keys = h.new_user(h.admin, "alice", allow("iam:GetUser"))
    assert h.iam("GetUser", keys)["User"]["UserName"] == "alice"
    assert h.iam("GetUser")["User"]["UserName"] == "admin"


def test_delete_user_conflicts(h: Harness) -> None:
    h.iam("CreateUser", UserName="c")
    key = h.iam("CreateAccessKey", UserName="c")["AccessKey"]["AccessKeyId"]
    assert err(h.iam, "DeleteUser", UserName="c") == ("DeleteConflict", 409)
    h.iam("DeleteAccessKey", UserName="c", AccessKeyId=key)
    h.iam("PutUserPolicy", UserName="c", PolicyName="p", PolicyDocument=json.dumps(allow("s3:*")))
    assert err(h.iam, "DeleteUser", UserName="c")[0] == "DeleteConflict"
    h.iam("DeleteUserPolicy", UserName="c", PolicyName="p")
    h.iam("CreateGroup", GroupName="g")
    h.iam("AddUserToGroup", GroupName="g", UserName="c")
    assert err(h.iam, "DeleteUser", UserName="c")[0] == "DeleteConflict"
    assert err(h.iam, "DeleteGroup", GroupName="g")[0] == "DeleteConflict"
    h.iam("RemoveUserFromGroup", GroupName="g", UserName="c")
    h.iam("DeleteUser", UserName="c")
    h.iam("DeleteGroup", GroupName="g")


def test_groups_and_membership(h: Harness) -> None:
    group = h.iam("CreateGroup", GroupName="devs")["Group"]
    assert group["GroupId"].startswith("AGPA")
    h.iam("CreateUser", UserName="a")
    h.iam("AddUserToGroup", GroupName="devs", UserName="a")
    h.iam("AddUserToGroup", GroupName="devs", UserName="a")  # idempotent
    got = h.iam("GetGroup", GroupName="devs")
    assert [u["UserName"] for u in got["Users"]] == ["a"]
    assert [g["GroupName"] for g in h.iam("ListGroupsForUser", UserName="a")["Groups"]] == ["devs"]
    for i in range(9):
        h.iam("CreateGroup", GroupName=f"g{i}")
        h.iam("AddUserToGroup", GroupName=f"g{i}", UserName="a")
    h.iam("CreateGroup", GroupName="eleventh")
    assert err(h.iam, "AddUserToGroup", GroupName="eleventh", UserName="a") == (
        "LimitExceeded",
        409,
    )
    h.iam("UpdateGroup", GroupName="devs", NewGroupName="developers")
    assert h.iam("GetGroup", GroupName="developers")["Group"]["GroupName"] == "developers"


def test_access_keys(h: Harness) -> None:
    h.iam("CreateUser", UserName="k")
    k1 = h.iam("CreateAccessKey", UserName="k")["AccessKey"]
    k2 = h.iam("CreateAccessKey", UserName="k")["AccessKey"]
    assert k1["AccessKeyId"].startswith("AKIA") and len(k1["SecretAccessKey"]) == 40
    assert err(h.iam, "CreateAccessKey", UserName="k") == ("LimitExceeded", 409)
    listed = h.iam("ListAccessKeys", UserName="k")["AccessKeyMetadata"]
    assert {k["AccessKeyId"] for k in listed} == {k1["AccessKeyId"], k2["AccessKeyId"]}
    assert "SecretAccessKey" not in listed[0]
    h.iam("PutUserPolicy", UserName="k", PolicyName="p", PolicyDocument=json.dumps(allow("iam:*")))
    h.iam("ListUsers", k1["AccessKeyId"])
    h.iam("UpdateAccessKey", UserName="k", AccessKeyId=k1["AccessKeyId"], Status="Inactive")
    assert err(h.iam, "ListUsers", k1["AccessKeyId"])[0] == "InvalidClientTokenId"
    assert err(
        h.iam, "UpdateAccessKey", UserName="k", AccessKeyId=k1["AccessKeyId"], Status="Paused"
    ) == ("ValidationError", 400)
    used = h.iam("GetAccessKeyLastUsed", AccessKeyId=k1["AccessKeyId"])
    assert used["UserName"] == "k"
    assert used["AccessKeyLastUsed"]["ServiceName"] == "iam"
    assert "LastUsedDate" in used["AccessKeyLastUsed"]
    h.iam("DeleteAccessKey", UserName="k", AccessKeyId=k2["AccessKeyId"])
    assert err(h.iam, "ListUsers", k2["AccessKeyId"])[0] == "InvalidClientTokenId"
    assert err(h.iam, "DeleteAccessKey", UserName="k", AccessKeyId="AKIANOPENOPENOPE1") == (
        "NoSuchEntity",
        404,
    )


def test_login_profiles(h: Harness) -> None:
    h.iam("CreateUser", UserName="p")
    assert (
        err(h.iam, "CreateLoginProfile", UserName="p", Password="short")[0]
        == "PasswordPolicyViolation"
    )
    prof = h.iam(
        "CreateLoginProfile", UserName="p", Password="Str0ng-pass", PasswordResetRequired=True
    )
    assert prof["LoginProfile"]["PasswordResetRequired"] is True
    assert (
        err(h.iam, "CreateLoginProfile", UserName="p", Password="Str0ng-pass")[0]
        == "EntityAlreadyExists"
    )
    with h.store.read() as s:
        stored = s.query(IamLoginProfile).one().password_hash
    assert stored.startswith("scrypt$") and "Str0ng-pass" not in stored
    h.iam("UpdateLoginProfile", UserName="p", Password="An0ther-pass", PasswordResetRequired=False)
    assert h.iam("GetLoginProfile", UserName="p")["LoginProfile"]["PasswordResetRequired"] is False
    keys = h.new_user(
        h.admin, "self", allow("iam:ChangePassword", "arn:aws:iam::*:user/${aws:username}")
    )
    h.iam("CreateLoginProfile", UserName="self", Password="Initial-1pw")
    assert (
        err(h.iam, "ChangePassword", keys, OldPassword="wrong", NewPassword="Next-1pass")[0]
        == "AccessDenied"
    )
    h.iam("ChangePassword", keys, OldPassword="Initial-1pw", NewPassword="Next-1pass")
    h.iam("DeleteLoginProfile", UserName="p")
    assert err(h.iam, "GetLoginProfile", UserName="p") == ("NoSuchEntity", 404)


def test_inline_policies(h: Harness) -> None:
    h.iam("CreateUser", UserName="u")
    doc = json.dumps(allow("s3:GetObject", "arn:aws:s3:::b/*"))
    h.iam("PutUserPolicy", UserName="u", PolicyName="read", PolicyDocument=doc)
    got = h.iam("GetUserPolicy", UserName="u", PolicyName="read")
    assert json.loads(urllib.parse.unquote(got["PolicyDocument"])) == json.loads(doc)
    assert h.iam("ListUserPolicies", UserName="u")["PolicyNames"] == ["read"]
    for bad, code in (
        ("{", "MalformedPolicyDocument"),
        (
            json.dumps({"Statement": [{"Effect": "Allow", "Action": "s3:*"}]}),
            "MalformedPolicyDocument",
        ),
        (
            json.dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [
                        {"Effect": "Allow", "Action": "s3:*", "Resource": "*", "Principal": "*"}
                    ],
                }
            ),
            "MalformedPolicyDocument",
        ),
        (json.dumps(allow("s3:*", "x" * 3000)), "LimitExceeded"),
    ):
        assert (
            err(h.iam, "PutUserPolicy", UserName="u", PolicyName="bad", PolicyDocument=bad)[0]
            == code
        )
    h.iam("CreateGroup", GroupName="g")
    h.iam("PutGroupPolicy", GroupName="g", PolicyName="gp", PolicyDocument=doc)
    assert h.iam("ListGroupPolicies", GroupName="g")["PolicyNames"] == ["gp"]
    h.iam("DeleteGroupPolicy", GroupName="g", PolicyName="gp")
    assert err(h.iam, "GetGroupPolicy", GroupName="g", PolicyName="gp") == ("NoSuchEntity", 404)


def test_roles_and_instance_profiles(h: Harness) -> None:
    role = h.iam(
        "CreateRole",
        RoleName="web",
        AssumeRolePolicyDocument=TRUST,
        MaxSessionDuration=7200,
        Description="web servers",
        Tags=[{"Key": "team", "Value": "a"}],
    )["Role"]
    assert role["RoleId"].startswith("AROA") and role["MaxSessionDuration"] == 7200
    assert (
        err(h.iam, "CreateRole", RoleName="x", AssumeRolePolicyDocument=json.dumps(allow("s3:*")))[
            0
        ]
        == "MalformedPolicyDocument"
    )
    assert err(
        h.iam, "CreateRole", RoleName="x", AssumeRolePolicyDocument=TRUST, MaxSessionDuration=100000
    ) == ("ValidationError", 400)
    h.iam("UpdateAssumeRolePolicy", RoleName="web", PolicyDocument=TRUST)
    h.iam("UpdateRole", RoleName="web", MaxSessionDuration=3600)
    assert h.iam("GetRole", RoleName="web")["Role"]["MaxSessionDuration"] == 3600
    assert h.iam("ListRoleTags", RoleName="web")["Tags"] == [{"Key": "team", "Value": "a"}]
    prof = h.iam("CreateInstanceProfile", InstanceProfileName="web-ip")["InstanceProfile"]
    assert prof["InstanceProfileId"].startswith("AIPA") and prof["Roles"] == []
    h.iam("AddRoleToInstanceProfile", InstanceProfileName="web-ip", RoleName="web")
    assert (
        err(h.iam, "AddRoleToInstanceProfile", InstanceProfileName="web-ip", RoleName="web")[0]
        == "LimitExceeded"
    )
    got = h.iam("GetInstanceProfile", InstanceProfileName="web-ip")["InstanceProfile"]
    assert [r["RoleName"] for r in got["Roles"]] == ["web"]
    assert len(h.iam("ListInstanceProfilesForRole", RoleName="web")["InstanceProfiles"]) == 1
    assert err(h.iam, "DeleteRole", RoleName="web")[0] == "DeleteConflict"
    assert err(h.iam, "DeleteInstanceProfile", InstanceProfileName="web-ip")[0] == "DeleteConflict"
    h.iam("RemoveRoleFromInstanceProfile", InstanceProfileName="web-ip", RoleName="web")
    h.iam("DeleteInstanceProfile", InstanceProfileName="web-ip")
    h.iam("PutRolePolicy", RoleName="web", PolicyName="p", PolicyDocument=json.dumps(allow("s3:*")))
    assert err(h.iam, "DeleteRole", RoleName="web")[0] == "DeleteConflict"
    h.iam("DeleteRolePolicy", RoleName="web", PolicyName="p")
    h.iam("DeleteRole", RoleName="web")
    assert h.iam("ListRoles")["Roles"] == []


def test_user_tags(h: Harness) -> None:
    h.iam("CreateUser", UserName="t", Tags=[{"Key": "a", "Value": "1"}])
    h.iam("TagUser", UserName="t", Tags=[{"Key": "b", "Value": "2"}, {"Key": "A", "Value": "3"}])
    assert h.iam("ListUserTags", UserName="t")["Tags"] == [
        {"Key": "A", "Value": "3"},
        {"Key": "b", "Value": "2"},
    ]
    h.iam("UntagUser", UserName="t", TagKeys=["a"])
    assert h.iam("ListUserTags", UserName="t")["Tags"] == [{"Key": "b", "Value": "2"}]
    too_many = [{"Key": f"k{i}", "Value": ""} for i in range(50)]
    assert err(h.iam, "TagUser", UserName="t", Tags=too_many)[0] == "LimitExceeded"
