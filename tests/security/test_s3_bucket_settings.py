"""S3 bucket settings that decide access, enforced against a live cloud: the public access
block (public ACLs refused or ignored, public policies refused or kept to the owner's
account), BucketOwnerEnforced (ACLs grant nothing), each settings operation's own IAM action,
and operations mallee does not implement refusing whoever may not call them before saying
NotImplemented."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import urllib3
from botocore.exceptions import ClientError

from tests.e2e.conftest import Cloud
from tests.e2e.test_iam_accounts import euare
from tests.e2e.test_s3_acl import Account, denied, fresh_anon
from tests.security.test_s3_authz import member, statement

pytestmark = pytest.mark.e2e

HTTP = urllib3.PoolManager(retries=False, timeout=60)


@pytest.fixture
def bucket(owner: Account) -> str:
    name = f"set-{uuid.uuid4().hex[:10]}"
    owner.s3.create_bucket(Bucket=name)
    return name


def policy(*statements: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def allow(principal: Any, action: str, resource: str) -> dict[str, Any]:
    return {"Effect": "Allow", "Principal": principal, "Action": action, "Resource": resource}


def block(owner: Account, bucket: str, **flags: bool) -> None:
    owner.s3.put_public_access_block(Bucket=bucket, PublicAccessBlockConfiguration=flags)


def read(s3: Any, bucket: str, key: str) -> bytes:
    body: bytes = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    return body


# The public access block --------------------------------------------------------------------


def test_ignore_public_acls_makes_public_grants_grant_nothing(
    cloud: Cloud, owner: Account, other: Account, bucket: str
) -> None:
    owner.s3.put_bucket_acl(Bucket=bucket, ACL="public-read")
    owner.s3.put_object(Bucket=bucket, Key="pub", Body=b"p", ACL="public-read")
    owner.s3.put_object(Bucket=bucket, Key="auth", Body=b"a", ACL="authenticated-read")
    owner.s3.put_object(Bucket=bucket, Key="mine", Body=b"m", GrantRead=f'id="{other.canonical}"')
    anon = fresh_anon(cloud)
    assert read(anon, bucket, "pub") == b"p"
    assert anon.list_objects_v2(Bucket=bucket)["KeyCount"] == 3
    assert read(other.s3, bucket, "auth") == b"a"

    block(owner, bucket, IgnorePublicAcls=True)
    assert denied(anon.get_object, Bucket=bucket, Key="pub") == ("AccessDenied", 403)
    assert denied(anon.list_objects_v2, Bucket=bucket) == ("AccessDenied", 403)
    assert denied(other.s3.get_object, Bucket=bucket, Key="auth") == ("AccessDenied", 403)
    assert denied(other.s3.list_objects_v2, Bucket=bucket) == ("AccessDenied", 403)
    # A grant to the account itself is not public: it still holds.
    assert read(other.s3, bucket, "mine") == b"m"
    # The ACLs stay as they were; the owner reads on.
    uris = {
        g["Grantee"].get("URI") for g in owner.s3.get_object_acl(Bucket=bucket, Key="pub")["Grants"]
    }
    assert "http://acs.amazonaws.com/groups/global/AllUsers" in uris
    assert read(owner.s3, bucket, "pub") == b"p"

    owner.s3.delete_public_access_block(Bucket=bucket)
    assert read(fresh_anon(cloud), bucket, "pub") == b"p"


def test_block_public_acls_refuses_every_way_of_setting_one(
    cloud: Cloud, owner: Account, bucket: str
) -> None:
    owner.s3.put_bucket_acl(Bucket=bucket, ACL="public-read-write")
    block(owner, bucket, BlockPublicAcls=True)
    everyone = 'uri="http://acs.amazonaws.com/groups/global/AllUsers"'
    refusals: list[tuple[Callable[..., Any], dict[str, Any]]] = [
        (owner.fresh().put_object, {"Key": "a", "Body": b"x", "ACL": "public-read"}),
        (owner.fresh().put_object, {"Key": "b", "Body": b"x", "GrantRead": everyone}),
        (owner.fresh().create_multipart_upload, {"Key": "c", "ACL": "authenticated-read"}),
        (
            owner.fresh().copy_object,
            {"Key": "d", "CopySource": f"{bucket}/seed", "ACL": "public-read-write"},
        ),
        (owner.s3.put_bucket_acl, {"ACL": "authenticated-read"}),
        (owner.s3.put_object_acl, {"Key": "seed", "ACL": "public-read"}),
        (owner.s3.put_object_acl, {"Key": "seed", "GrantFullControl": everyone}),
    ]
    owner.s3.put_object(Bucket=bucket, Key="seed", Body=b"s")
    for call, params in refusals:
        assert denied(call, Bucket=bucket, **params) == ("AccessDenied", 403), params
    # Anonymous writers (the bucket is public-read-write) are refused alike, browser form too.
    anon = fresh_anon(cloud)
    assert denied(anon.put_object, Bucket=bucket, Key="e", Body=b"x", ACL="public-read") == (
        "AccessDenied",
        403,
    )
    form = {"key": "f", "acl": "public-read"}
    parts: list[tuple[str, Any]] = [*form.items(), ("file", ("f.txt", b"x", "text/plain"))]
    body, content_type = urllib3.encode_multipart_formdata(parts)
    answer = HTTP.request(
        "POST", f"{cloud.endpoint}/{bucket}", body=body, headers={"Content-Type": content_type}
    )
    assert answer.status == 403 and b"<Code>AccessDenied</Code>" in answer.data
    listed = {o["Key"] for o in owner.s3.list_objects_v2(Bucket=bucket).get("Contents", [])}
    assert listed == {"seed"}
    # What is not public stays possible.
    owner.s3.put_object(Bucket=bucket, Key="g", Body=b"x", ACL="private")


def test_block_public_policy_refuses_a_public_policy(owner: Account, bucket: str) -> None:
    block(owner, bucket, BlockPublicPolicy=True)
    public = policy(allow("*", "s3:GetObject", f"arn:aws:s3:::{bucket}/*"))
    assert denied(owner.s3.put_bucket_policy, Bucket=bucket, Policy=public) == (
        "AccessDenied",
        403,
    )
    assert denied(owner.s3.get_bucket_policy, Bucket=bucket) == ("NoSuchBucketPolicy", 404)
    narrow = policy(allow({"AWS": owner.id}, "s3:GetObject", f"arn:aws:s3:::{bucket}/*"))
    owner.s3.put_bucket_policy(Bucket=bucket, Policy=narrow)


def test_restrict_public_buckets_keeps_a_public_policy_to_the_owner_account(
    cloud: Cloud, owner: Account, other: Account, bucket: str
) -> None:
    owner.s3.put_object(Bucket=bucket, Key="k", Body=b"data")
    owner.s3.put_bucket_policy(
        Bucket=bucket,
        Policy=policy(
            allow("*", "s3:GetObject", f"arn:aws:s3:::{bucket}/*"),
            allow({"AWS": other.id}, "s3:ListBucket", f"arn:aws:s3:::{bucket}"),
        ),
    )
    colleague = member(cloud, owner, statement("Allow", "s3:GetObject", f"arn:aws:s3:::{bucket}/*"))
    assert read(fresh_anon(cloud), bucket, "k") == b"data"
    assert read(other.s3, bucket, "k") == b"data"
    assert other.s3.list_objects_v2(Bucket=bucket)["KeyCount"] == 1

    block(owner, bucket, RestrictPublicBuckets=True)
    anon = fresh_anon(cloud)
    assert denied(anon.get_object, Bucket=bucket, Key="k") == ("AccessDenied", 403)
    assert denied(other.s3.get_object, Bucket=bucket, Key="k") == ("AccessDenied", 403)
    # Every cross-account Allow of a public policy goes, not only the public statement.
    assert denied(other.s3.list_objects_v2, Bucket=bucket) == ("AccessDenied", 403)
    assert read(colleague.client("s3"), bucket, "k") == b"data"
    assert read(owner.s3, bucket, "k") == b"data"
    # A policy that is not public is not restricted.
    owner.s3.put_bucket_policy(
        Bucket=bucket,
        Policy=policy(allow({"AWS": other.id}, "s3:GetObject", f"arn:aws:s3:::{bucket}/*")),
    )
    assert read(other.s3, bucket, "k") == b"data"


def test_requester_pays_refuses_callers_who_do_not_pay(
    cloud: Cloud, owner: Account, other: Account, bucket: str
) -> None:
    owner.s3.put_object(Bucket=bucket, Key="pub", Body=b"p", ACL="public-read")
    owner.s3.put_bucket_policy(
        Bucket=bucket,
        Policy=policy(allow({"AWS": other.id}, "s3:GetObject", f"arn:aws:s3:::{bucket}/*")),
    )
    owner.s3.put_bucket_request_payment(
        Bucket=bucket, RequestPaymentConfiguration={"Payer": "Requester"}
    )
    assert denied(other.s3.get_object, Bucket=bucket, Key="pub") == ("AccessDenied", 403)
    paid = other.s3.get_object(Bucket=bucket, Key="pub", RequestPayer="requester")
    assert paid["Body"].read() == b"p"
    anon = fresh_anon(cloud)
    assert denied(anon.get_object, Bucket=bucket, Key="pub") == ("AccessDenied", 403)
    assert denied(anon.get_object, Bucket=bucket, Key="pub", RequestPayer="requester") == (
        "AccessDenied",
        403,
    )
    assert read(owner.s3, bucket, "pub") == b"p"
    owner.s3.put_bucket_request_payment(
        Bucket=bucket, RequestPaymentConfiguration={"Payer": "BucketOwner"}
    )
    assert read(other.s3, bucket, "pub") == b"p"
    assert read(fresh_anon(cloud), bucket, "pub") == b"p"


# Object ownership -----------------------------------------------------------------------------


def test_bucket_owner_enforced_disables_what_acls_grant(
    cloud: Cloud, owner: Account, other: Account, bucket: str
) -> None:
    owner.s3.put_object(Bucket=bucket, Key="pub", Body=b"p", ACL="public-read")
    owner.s3.put_object(Bucket=bucket, Key="theirs", Body=b"t", GrantRead=f'id="{other.canonical}"')
    assert read(fresh_anon(cloud), bucket, "pub") == b"p"
    assert read(other.s3, bucket, "theirs") == b"t"

    owner.s3.put_bucket_ownership_controls(
        Bucket=bucket, OwnershipControls={"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]}
    )
    assert denied(fresh_anon(cloud).get_object, Bucket=bucket, Key="pub") == ("AccessDenied", 403)
    assert denied(other.s3.get_object, Bucket=bucket, Key="theirs") == ("AccessDenied", 403)
    grants = owner.s3.get_object_acl(Bucket=bucket, Key="pub")["Grants"]
    assert [(g["Grantee"].get("ID"), g["Permission"]) for g in grants] == [
        (owner.canonical, "FULL_CONTROL")
    ]
    # Policies still decide.
    owner.s3.put_bucket_policy(
        Bucket=bucket,
        Policy=policy(allow({"AWS": other.id}, "s3:GetObject", f"arn:aws:s3:::{bucket}/theirs")),
    )
    assert read(other.s3, bucket, "theirs") == b"t"

    owner.s3.delete_bucket_ownership_controls(Bucket=bucket)
    assert read(fresh_anon(cloud), bucket, "pub") == b"p"


def test_another_account_cannot_write_an_acl_into_an_enforced_bucket(
    owner: Account, other: Account, bucket: str
) -> None:
    owner.s3.put_bucket_ownership_controls(
        Bucket=bucket, OwnershipControls={"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]}
    )
    owner.s3.put_bucket_policy(
        Bucket=bucket,
        Policy=policy(allow({"AWS": other.id}, "s3:PutObject", f"arn:aws:s3:::{bucket}/*")),
    )
    assert denied(
        other.fresh().put_object, Bucket=bucket, Key="k", Body=b"x", ACL="public-read"
    ) == ("AccessControlListNotSupported", 400)
    other.s3.put_object(Bucket=bucket, Key="k", Body=b"x", ACL="bucket-owner-full-control")
    # The bucket owner owns what others write: it reads it with no grant of theirs.
    assert read(owner.s3, bucket, "k") == b"x"


# Who may call the settings operations -------------------------------------------------------

SETTINGS: list[tuple[str, dict[str, Any], str]] = [
    ("get_bucket_request_payment", {}, "s3:GetBucketRequestPayment"),
    (
        "put_bucket_request_payment",
        {"RequestPaymentConfiguration": {"Payer": "Requester"}},
        "s3:PutBucketRequestPayment",
    ),
    ("get_bucket_encryption", {}, "s3:GetEncryptionConfiguration"),
    (
        "put_bucket_encryption",
        {
            "ServerSideEncryptionConfiguration": {
                "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]
            }
        },
        "s3:PutEncryptionConfiguration",
    ),
    ("delete_bucket_encryption", {}, "s3:PutEncryptionConfiguration"),
    ("get_public_access_block", {}, "s3:GetBucketPublicAccessBlock"),
    (
        "put_public_access_block",
        {"PublicAccessBlockConfiguration": {"BlockPublicAcls": False}},
        "s3:PutBucketPublicAccessBlock",
    ),
    ("delete_public_access_block", {}, "s3:PutBucketPublicAccessBlock"),
    ("get_bucket_ownership_controls", {}, "s3:GetBucketOwnershipControls"),
    (
        "put_bucket_ownership_controls",
        {"OwnershipControls": {"Rules": [{"ObjectOwnership": "ObjectWriter"}]}},
        "s3:PutBucketOwnershipControls",
    ),
    ("delete_bucket_ownership_controls", {}, "s3:PutBucketOwnershipControls"),
    ("get_bucket_logging", {}, "s3:GetBucketLogging"),
    ("put_bucket_logging", {"BucketLoggingStatus": {}}, "s3:PutBucketLogging"),
    ("get_bucket_website", {}, "s3:GetBucketWebsite"),
    (
        "put_bucket_website",
        {"WebsiteConfiguration": {"IndexDocument": {"Suffix": "index.html"}}},
        "s3:PutBucketWebsite",
    ),
    ("delete_bucket_website", {}, "s3:DeleteBucketWebsite"),
    ("get_bucket_accelerate_configuration", {}, "s3:GetAccelerateConfiguration"),
    (
        "put_bucket_accelerate_configuration",
        {"AccelerateConfiguration": {"Status": "Suspended"}},
        "s3:PutAccelerateConfiguration",
    ),
]
# What an allowed call may answer besides success: the setting is not there.
NOT_SET = {
    "NoSuchPublicAccessBlockConfiguration",
    "OwnershipControlsNotFoundError",
    "NoSuchWebsiteConfiguration",
}


def answer(call: Callable[..., Any], **params: Any) -> str:
    """ "" for success, else the error code."""
    try:
        call(**params)
    except ClientError as err:
        return str(err.response["Error"]["Code"])
    return ""


@pytest.mark.parametrize(("operation", "params", "action"), SETTINGS, ids=[s[0] for s in SETTINGS])
def test_each_settings_operation_needs_its_own_action(
    cloud: Cloud,
    owner: Account,
    bucket: str,
    operation: str,
    params: dict[str, Any],
    action: str,
) -> None:
    arn = f"arn:aws:s3:::{bucket}"
    allowed = member(cloud, owner, statement("Allow", action, arn)).client("s3")
    assert answer(getattr(allowed, operation), Bucket=bucket, **params) in NOT_SET | {""}
    refused = member(
        cloud, owner, statement("Allow", "s3:*", "*"), statement("Deny", action, arn)
    ).client("s3")
    assert denied(getattr(refused, operation), Bucket=bucket, **params) == ("AccessDenied", 403)


@pytest.mark.parametrize(("operation", "params", "action"), SETTINGS, ids=[s[0] for s in SETTINGS])
def test_other_accounts_and_anonymous_callers_are_refused(
    cloud: Cloud,
    owner: Account,
    other: Account,
    bucket: str,
    operation: str,
    params: dict[str, Any],
    action: str,
) -> None:
    assert denied(getattr(other.s3, operation), Bucket=bucket, **params) == ("AccessDenied", 403)
    anon = fresh_anon(cloud)
    assert denied(getattr(anon, operation), Bucket=bucket, **params) == ("AccessDenied", 403)
    # Refused, and nothing changed.
    assert owner.s3.get_bucket_request_payment(Bucket=bucket)["Payer"] == "BucketOwner"
    assert denied(owner.s3.get_public_access_block, Bucket=bucket)[1] == 404
    assert denied(owner.s3.get_bucket_ownership_controls, Bucket=bucket)[1] == 404


def test_anonymous_callers_are_refused_even_where_a_policy_allows_everything(
    cloud: Cloud, owner: Account, bucket: str
) -> None:
    owner.s3.put_bucket_policy(
        Bucket=bucket,
        Policy=policy(
            allow("*", "s3:*", f"arn:aws:s3:::{bucket}"),
            allow("*", "s3:*", f"arn:aws:s3:::{bucket}/*"),
        ),
    )
    block(owner, bucket, BlockPublicAcls=True, IgnorePublicAcls=True)
    anon = fresh_anon(cloud)
    assert denied(anon.delete_public_access_block, Bucket=bucket) == ("AccessDenied", 403)
    assert denied(
        anon.put_bucket_ownership_controls,
        Bucket=bucket,
        OwnershipControls={"Rules": [{"ObjectOwnership": "ObjectWriter"}]},
    ) == ("AccessDenied", 403)
    assert owner.s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"][
        "BlockPublicAcls"
    ]


# Operations mallee does not implement ---------------------------------------------------------


def test_not_implemented_only_after_authorization(
    cloud: Cloud, owner: Account, other: Account, bucket: str
) -> None:
    """No caller learns more than its refusal: NotImplemented is for those the operation's
    own authorization admits."""
    arn = f"arn:aws:s3:::{bucket}"
    anon = fresh_anon(cloud)
    assert denied(anon.get_bucket_replication, Bucket=bucket) == ("AccessDenied", 403)
    assert denied(other.s3.get_bucket_replication, Bucket=bucket) == ("AccessDenied", 403)
    nobody = member(cloud, owner, statement("Allow", "s3:GetObject", f"{arn}/*")).client("s3")
    assert denied(nobody.get_bucket_replication, Bucket=bucket) == ("AccessDenied", 403)
    refused = member(
        cloud,
        owner,
        statement("Allow", "s3:*", "*"),
        statement("Deny", "s3:GetReplicationConfiguration", arn),
    ).client("s3")
    assert denied(refused.get_bucket_replication, Bucket=bucket) == ("AccessDenied", 403)
    allowed = member(
        cloud, owner, statement("Allow", "s3:GetReplicationConfiguration", arn)
    ).client("s3")
    assert denied(allowed.get_bucket_replication, Bucket=bucket) == ("NotImplemented", 501)
    assert denied(owner.s3.get_bucket_replication, Bucket=bucket) == ("NotImplemented", 501)


# Settings go with their bucket ---------------------------------------------------------------


def test_a_deleted_accounts_settings_do_not_pass_to_the_next_owner_of_the_name(
    cloud: Cloud, owner: Account, tmp_path: Path
) -> None:
    admin = euare(cloud, tmp_path)
    name = f"gone-{uuid.uuid4().hex[:8]}"
    admin.create_account(AccountName=name)
    key = admin.create_access_key(DelegateAccount=name)["AccessKey"]
    s3 = cloud.client("s3", key["AccessKeyId"], key["SecretAccessKey"])
    reused = f"reused-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=reused, ObjectOwnership="BucketOwnerEnforced")
    s3.put_public_access_block(
        Bucket=reused, PublicAccessBlockConfiguration={"RestrictPublicBuckets": True}
    )
    s3.put_bucket_website(Bucket=reused, WebsiteConfiguration={"IndexDocument": {"Suffix": "i"}})
    admin.delete_account(AccountName=name, Recursive=True)

    owner.s3.create_bucket(Bucket=reused)
    assert denied(owner.s3.get_public_access_block, Bucket=reused)[1] == 404
    assert denied(owner.s3.get_bucket_ownership_controls, Bucket=reused)[1] == 404
    assert denied(owner.s3.get_bucket_website, Bucket=reused)[1] == 404
    owner.s3.put_bucket_acl(Bucket=reused, ACL="public-read")  # ACLs work: not enforced
