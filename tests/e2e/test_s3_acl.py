"""S3 ACLs through boto3 and the AWS CLI: canned ACLs, grant headers, AccessControlPolicy
documents, and who they admit: other accounts, authenticated users, anonymous callers."""

from __future__ import annotations

import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from botocore import UNSIGNED
from botocore.exceptions import ClientError

from tests.e2e.conftest import Cloud
from tests.e2e.test_iam_accounts import new_account

pytestmark = pytest.mark.e2e

ALL_USERS = "http://acs.amazonaws.com/groups/global/AllUsers"
AUTHENTICATED = "http://acs.amazonaws.com/groups/global/AuthenticatedUsers"


@dataclass
class Account:
    id: str
    s3: Any
    iam: Any
    keys: tuple[str, str]
    cloud: Cloud

    def fresh(self) -> Any:
        """A client on a new connection: an upload refused before its body was sent leaves
        the connection unusable (see fresh_anon)."""
        return self.cloud.client("s3", *self.keys)

    @property
    def canonical(self) -> str:
        return str(self.s3.list_buckets()["Owner"]["ID"])


def make_account(cloud: Cloud, tmp: Path) -> Account:
    acct, ak, sk = new_account(cloud, tmp)
    return Account(acct, cloud.client("s3", ak, sk), cloud.client("iam", ak, sk), (ak, sk), cloud)


@pytest.fixture(scope="module")
def owner(cloud: Cloud, tmp_path_factory: pytest.TempPathFactory) -> Account:
    return make_account(cloud, tmp_path_factory.mktemp("owner"))


@pytest.fixture(scope="module")
def other(cloud: Cloud, tmp_path_factory: pytest.TempPathFactory) -> Account:
    return make_account(cloud, tmp_path_factory.mktemp("other"))


@pytest.fixture(scope="module")
def anon(cloud: Cloud) -> Any:
    return cloud.client("s3", signature_version=UNSIGNED)


def fresh_anon(cloud: Cloud) -> Any:
    # botocore sends uploads with "Expect: 100-continue" and withholds the body when refused;
    # the server does not yet close such a connection, so the next request on it would be
    # misread. Refused uploads therefore go over a connection of their own.
    return cloud.client("s3", signature_version=UNSIGNED)


@pytest.fixture
def bucket(owner: Account) -> str:
    name = f"acl-{uuid.uuid4().hex[:10]}"
    owner.s3.create_bucket(Bucket=name)
    return name


def code(err: pytest.ExceptionInfo[ClientError]) -> tuple[str, int]:
    r = err.value.response
    return str(r["Error"]["Code"]), int(r["ResponseMetadata"]["HTTPStatusCode"])


def denied(call: Any, **kwargs: Any) -> tuple[str, int]:
    with pytest.raises(ClientError) as err:
        call(**kwargs)
    return code(err)


def grant_set(acl: dict[str, Any]) -> set[tuple[str, str]]:
    out = set()
    for g in acl["Grants"]:
        who = g["Grantee"]
        out.add((who.get("ID") or who.get("URI"), g["Permission"]))
    return out


def test_default_and_canned_acls(owner: Account, bucket: str) -> None:
    acl = owner.s3.get_bucket_acl(Bucket=bucket)
    me = owner.canonical
    assert acl["Owner"]["ID"] == me and acl["Owner"]["DisplayName"]
    assert acl["Grants"] == [
        {
            "Grantee": {
                "Type": "CanonicalUser",
                "ID": me,
                "DisplayName": acl["Owner"]["DisplayName"],
            },
            "Permission": "FULL_CONTROL",
        }
    ]
    owner.s3.put_bucket_acl(Bucket=bucket, ACL="public-read-write")
    assert grant_set(owner.s3.get_bucket_acl(Bucket=bucket)) == {
        (me, "FULL_CONTROL"),
        (ALL_USERS, "READ"),
        (ALL_USERS, "WRITE"),
    }
    owner.s3.put_object(Bucket=bucket, Key="k", Body=b"x", ACL="authenticated-read")
    assert grant_set(owner.s3.get_object_acl(Bucket=bucket, Key="k")) == {
        (me, "FULL_CONTROL"),
        (AUTHENTICATED, "READ"),
    }
    owner.s3.put_object_acl(Bucket=bucket, Key="k", ACL="private")
    assert grant_set(owner.s3.get_object_acl(Bucket=bucket, Key="k")) == {(me, "FULL_CONTROL")}


def test_acl_errors(owner: Account, other: Account, bucket: str) -> None:
    s3 = owner.s3
    assert denied(s3.put_bucket_acl, Bucket=bucket, ACL="public") == ("InvalidArgument", 400)
    bad_id = "0" * 64
    assert denied(s3.put_bucket_acl, Bucket=bucket, GrantRead=f'id="{bad_id}"') == (
        "InvalidArgument",
        400,
    )
    assert denied(s3.put_bucket_acl, Bucket=bucket, GrantRead='emailAddress="a@b.example"') == (
        "UnresolvableGrantByEmailAddress",
        400,
    )
    assert denied(s3.put_bucket_acl, Bucket=bucket, GrantRead="garbage") == ("InvalidArgument", 400)
    assert denied(
        s3.put_bucket_acl, Bucket=bucket, ACL="public-read", GrantRead=f'uri="{ALL_USERS}"'
    ) == ("InvalidRequest", 400)
    assert denied(s3.put_bucket_acl, Bucket=bucket) == ("MissingSecurityHeader", 400)
    doc = {"Owner": {"ID": other.canonical}, "Grants": []}
    assert denied(s3.put_bucket_acl, Bucket=bucket, AccessControlPolicy=doc) == (
        "AccessDenied",
        403,
    )
    doc = {
        "Owner": {"ID": owner.canonical},
        "Grants": [{"Grantee": {"Type": "Group", "URI": ALL_USERS}, "Permission": "EVERYTHING"}],
    }
    assert denied(s3.put_bucket_acl, Bucket=bucket, AccessControlPolicy=doc) == (
        "MalformedACLError",
        400,
    )
    assert denied(s3.get_object_acl, Bucket=bucket, Key="none") == ("NoSuchKey", 404)
    assert denied(s3.get_bucket_acl, Bucket=f"no-{bucket}") == ("NoSuchBucket", 404)
    # An object's grants are checked before its body is stored.
    assert denied(
        owner.fresh().put_object, Bucket=bucket, Key="g", Body=b"x", GrantRead=f"id={bad_id}"
    ) == (
        "InvalidArgument",
        400,
    )
    assert denied(s3.head_object, Bucket=bucket, Key="g")[1] == 404


def test_access_control_policy_document(owner: Account, other: Account, bucket: str) -> None:
    me, them = owner.canonical, other.canonical
    doc = {
        "Owner": {"ID": me},
        "Grants": [
            {"Grantee": {"Type": "CanonicalUser", "ID": me}, "Permission": "FULL_CONTROL"},
            {"Grantee": {"Type": "CanonicalUser", "ID": them}, "Permission": "READ_ACP"},
        ],
    }
    owner.s3.put_bucket_acl(Bucket=bucket, AccessControlPolicy=doc)
    acl = other.s3.get_bucket_acl(Bucket=bucket)  # READ_ACP lets them read the ACL ...
    assert grant_set(acl) == {(me, "FULL_CONTROL"), (them, "READ_ACP")}
    assert denied(other.s3.put_bucket_acl, Bucket=bucket, ACL="public-read")[1] == 403
    assert denied(other.s3.list_objects_v2, Bucket=bucket)[1] == 403  # ... and nothing else
    doc["Grants"].append(
        {"Grantee": {"Type": "CanonicalUser", "ID": them}, "Permission": "WRITE_ACP"}
    )
    owner.s3.put_bucket_acl(Bucket=bucket, AccessControlPolicy=doc)
    other.s3.put_bucket_acl(Bucket=bucket, GrantRead=f'id="{them}"')
    assert grant_set(owner.s3.get_bucket_acl(Bucket=bucket)) == {(them, "READ")}
    other.s3.list_objects_v2(Bucket=bucket)
    # The owner keeps control of its ACL whatever the ACL says.
    owner.s3.put_bucket_acl(Bucket=bucket, ACL="private")
    assert denied(other.s3.list_objects_v2, Bucket=bucket)[1] == 403


def test_other_account_by_grants(owner: Account, other: Account, bucket: str) -> None:
    owner.s3.put_object(Bucket=bucket, Key="mine", Body=b"owner's")
    assert denied(other.s3.list_objects_v2, Bucket=bucket) == ("AccessDenied", 403)
    assert denied(other.s3.get_object, Bucket=bucket, Key="mine") == ("AccessDenied", 403)
    them = f'id="{other.canonical}"'
    owner.s3.put_bucket_acl(
        Bucket=bucket, GrantRead=them, GrantFullControl=f'id="{owner.canonical}"'
    )
    assert [o["Key"] for o in other.s3.list_objects_v2(Bucket=bucket)["Contents"]] == ["mine"]
    other.s3.head_bucket(Bucket=bucket)
    # Bucket READ lists; the object's own ACL decides reading it (a missing key: NoSuchKey).
    assert denied(other.s3.get_object, Bucket=bucket, Key="mine") == ("AccessDenied", 403)
    assert denied(other.s3.get_object, Bucket=bucket, Key="nothing") == ("NoSuchKey", 404)
    owner.s3.put_object_acl(Bucket=bucket, Key="mine", GrantRead=them)
    assert other.s3.get_object(Bucket=bucket, Key="mine")["Body"].read() == b"owner's"
    assert denied(other.fresh().put_object, Bucket=bucket, Key="theirs", Body=b"x") == (
        "AccessDenied",
        403,
    )
    owner.s3.put_bucket_acl(
        Bucket=bucket,
        GrantRead=them,
        GrantWrite=them,
        GrantFullControl=f'id="{owner.canonical}"',
    )
    other.s3.put_object(Bucket=bucket, Key="theirs", Body=b"x")
    # The writer owns what it wrote: the bucket owner may delete it but not read it ...
    acl = other.s3.get_object_acl(Bucket=bucket, Key="theirs")
    assert acl["Owner"]["ID"] == other.canonical
    assert denied(owner.s3.get_object, Bucket=bucket, Key="theirs") == ("AccessDenied", 403)
    # ... unless the writer says so.
    other.s3.put_object(Bucket=bucket, Key="given", Body=b"y", ACL="bucket-owner-full-control")
    assert owner.s3.get_object(Bucket=bucket, Key="given")["Body"].read() == b"y"
    assert (owner.canonical, "FULL_CONTROL") in grant_set(
        owner.s3.get_object_acl(Bucket=bucket, Key="given")
    )
    owner.s3.delete_object(Bucket=bucket, Key="theirs")
    other.s3.delete_object(Bucket=bucket, Key="given")


def test_users_need_policies_but_groups_admit_anyone(
    cloud: Cloud, owner: Account, other: Account, bucket: str
) -> None:
    name = f"u{uuid.uuid4().hex[:8]}"
    owner.iam.create_user(UserName=name)
    key = owner.iam.create_access_key(UserName=name)["AccessKey"]
    user = cloud.client("s3", key["AccessKeyId"], key["SecretAccessKey"])
    owner.s3.put_object(Bucket=bucket, Key="private", Body=b"p")
    owner.s3.put_object(Bucket=bucket, Key="public", Body=b"P", ACL="public-read")
    owner.s3.put_object(Bucket=bucket, Key="signed-in", Body=b"S", ACL="authenticated-read")
    # The owner's FULL_CONTROL grant is the account's: its users still need a policy.
    assert denied(user.get_object, Bucket=bucket, Key="private") == ("AccessDenied", 403)
    assert denied(user.list_objects_v2, Bucket=bucket) == ("AccessDenied", 403)
    assert user.get_object(Bucket=bucket, Key="public")["Body"].read() == b"P"
    assert user.get_object(Bucket=bucket, Key="signed-in")["Body"].read() == b"S"
    assert other.s3.get_object(Bucket=bucket, Key="signed-in")["Body"].read() == b"S"
    with pytest.raises(urllib.error.HTTPError) as err:
        urllib.request.urlopen(f"{cloud.endpoint}/{bucket}/signed-in")
    assert err.value.code == 403
    with urllib.request.urlopen(f"{cloud.endpoint}/{bucket}/public") as answer:
        assert answer.read() == b"P"
    policy = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}],
    }
    import json

    owner.iam.put_user_policy(UserName=name, PolicyName="read", PolicyDocument=json.dumps(policy))
    assert user.get_object(Bucket=bucket, Key="private")["Body"].read() == b"p"


def test_anonymous_callers(cloud: Cloud, anon: Any, owner: Account, bucket: str) -> None:
    assert denied(anon.list_objects_v2, Bucket=bucket) == ("AccessDenied", 403)
    assert denied(fresh_anon(cloud).put_object, Bucket=bucket, Key="a", Body=b"x") == (
        "AccessDenied",
        403,
    )
    assert denied(anon.get_bucket_acl, Bucket=bucket) == ("AccessDenied", 403)
    owner.s3.put_bucket_acl(Bucket=bucket, ACL="public-read-write")
    anon.put_object(Bucket=bucket, Key="a", Body=b"anonymous")
    assert [o["Key"] for o in anon.list_objects_v2(Bucket=bucket)["Contents"]] == ["a"]
    # Written anonymously: the bucket owner owns it; nobody granted anyone READ on it.
    assert owner.s3.get_object(Bucket=bucket, Key="a")["Body"].read() == b"anonymous"
    assert denied(anon.get_object, Bucket=bucket, Key="a") == ("AccessDenied", 403)
    assert denied(anon.get_object, Bucket=bucket, Key="missing") == ("NoSuchKey", 404)
    assert denied(anon.get_bucket_acl, Bucket=bucket) == ("AccessDenied", 403)
    owner.s3.put_bucket_acl(
        Bucket=bucket, GrantReadACP=f'uri="{ALL_USERS}"', GrantRead=f'uri="{ALL_USERS}"'
    )
    assert (ALL_USERS, "READ_ACP") in grant_set(anon.get_bucket_acl(Bucket=bucket))
    assert denied(anon.put_bucket_acl, Bucket=bucket, ACL="public-read-write")[1] == 403
    assert denied(fresh_anon(cloud).put_object, Bucket=bucket, Key="b", Body=b"x")[1] == 403
    assert denied(anon.head_bucket, Bucket=f"missing-{bucket}")[1] == 404


def test_object_acls_follow_versions(anon: Any, owner: Account, bucket: str) -> None:
    s3 = owner.s3
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    first = s3.put_object(Bucket=bucket, Key="v", Body=b"one")["VersionId"]
    second = s3.put_object(Bucket=bucket, Key="v", Body=b"two")["VersionId"]
    s3.put_object_acl(Bucket=bucket, Key="v", VersionId=first, ACL="public-read")
    assert (ALL_USERS, "READ") in grant_set(
        s3.get_object_acl(Bucket=bucket, Key="v", VersionId=first)
    )
    assert (ALL_USERS, "READ") not in grant_set(s3.get_object_acl(Bucket=bucket, Key="v"))
    assert anon.get_object(Bucket=bucket, Key="v", VersionId=first)["Body"].read() == b"one"
    assert denied(anon.get_object, Bucket=bucket, Key="v")[1] == 403
    assert denied(anon.get_object, Bucket=bucket, Key="v", VersionId=second)[1] == 403
    assert denied(s3.get_object_acl, Bucket=bucket, Key="v", VersionId="nope") == (
        "NoSuchVersion",
        404,
    )


def test_grants_on_create(cloud: Cloud, owner: Account, other: Account) -> None:
    name = f"acl-{uuid.uuid4().hex[:10]}"
    them = f'id="{other.canonical}"'
    owner.s3.create_bucket(Bucket=name, GrantRead=them, GrantFullControl=f'id="{owner.canonical}"')
    assert (other.canonical, "READ") in grant_set(owner.s3.get_bucket_acl(Bucket=name))
    other.s3.list_objects_v2(Bucket=name)
    owner.s3.put_object(Bucket=name, Key="k", Body=b"k", GrantRead=them)
    assert grant_set(owner.s3.get_object_acl(Bucket=name, Key="k")) == {(other.canonical, "READ")}
    assert other.s3.get_object(Bucket=name, Key="k")["Body"].read() == b"k"
    upload = owner.s3.create_multipart_upload(Bucket=name, Key="mp", GrantRead=them)
    part = owner.s3.upload_part(
        Bucket=name, Key="mp", UploadId=upload["UploadId"], PartNumber=1, Body=b"m"
    )
    owner.s3.complete_multipart_upload(
        Bucket=name,
        Key="mp",
        UploadId=upload["UploadId"],
        MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": part["ETag"]}]},
    )
    assert other.s3.get_object(Bucket=name, Key="mp")["Body"].read() == b"m"
    bad = f"acl-{uuid.uuid4().hex[:10]}"
    assert denied(owner.s3.create_bucket, Bucket=bad, GrantRead=f"id={'1' * 64}") == (
        "InvalidArgument",
        400,
    )
    assert denied(owner.s3.head_bucket, Bucket=bad)[1] == 404


def test_aws_cli_put_bucket_acl(cloud: Cloud, owner: Account, bucket: str) -> None:
    ak, sk = owner.keys
    cloud.aws_cli(
        "s3api",
        "put-bucket-acl",
        "--bucket",
        bucket,
        "--grant-read",
        f"uri={ALL_USERS}",
        access_key=ak,
        secret_key=sk,
        check=True,
    )
    out = cloud.aws_cli(
        "s3api", "get-bucket-acl", "--bucket", bucket, access_key=ak, secret_key=sk, check=True
    )
    assert ALL_USERS in out.stdout and '"READ"' in out.stdout
    bad = cloud.aws_cli(
        "s3api",
        "put-bucket-acl",
        "--bucket",
        bucket,
        "--grant-read",
        "id=" + "0" * 64,
        access_key=ak,
        secret_key=sk,
    )
    assert bad.returncode != 0 and "InvalidArgument" in bad.stderr
