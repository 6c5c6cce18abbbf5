"""Permissions boundaries of users and roles: set, shown, used, and enforced by the Authorizer
as the intersection with what identity policies allow."""

from __future__ import annotations

import json
from typing import Any

import pytest

from mallee.api.errors import ServiceError
from tests.unit.services.iam.conftest import Harness, allow
from tests.unit.services.iam.test_sts import creds, trust

IAM_READ = "arn:aws:iam::aws:policy/IAMReadOnlyAccess"
ADMIN = "arn:aws:iam::aws:policy/AdministratorAccess"
IAM_ALL = allow("iam:*")


def err(fn: Any, *a: Any, **kw: Any) -> tuple[str, int]:
    with pytest.raises(ServiceError) as exc:
        fn(*a, **kw)
    return exc.value.code, exc.value.status


def test_user_boundary_intersects_identity_policies(h: Harness) -> None:
    _, root = h.new_account("dev")
    bob = h.new_user(root, "bob", IAM_ALL)
    h.iam("CreateUser", bob, UserName="before")
    h.iam("PutUserPermissionsBoundary", root, UserName="bob", PermissionsBoundary=IAM_READ)
    assert h.iam("GetUser", root, UserName="bob")["User"]["PermissionsBoundary"] == {
        "PermissionsBoundaryType": "PermissionsBoundaryPolicy",
        "PermissionsBoundaryArn": IAM_READ,
    }
    # The boundary allows reads; identity policies allow everything: reads only.
    assert h.iam("ListUsers", bob)["Users"]
    assert err(h.iam, "CreateUser", bob, UserName="after") == ("AccessDenied", 403)
    # Nor does a boundary grant anything by itself.
    carol = h.new_user(root, "carol")
    h.iam("PutUserPermissionsBoundary", root, UserName="carol", PermissionsBoundary=ADMIN)
    assert err(h.iam, "ListUsers", carol) == ("AccessDenied", 403)
    h.iam("DeleteUserPermissionsBoundary", root, UserName="bob")
    h.iam("DeleteUserPermissionsBoundary", root, UserName="bob")  # none left: still fine
    assert "PermissionsBoundary" not in h.iam("GetUser", root, UserName="bob")["User"]
    h.iam("CreateUser", bob, UserName="after")


def test_explicit_deny_in_a_boundary_wins(h: Harness) -> None:
    _, root = h.new_account("dev")
    fence = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": "iam:*", "Resource": "*"},
            {"Effect": "Deny", "Action": "iam:ListUsers", "Resource": "*"},
        ],
    }
    arn = h.iam("CreatePolicy", root, PolicyName="fence", PolicyDocument=json.dumps(fence))[
        "Policy"
    ]["Arn"]
    bob = h.new_user(root, "bob", IAM_ALL)
    h.iam("PutUserPermissionsBoundary", root, UserName="bob", PermissionsBoundary=arn)
    with pytest.raises(ServiceError) as exc:
        h.iam("ListUsers", bob)
    assert "explicit deny" in exc.value.message
    assert h.iam("ListGroups", bob)["Groups"] == []


def test_role_boundary_from_create_role_bounds_its_sessions(h: Harness) -> None:
    acct, root = h.new_account("dev")
    bob = h.new_user(root, "bob")
    role = h.iam(
        "CreateRole",
        root,
        RoleName="r",
        AssumeRolePolicyDocument=trust(f"arn:aws:iam::{acct}:user/bob"),
        PermissionsBoundary=IAM_READ,
    )["Role"]
    assert role["PermissionsBoundary"]["PermissionsBoundaryArn"] == IAM_READ
    assert "PermissionsBoundary" not in h.iam("ListRoles", root)["Roles"][0]
    h.iam("AttachRolePolicy", root, RoleName="r", PolicyArn=ADMIN)
    session = creds(h.sts("AssumeRole", bob, RoleArn=role["Arn"], RoleSessionName="s1"))
    assert h.iam("ListRoles", session)["Roles"]
    assert err(h.iam, "CreateUser", session, UserName="x") == ("AccessDenied", 403)
    h.iam("DeleteRolePermissionsBoundary", root, RoleName="r")
    assert "PermissionsBoundary" not in h.iam("GetRole", root, RoleName="r")["Role"]
    h.iam("CreateUser", session, UserName="x")


def test_boundaries_are_counted_and_keep_their_policy(h: Harness) -> None:
    _, root = h.new_account("dev")
    made = h.iam("CreatePolicy", root, PolicyName="b", PolicyDocument=json.dumps(IAM_ALL))
    arn = made["Policy"]["Arn"]
    h.iam("CreateUser", root, UserName="u", PermissionsBoundary=arn)
    got = h.iam("GetPolicy", root, PolicyArn=arn)["Policy"]
    assert (got["AttachmentCount"], got["PermissionsBoundaryUsageCount"]) == (0, 1)
    assert err(h.iam, "DeletePolicy", root, PolicyArn=arn) == ("DeleteConflict", 409)
    bounded = h.iam(
        "ListPolicies", root, OnlyAttached=True, PolicyUsageFilter="PermissionsBoundary"
    )
    assert [p["Arn"] for p in bounded["Policies"]] == [arn]
    as_policy = h.iam(
        "ListPolicies", root, OnlyAttached=True, PolicyUsageFilter="PermissionsPolicy"
    )
    assert as_policy["Policies"] == []
    users = h.iam(
        "ListEntitiesForPolicy", root, PolicyArn=arn, PolicyUsageFilter="PermissionsBoundary"
    )["PolicyUsers"]
    assert [u["UserName"] for u in users] == ["u"]
    # A user with a boundary may be deleted; the boundary goes with it.
    h.iam("DeleteUser", root, UserName="u")
    h.iam("DeletePolicy", root, PolicyArn=arn)


def test_boundary_must_be_a_usable_policy(h: Harness) -> None:
    acct, root = h.new_account("dev")
    _, other = h.new_account("other")
    foreign = h.iam("CreatePolicy", other, PolicyName="f", PolicyDocument=json.dumps(IAM_ALL))
    h.iam("CreateUser", root, UserName="u")
    for arn, code in (
        (f"arn:aws:iam::{acct}:policy/missing", ("NoSuchEntity", 404)),
        (foreign["Policy"]["Arn"], ("NoSuchEntity", 404)),
        ("arn:aws:iam::aws:user/nope", ("InvalidInput", 400)),
    ):
        assert (
            err(h.iam, "PutUserPermissionsBoundary", root, UserName="u", PermissionsBoundary=arn)
            == code
        )
        assert err(h.iam, "CreateUser", root, UserName="v", PermissionsBoundary=arn) == code
    assert err(h.iam, "GetUser", root, UserName="v") == ("NoSuchEntity", 404)
    # The account's administrator is its root, which no boundary bounds.
    assert err(
        h.iam, "PutUserPermissionsBoundary", root, UserName="admin", PermissionsBoundary=IAM_READ
    ) == ("InvalidInput", 400)


def test_permissions_boundary_condition_key(h: Harness) -> None:
    _, root = h.new_account("dev")
    delegate = allow(
        "iam:CreateUser",
        Condition={"StringEquals": {"iam:PermissionsBoundary": IAM_READ}},
    )
    bob = h.new_user(root, "bob", delegate)
    assert err(h.iam, "CreateUser", bob, UserName="free") == ("AccessDenied", 403)
    assert err(h.iam, "CreateUser", bob, UserName="wide", PermissionsBoundary=ADMIN) == (
        "AccessDenied",
        403,
    )
    h.iam("CreateUser", bob, UserName="bounded", PermissionsBoundary=IAM_READ)
