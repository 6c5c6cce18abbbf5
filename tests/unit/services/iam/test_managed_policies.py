"""Managed policies (customer and AWS managed), their versions and attachments, through the
provider and the Authorizer as the chain calls them; answers are checked against botocore's
output shapes by the Harness."""

from __future__ import annotations

import json
import urllib.parse
from typing import Any

import pytest
from sqlalchemy import func, select

from mallee.api.errors import ServiceError
from mallee.gateway.internal import instance_role_assumer
from mallee.node.network.imds_roles import issuer
from mallee.services.iam.aws_managed import AWS_POLICIES
from mallee.store.tables.iam import IamManagedPolicy, IamPolicyAttachment, IamTag
from tests.unit.services.iam.conftest import Harness, allow

ADMIN = "arn:aws:iam::aws:policy/AdministratorAccess"
IAM_READ = "arn:aws:iam::aws:policy/IAMReadOnlyAccess"
S3_READ = "arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess"


def err(fn: Any, *a: Any, **kw: Any) -> tuple[str, int]:
    with pytest.raises(ServiceError) as exc:
        fn(*a, **kw)
    return exc.value.code, exc.value.status


def doc(action: str, resource: str = "*") -> str:
    return json.dumps(allow(action, resource))


def make_policy(h: Harness, keys: Any, name: str, action: str = "iam:List*", **kw: Any) -> str:
    made = h.iam("CreatePolicy", keys, PolicyName=name, PolicyDocument=doc(action), **kw)
    return str(made["Policy"]["Arn"])


def test_aws_managed_policies_are_there_with_awss_ids(h: Harness) -> None:
    _, root = h.new_account("dev")
    listed = h.iam("ListPolicies", root, Scope="AWS")["Policies"]
    assert {p["PolicyName"]: p["PolicyId"] for p in listed} == {
        p.name: p.policy_id for p in AWS_POLICIES
    }
    admin = h.iam("GetPolicy", root, PolicyArn=ADMIN)["Policy"]
    assert (admin["PolicyId"], admin["DefaultVersionId"]) == ("ANPAIWMBCKSKIEE64ZLYK", "v1")
    assert admin["Description"] == "Provides full access to AWS services and resources."
    version = h.iam("GetPolicyVersion", root, PolicyArn=S3_READ, VersionId="v3")["PolicyVersion"]
    # URL-encoded, as IAM answers documents.
    assert version["Document"].startswith("%7B")
    statement = json.loads(urllib.parse.unquote(version["Document"]))["Statement"][0]
    assert statement["Action"][:2] == ["s3:Get*", "s3:List*"]
    assert version["IsDefaultVersion"] is True
    assert h.iam("ListPolicyVersions", root, PolicyArn=ADMIN)["Versions"][0]["VersionId"] == "v1"


def test_customer_policy_lifecycle(h: Harness) -> None:
    acct, root = h.new_account("dev")
    made = h.iam(
        "CreatePolicy",
        root,
        PolicyName="Readers",
        Path="/team/",
        PolicyDocument=doc("iam:List*"),
        Description="lists IAM",
        Tags=[{"Key": "owner", "Value": "ops"}],
    )["Policy"]
    arn = made["Arn"]
    assert arn == f"arn:aws:iam::{acct}:policy/team/Readers"
    assert made["PolicyId"].startswith("ANPA") and len(made["PolicyId"]) == 21
    assert (made["DefaultVersionId"], made["AttachmentCount"], made["IsAttachable"]) == (
        "v1",
        0,
        True,
    )
    assert made["Tags"] == [{"Key": "owner", "Value": "ops"}]
    assert err(h.iam, "CreatePolicy", root, PolicyName="readers", PolicyDocument=doc("s3:*")) == (
        "EntityAlreadyExists",
        409,
    )
    got = h.iam("GetPolicy", root, PolicyArn=arn)["Policy"]
    assert got["Description"] == "lists IAM" and got["Tags"] == made["Tags"]
    local = h.iam("ListPolicies", root, Scope="Local")["Policies"]
    assert [p["Arn"] for p in local] == [arn]
    assert "Description" not in local[0] and "Tags" not in local[0]
    assert [p["Arn"] for p in h.iam("ListPolicies", root, PathPrefix="/team/")["Policies"]] == [arn]
    h.iam("TagPolicy", root, PolicyArn=arn, Tags=[{"Key": "env", "Value": "dev"}])
    h.iam("UntagPolicy", root, PolicyArn=arn, TagKeys=["owner"])
    assert h.iam("ListPolicyTags", root, PolicyArn=arn)["Tags"] == [{"Key": "env", "Value": "dev"}]
    h.iam("DeletePolicy", root, PolicyArn=arn)
    assert err(h.iam, "GetPolicy", root, PolicyArn=arn) == ("NoSuchEntity", 404)
    with h.store.read() as s:
        assert s.scalar(select(func.count()).select_from(IamTag)) == 0


def test_bad_documents_and_arns(h: Harness) -> None:
    acct, root = h.new_account("dev")
    for bad in ("{", json.dumps({"Statement": [{"Effect": "Allow", "Action": "s3:*"}]})):
        assert err(h.iam, "CreatePolicy", root, PolicyName="p", PolicyDocument=bad) == (
            "MalformedPolicyDocument",
            400,
        )
    huge = doc("s3:*", "arn:aws:s3:::" + "x" * 7000)
    assert err(h.iam, "CreatePolicy", root, PolicyName="p", PolicyDocument=huge) == (
        "LimitExceeded",
        409,
    )
    assert err(h.iam, "GetPolicy", root, PolicyArn="arn:aws:iam::aws:role/Nope") == (
        "InvalidInput",
        400,
    )
    missing = f"arn:aws:iam::{acct}:policy/missing"
    assert err(h.iam, "GetPolicy", root, PolicyArn=missing) == ("NoSuchEntity", 404)
    h.iam("CreateUser", root, UserName="u")
    assert err(h.iam, "AttachUserPolicy", root, UserName="u", PolicyArn=missing) == (
        "NoSuchEntity",
        404,
    )


def test_versions(h: Harness) -> None:
    _, root = h.new_account("dev")
    arn = make_policy(h, root, "p")
    for n in range(2, 6):
        made = h.iam("CreatePolicyVersion", root, PolicyArn=arn, PolicyDocument=doc(f"s3:A{n}"))
        assert made["PolicyVersion"] == {
            "VersionId": f"v{n}",
            "IsDefaultVersion": False,
            "CreateDate": made["PolicyVersion"]["CreateDate"],
        }
    assert err(h.iam, "CreatePolicyVersion", root, PolicyArn=arn, PolicyDocument=doc("s3:X")) == (
        "LimitExceeded",
        409,
    )
    h.iam("SetDefaultPolicyVersion", root, PolicyArn=arn, VersionId="v3")
    assert h.iam("GetPolicy", root, PolicyArn=arn)["Policy"]["DefaultVersionId"] == "v3"
    assert err(h.iam, "DeletePolicyVersion", root, PolicyArn=arn, VersionId="v3") == (
        "DeleteConflict",
        409,
    )
    assert err(h.iam, "SetDefaultPolicyVersion", root, PolicyArn=arn, VersionId="v9") == (
        "NoSuchEntity",
        404,
    )
    assert err(h.iam, "DeletePolicy", root, PolicyArn=arn) == ("DeleteConflict", 409)
    h.iam("DeletePolicyVersion", root, PolicyArn=arn, VersionId="v2")
    # Version ids are never reused.
    made = h.iam(
        "CreatePolicyVersion", root, PolicyArn=arn, PolicyDocument=doc("s3:B"), SetAsDefault=True
    )
    assert made["PolicyVersion"]["VersionId"] == "v6"
    assert made["PolicyVersion"]["IsDefaultVersion"] is True
    page = h.iam("ListPolicyVersions", root, PolicyArn=arn, MaxItems=2)
    assert [v["VersionId"] for v in page["Versions"]] == ["v1", "v3"] and page["IsTruncated"]
    rest = h.iam("ListPolicyVersions", root, PolicyArn=arn, Marker=page["Marker"])
    assert [v["VersionId"] for v in rest["Versions"]] == ["v4", "v5", "v6"]
    assert [v["IsDefaultVersion"] for v in rest["Versions"]] == [False, False, True]
    got = h.iam("GetPolicyVersion", root, PolicyArn=arn, VersionId="v6")["PolicyVersion"]
    assert json.loads(urllib.parse.unquote(got["Document"])) == json.loads(doc("s3:B"))
    for version in ("v1", "v3", "v4", "v5"):
        h.iam("DeletePolicyVersion", root, PolicyArn=arn, VersionId=version)
    h.iam("DeletePolicy", root, PolicyArn=arn)


def test_aws_managed_policies_are_not_yours_to_change(h: Harness) -> None:
    _, root = h.new_account("dev")
    for op, extra in (
        ("DeletePolicy", {}),
        ("CreatePolicyVersion", {"PolicyDocument": doc("s3:*")}),
        ("SetDefaultPolicyVersion", {"VersionId": "v1"}),
        ("DeletePolicyVersion", {"VersionId": "v1"}),
        ("TagPolicy", {"Tags": [{"Key": "k", "Value": "v"}]}),
    ):
        assert err(h.iam, op, root, PolicyArn=ADMIN, **extra) == ("AccessDenied", 403), op
    # Nor may a user allowed everything: the Authorizer refuses, as the policy is AWS's.
    anyone = h.new_user(root, "anyone", allow("*"))
    with pytest.raises(ServiceError) as exc:
        h.iam("DeletePolicy", anyone, PolicyArn=ADMIN)
    assert exc.value.message.endswith(f"iam:DeletePolicy on resource: {ADMIN}")
    # Not even the cloud administrator, whom the Authorizer lets through.
    assert err(h.iam, "DeletePolicy", PolicyArn=ADMIN) == ("AccessDenied", 403)
    assert h.iam("GetPolicy", root, PolicyArn=ADMIN)["Policy"]["DefaultVersionId"] == "v1"


def test_attach_detach_and_counts(h: Harness) -> None:
    _, root = h.new_account("dev")
    arn = make_policy(h, root, "p")
    h.iam("CreateUser", root, UserName="u")
    h.iam("CreateGroup", root, GroupName="g")
    h.iam("CreateRole", root, RoleName="r", AssumeRolePolicyDocument=_trust())
    h.iam("AttachUserPolicy", root, UserName="u", PolicyArn=arn)
    h.iam("AttachUserPolicy", root, UserName="u", PolicyArn=arn)  # idempotent
    h.iam("AttachGroupPolicy", root, GroupName="g", PolicyArn=arn)
    h.iam("AttachRolePolicy", root, RoleName="r", PolicyArn=arn)
    h.iam("AttachRolePolicy", root, RoleName="r", PolicyArn=S3_READ)
    assert h.iam("GetPolicy", root, PolicyArn=arn)["Policy"]["AttachmentCount"] == 3
    assert h.iam("ListAttachedRolePolicies", root, RoleName="r")["AttachedPolicies"] == [
        {"PolicyName": "p", "PolicyArn": arn},
        {"PolicyName": "AmazonS3ReadOnlyAccess", "PolicyArn": S3_READ},
    ]
    entities = h.iam("ListEntitiesForPolicy", root, PolicyArn=arn)
    assert [u["UserName"] for u in entities["PolicyUsers"]] == ["u"]
    assert [g["GroupName"] for g in entities["PolicyGroups"]] == ["g"]
    assert [r["RoleName"] for r in entities["PolicyRoles"]] == ["r"]
    only_roles = h.iam("ListEntitiesForPolicy", root, PolicyArn=arn, EntityFilter="Role")
    assert (only_roles["PolicyUsers"], len(only_roles["PolicyRoles"])) == ([], 1)
    attached = h.iam("ListPolicies", root, OnlyAttached=True)["Policies"]
    assert {p["PolicyName"] for p in attached} == {"p", "AmazonS3ReadOnlyAccess"}
    for op, name in (("DeleteUser", "UserName"), ("DeleteGroup", "GroupName")):
        assert err(h.iam, op, root, **{name: name[0].lower()}) == ("DeleteConflict", 409)
    assert err(h.iam, "DeleteRole", root, RoleName="r") == ("DeleteConflict", 409)
    assert err(h.iam, "DeletePolicy", root, PolicyArn=arn) == ("DeleteConflict", 409)
    h.iam("DetachUserPolicy", root, UserName="u", PolicyArn=arn)
    assert err(h.iam, "DetachUserPolicy", root, UserName="u", PolicyArn=arn) == (
        "NoSuchEntity",
        404,
    )
    h.iam("DetachGroupPolicy", root, GroupName="g", PolicyArn=arn)
    h.iam("DetachRolePolicy", root, RoleName="r", PolicyArn=arn)
    h.iam("DetachRolePolicy", root, RoleName="r", PolicyArn=S3_READ)
    h.iam("DeleteUser", root, UserName="u")
    h.iam("DeleteGroup", root, GroupName="g")
    h.iam("DeleteRole", root, RoleName="r")
    h.iam("DeletePolicy", root, PolicyArn=arn)


def test_ten_policies_per_entity(h: Harness) -> None:
    _, root = h.new_account("dev")
    h.iam("CreateGroup", root, GroupName="g")
    for arn in [p.arn for p in AWS_POLICIES]:
        h.iam("AttachGroupPolicy", root, GroupName="g", PolicyArn=arn)
    assert len(AWS_POLICIES) == 10
    eleventh = make_policy(h, root, "eleventh")
    assert err(h.iam, "AttachGroupPolicy", root, GroupName="g", PolicyArn=eleventh) == (
        "LimitExceeded",
        409,
    )
    page = h.iam("ListAttachedGroupPolicies", root, GroupName="g", MaxItems=4)
    rest = h.iam("ListAttachedGroupPolicies", root, GroupName="g", Marker=page["Marker"])
    assert len(page["AttachedPolicies"]) + len(rest["AttachedPolicies"]) == 10


def test_accounts_see_only_their_own(h: Harness) -> None:
    _, root_a = h.new_account("a")
    _, root_b = h.new_account("b")
    arn = make_policy(h, root_a, "mine")
    h.iam("CreateUser", root_a, UserName="u")
    h.iam("AttachUserPolicy", root_a, UserName="u", PolicyArn=ADMIN)
    # An AWS managed policy's attachments are counted and listed per account.
    assert h.iam("GetPolicy", root_a, PolicyArn=ADMIN)["Policy"]["AttachmentCount"] == 1
    assert h.iam("GetPolicy", root_b, PolicyArn=ADMIN)["Policy"]["AttachmentCount"] == 0
    assert h.iam("ListEntitiesForPolicy", root_b, PolicyArn=ADMIN)["PolicyUsers"] == []
    assert h.iam("ListPolicies", root_b, OnlyAttached=True)["Policies"] == []
    assert all(p["Arn"] != arn for p in h.iam("ListPolicies", root_b)["Policies"])
    # Another account's policy: refused by authorization, and not attachable in any case.
    assert err(h.iam, "GetPolicy", root_b, PolicyArn=arn) == ("AccessDenied", 403)
    h.iam("CreateUser", root_b, UserName="v")
    assert err(h.iam, "AttachUserPolicy", root_b, UserName="v", PolicyArn=arn) == (
        "NoSuchEntity",
        404,
    )


def test_attached_policies_grant_and_stop_granting(h: Harness) -> None:
    _, root = h.new_account("dev")
    bob = h.new_user(root, "bob")
    assert err(h.iam, "ListUsers", bob) == ("AccessDenied", 403)
    h.iam("AttachUserPolicy", root, UserName="bob", PolicyArn=IAM_READ)
    assert h.iam("ListUsers", bob)["Users"]
    assert err(h.iam, "CreateUser", bob, UserName="x") == ("AccessDenied", 403)
    # AWS managed policies are read as the account's own, so its read grants reach them.
    assert h.iam("GetPolicy", bob, PolicyArn=ADMIN)["Policy"]["PolicyName"] == "AdministratorAccess"
    assert h.iam("GetPolicyVersion", bob, PolicyArn=ADMIN, VersionId="v1")["PolicyVersion"]
    h.iam("DetachUserPolicy", root, UserName="bob", PolicyArn=IAM_READ)
    assert err(h.iam, "ListUsers", bob) == ("AccessDenied", 403)
    # Through a group, and what a customer policy grants follows its default version.
    arn = make_policy(h, root, "users", "iam:ListUsers")
    h.iam("CreateGroup", root, GroupName="g")
    h.iam("AddUserToGroup", root, GroupName="g", UserName="bob")
    h.iam("AttachGroupPolicy", root, GroupName="g", PolicyArn=arn)
    assert h.iam("ListUsers", bob)["Users"]
    h.iam("CreatePolicyVersion", root, PolicyArn=arn, PolicyDocument=doc("iam:ListGroups"))
    assert h.iam("ListUsers", bob)["Users"]
    h.iam("SetDefaultPolicyVersion", root, PolicyArn=arn, VersionId="v2")
    assert err(h.iam, "ListUsers", bob) == ("AccessDenied", 403)
    assert h.iam("ListGroups", bob)["Groups"]


def test_policy_arn_condition_key(h: Harness) -> None:
    _, root = h.new_account("dev")
    grant = allow(
        "iam:AttachUserPolicy",
        Condition={"ArnEquals": {"iam:PolicyARN": IAM_READ}},
    )
    bob = h.new_user(root, "bob", grant)
    h.iam("CreateUser", root, UserName="carol")
    h.iam("AttachUserPolicy", bob, UserName="carol", PolicyArn=IAM_READ)
    assert err(h.iam, "AttachUserPolicy", bob, UserName="carol", PolicyArn=ADMIN) == (
        "AccessDenied",
        403,
    )


def test_unissued_credentials_are_listed_empty(h: Harness) -> None:
    _, root = h.new_account("dev")
    h.iam("CreateUser", root, UserName="u")
    for op, member in (
        ("ListSSHPublicKeys", "SSHPublicKeys"),
        ("ListServiceSpecificCredentials", "ServiceSpecificCredentials"),
        ("ListMFADevices", "MFADevices"),
        ("ListSigningCertificates", "Certificates"),
    ):
        assert h.iam(op, root, UserName="u") == {member: [], "IsTruncated": False}, op
        assert err(h.iam, op, root, UserName="nobody") == ("NoSuchEntity", 404), op
    bob = h.new_user(root, "bob")
    assert err(h.iam, "ListMFADevices", bob) == ("AccessDenied", 403)


def test_deleting_an_account_takes_its_policies_and_attachments(h: Harness) -> None:
    acct, root = h.new_account("gone")
    arn = make_policy(h, root, "p", Tags=[{"Key": "k", "Value": "v"}])
    h.iam("CreateUser", root, UserName="u")
    h.iam("AttachUserPolicy", root, UserName="u", PolicyArn=arn)
    h.iam("AttachUserPolicy", root, UserName="u", PolicyArn=ADMIN)
    h.iam("DeleteAccount", AccountName="gone", Recursive=True)
    with h.store.read() as s:
        assert s.scalar(select(func.count()).select_from(IamPolicyAttachment)) == 0
        assert s.scalar(select(func.count()).where(IamManagedPolicy.account_id == acct)) == 0
        assert s.scalar(select(func.count()).select_from(IamTag)) == 0
        # The AWS managed ones stay.
        assert s.scalar(select(func.count()).where(IamManagedPolicy.account_id.is_(None))) == 10


def _trust() -> str:
    return json.dumps(
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


def test_instance_profile_credentials_carry_the_attached_policies(h: Harness) -> None:
    """What the metadata service hands an instance acts with its profile's role's attached
    policies, as `aws iam attach-role-policy` set them."""
    _, root = h.new_account("dev")
    h.iam("CreateRole", root, RoleName="web", AssumeRolePolicyDocument=_trust())
    profile = h.iam("CreateInstanceProfile", root, InstanceProfileName="web")["InstanceProfile"]
    h.iam("AddRoleToInstanceProfile", root, InstanceProfileName="web", RoleName="web")
    h.iam("AttachRolePolicy", root, RoleName="web", PolicyArn=IAM_READ)
    assumer = instance_role_assumer(h.store, "eucalyptus")
    issued = issuer(h.store, assumer)(profile["InstanceProfileId"], "i-12345678")
    assert issued is not None and issued.access_key_id is not None
    assert h.iam("ListRoles", issued.access_key_id)["Roles"]
    assert err(h.iam, "CreateUser", issued.access_key_id, UserName="x") == ("AccessDenied", 403)
