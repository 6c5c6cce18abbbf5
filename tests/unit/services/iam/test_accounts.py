from __future__ import annotations

import json

import pytest

from mallee.api.errors import ServiceError
from tests.unit.services.iam.conftest import Harness, allow


def test_create_account_and_keys_for_its_root(h: Harness) -> None:
    acct, root = h.new_account("dev")
    assert len(acct) == 12 and acct.isdigit()
    ident = h.sts("GetCallerIdentity", root)
    assert ident == {"UserId": acct, "Account": acct, "Arn": f"arn:aws:iam::{acct}:root"}
    # The new account's admin acts in its own account only.
    assert [u["UserName"] for u in h.iam("ListUsers", root)["Users"]] == ["admin"]
    h.iam("CreateUser", root, UserName="bob")
    assert len(h.iam("ListUsers", root)["Users"]) == 2
    assert len(h.iam("ListUsers")["Users"]) == 1  # the eucalyptus account is untouched


def test_account_names_unique_and_valid(h: Harness) -> None:
    h.new_account("dev")
    with pytest.raises(ServiceError) as exc:
        h.iam("CreateAccount", AccountName="dev")
    assert (exc.value.code, exc.value.status) == ("EntityAlreadyExists", 409)
    with pytest.raises(ServiceError) as exc:
        h.iam("CreateAccount", AccountName="Bad_Name")
    assert exc.value.code == "ValidationError"


def test_account_operations_are_cloud_admin_only(h: Harness) -> None:
    _, root = h.new_account("dev")
    with pytest.raises(ServiceError) as exc:
        h.iam("CreateAccount", root, AccountName="other")
    assert (exc.value.code, exc.value.status) == ("AccessDenied", 403)
    with pytest.raises(ServiceError) as exc:
        h.iam("ListUsers", root, DelegateAccount="eucalyptus")
    assert exc.value.code == "AccessDenied"


def test_delete_account_needs_recursive_when_not_empty(h: Harness) -> None:
    _, root = h.new_account("dev")
    h.iam("CreateUser", root, UserName="bob")
    h.iam(
        "CreateRole",
        root,
        RoleName="r",
        AssumeRolePolicyDocument=json.dumps(
            {
                "Statement": [
                    {"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "sts:AssumeRole"}
                ]
            }
        ),
    )
    with pytest.raises(ServiceError) as exc:
        h.iam("DeleteAccount", AccountName="dev")
    assert exc.value.code == "DeleteConflict"
    h.iam("DeleteAccount", AccountName="dev", Recursive=True)
    assert "dev" not in {a["AccountName"] for a in h.iam("ListAccounts")["Accounts"]}
    with pytest.raises(ServiceError) as exc:
        h.iam("ListUsers", root)
    assert exc.value.code == "InvalidClientTokenId"  # its keys are gone with it
    with pytest.raises(ServiceError) as exc:
        h.iam("DeleteAccount", AccountName="eucalyptus", Recursive=True)
    assert exc.value.code == "DeleteConflict"


def test_account_policies_bound_everyone_in_the_account(h: Harness) -> None:
    _, root = h.new_account("dev")
    h.iam("CreateUser", root, UserName="a")
    h.iam(
        "PutAccountPolicy",
        AccountName="dev",
        PolicyName="no-users",
        PolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {"Effect": "Allow", "Action": "*", "Resource": "*"},
                    {"Effect": "Deny", "Action": "iam:CreateUser", "Resource": "*"},
                ],
            }
        ),
    )
    assert h.iam("ListAccountPolicies", AccountName="dev")["PolicyNames"] == ["no-users"]
    got = h.iam("GetAccountPolicy", AccountName="dev", PolicyName="no-users")
    assert "iam%3ACreateUser" in got["PolicyDocument"]
    with pytest.raises(ServiceError) as exc:
        h.iam("CreateUser", root, UserName="b")
    assert exc.value.code == "AccessDenied"
    h.iam("GetUser", root, UserName="a")
    h.iam("DeleteAccountPolicy", AccountName="dev", PolicyName="no-users")
    h.iam("CreateUser", root, UserName="b")
    with pytest.raises(ServiceError) as exc:
        h.iam("GetAccountPolicy", AccountName="dev", PolicyName="no-users")
    assert exc.value.code == "NoSuchEntity"


def test_account_policy_quota_statements_accepted(h: Harness) -> None:
    h.new_account("dev")
    doc = {
        "Statement": [
            {
                "Effect": "Limit",
                "Action": "ec2:RunInstances",
                "Resource": "*",
                "Condition": {"NumericLessThanEquals": {"ec2:quota-vminstancenumber": "5"}},
            }
        ]
    }
    h.iam("PutAccountPolicy", AccountName="dev", PolicyName="q", PolicyDocument=json.dumps(doc))
    with pytest.raises(ServiceError) as exc:
        h.iam("PutAccountPolicy", AccountName="dev", PolicyName="bad", PolicyDocument="{nope")
    assert (exc.value.code, exc.value.status) == ("MalformedPolicyDocument", 400)


def test_aliases_are_globally_unique(h: Harness) -> None:
    _, root1 = h.new_account("one")
    _, root2 = h.new_account("two")
    h.iam("CreateAccountAlias", root1, AccountAlias="my-alias")
    assert h.iam("ListAccountAliases", root1)["AccountAliases"] == ["my-alias"]
    with pytest.raises(ServiceError) as exc:
        h.iam("CreateAccountAlias", root2, AccountAlias="my-alias")
    assert exc.value.code == "EntityAlreadyExists"
    with pytest.raises(ServiceError) as exc:
        h.iam("CreateAccountAlias", root2, AccountAlias="one")  # another account's name
    assert exc.value.code == "EntityAlreadyExists"
    with pytest.raises(ServiceError) as exc:
        h.iam("DeleteAccountAlias", root2, AccountAlias="my-alias")
    assert exc.value.code == "NoSuchEntity"
    h.iam("DeleteAccountAlias", root1, AccountAlias="my-alias")
    assert h.iam("ListAccountAliases", root1)["AccountAliases"] == []


def test_account_summary_counts(h: Harness) -> None:
    _, root = h.new_account("dev")
    h.iam("CreateUser", root, UserName="a")
    h.iam("CreateGroup", root, GroupName="g")
    summary = h.iam("GetAccountSummary", root)["SummaryMap"]
    assert summary["Users"] == 2 and summary["Groups"] == 1 and summary["Roles"] == 0
    assert summary["AccessKeysPerUserQuota"] == 2 and summary["AccountAccessKeysPresent"] == 1


def test_delegate_account_for_cloud_admin(h: Harness) -> None:
    acct, _ = h.new_account("dev")
    h.iam("CreateUser", DelegateAccount="dev", UserName="carol")
    users = h.iam("ListUsers", DelegateAccount=acct)["Users"]
    assert {u["UserName"] for u in users} == {"admin", "carol"}
    assert users[0]["Arn"].startswith(f"arn:aws:iam::{acct}:user/")
    with pytest.raises(ServiceError) as exc:
        h.iam("ListUsers", DelegateAccount="nope")
    assert exc.value.code == "NoSuchEntity"


def test_eucalyptus_users_need_policy(h: Harness) -> None:
    plain = h.new_user(h.admin, "ops")
    with pytest.raises(ServiceError) as exc:
        h.iam("ListAccounts", plain)
    assert exc.value.code == "AccessDenied"
    h.iam(
        "PutUserPolicy", UserName="ops", PolicyName="all", PolicyDocument=json.dumps(allow("iam:*"))
    )
    assert h.iam("ListAccounts", plain)["Accounts"]
    h.new_account("dev")
    # With policy, a eucalyptus user may act in other accounts (the cloud admin's powers).
    h.iam("CreateUser", plain, DelegateAccount="dev", UserName="x")
