from __future__ import annotations

import json

import pytest

from mallee.api.errors import ServiceError
from mallee.identity.credentials import lookup_credential
from tests.unit.services.iam.conftest import Harness, allow


def test_denied_message_has_aws_form(h: Harness) -> None:
    acct, root = h.new_account("dev")
    bob = h.new_user(root, "bob")
    with pytest.raises(ServiceError) as exc:
        h.iam("CreateUser", bob, UserName="alice")
    assert (exc.value.code, exc.value.status) == ("AccessDenied", 403)
    assert exc.value.message == (
        f"User: arn:aws:iam::{acct}:user/bob is not authorized to perform: iam:CreateUser "
        f"on resource: arn:aws:iam::{acct}:user/alice"
    )


def test_identity_policy_allows_and_explicit_deny_wins(h: Harness) -> None:
    _, root = h.new_account("dev")
    bob = h.new_user(
        root,
        "bob",
        {
            "Version": "2012-10-17",
            "Statement": [
                {"Effect": "Allow", "Action": "iam:*", "Resource": "*"},
                {"Effect": "Deny", "Action": "iam:DeleteUser", "Resource": "*"},
            ],
        },
    )
    h.iam("CreateUser", bob, UserName="x")
    with pytest.raises(ServiceError) as exc:
        h.iam("DeleteUser", bob, UserName="x")
    assert exc.value.code == "AccessDenied" and "explicit deny" in exc.value.message


def test_group_policies_apply(h: Harness) -> None:
    _, root = h.new_account("dev")
    bob = h.new_user(root, "bob")
    h.iam("CreateGroup", root, GroupName="readers")
    h.iam(
        "PutGroupPolicy",
        root,
        GroupName="readers",
        PolicyName="r",
        PolicyDocument=json.dumps(allow("iam:List*")),
    )
    with pytest.raises(ServiceError):
        h.iam("ListUsers", bob)
    h.iam("AddUserToGroup", root, GroupName="readers", UserName="bob")
    assert h.iam("ListUsers", bob)["Users"]  # visible at once in this process
    with pytest.raises(ServiceError):
        h.iam("GetUser", bob, UserName="admin")


def test_resource_scoped_policy_with_variables(h: Harness) -> None:
    _, root = h.new_account("dev")
    bob = h.new_user(root, "bob", allow("iam:*AccessKey*", "arn:aws:iam::*:user/${aws:username}"))
    h.iam("CreateUser", root, UserName="eve")
    h.iam("ListAccessKeys", bob)
    h.iam("ListAccessKeys", bob, UserName="bob")
    with pytest.raises(ServiceError):
        h.iam("ListAccessKeys", bob, UserName="eve")


def test_conditions_on_source_ip(h: Harness) -> None:
    _, root = h.new_account("dev")
    bob = h.new_user(
        root, "bob", allow("iam:ListUsers", Condition={"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}})
    )
    h.call("iam", "ListUsers", {}, bob, remote_addr="10.1.2.3")
    with pytest.raises(ServiceError):
        h.call("iam", "ListUsers", {}, bob, remote_addr="192.168.0.1")


def test_root_cannot_touch_other_accounts(h: Harness) -> None:
    _, root1 = h.new_account("one")
    acct2, _ = h.new_account("two")
    with pytest.raises(ServiceError) as exc:
        h.iam("ListUsers", root1, DelegateAccount="two")
    assert exc.value.code == "AccessDenied"
    # The cloud admin can.
    assert h.iam("ListUsers", DelegateAccount=acct2)["Users"]


def test_deactivated_key_refused_by_lookup(h: Harness) -> None:
    _, root = h.new_account("dev")
    bob = h.new_user(root, "bob")
    assert lookup_credential(h.store, bob[0]) is not None
    h.iam("UpdateAccessKey", root, UserName="bob", AccessKeyId=bob[0], Status="Inactive")
    assert lookup_credential(h.store, bob[0]) is None
    assert lookup_credential(h.store, "AKIAUNKNOWNUNKNOWN") is None
    assert lookup_credential(h.store, "") is None
