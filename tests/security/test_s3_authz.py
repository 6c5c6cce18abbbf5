"""S3 authorization on every resource an operation touches, against a live cloud with real
boto3, AWS CLI and raw signed requests: each key of DeleteObjects; the version actions
(s3:GetObjectVersion, s3:DeleteObjectVersion, ...) a versionId request needs; a copy's source;
the object RegisterImage reads; the object data an account deletion leaves; and the root
element of a CompleteMultipartUpload document."""

from __future__ import annotations

import hashlib
import json
import secrets
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

from tests.e2e.conftest import REGION, Cloud
from tests.e2e.test_iam_accounts import euare
from tests.e2e.test_s3_acl import Account, denied, fresh_anon

pytestmark = pytest.mark.e2e


@pytest.fixture
def bucket(owner: Account) -> str:
    name = f"authz-{uuid.uuid4().hex[:10]}"
    owner.s3.create_bucket(Bucket=name)
    return name


@dataclass
class Member:
    """An IAM user of the owner's account, with one inline policy."""

    keys: tuple[str, str]
    cloud: Cloud

    def client(self, service: str) -> Any:
        return self.cloud.client(service, *self.keys)

    def cli(self, *args: str) -> Any:
        return self.cloud.aws_cli(*args, access_key=self.keys[0], secret_key=self.keys[1])


def statement(effect: str, action: Any, resource: Any) -> dict[str, Any]:
    return {"Effect": effect, "Action": action, "Resource": resource}


def member(cloud: Cloud, account: Account, *statements: dict[str, Any]) -> Member:
    name = f"u{uuid.uuid4().hex[:8]}"
    account.iam.create_user(UserName=name)
    document = json.dumps({"Version": "2012-10-17", "Statement": list(statements)})
    account.iam.put_user_policy(UserName=name, PolicyName="p", PolicyDocument=document)
    key = account.iam.create_access_key(UserName=name)["AccessKey"]
    return Member((key["AccessKeyId"], key["SecretAccessKey"]), cloud)


def arns(bucket: str) -> list[str]:
    return [f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"]


def keys_of(s3: Any, bucket: str) -> set[str]:
    return {o["Key"] for o in s3.list_objects_v2(Bucket=bucket).get("Contents", [])}


def refused(answer: dict[str, Any]) -> dict[str, str]:
    """Key -> error code of a DeleteObjects answer's Errors."""
    return {e["Key"]: e["Code"] for e in answer.get("Errors", [])}


def deleted(answer: dict[str, Any]) -> set[str]:
    return {d["Key"] for d in answer.get("Deleted", [])}


def delete_request(*keys: str, versions: dict[str, str] | None = None) -> dict[str, Any]:
    objects = []
    for key in keys:
        entry = {"Key": key}
        if versions and key in versions:
            entry["VersionId"] = versions[key]
        objects.append(entry)
    return {"Objects": objects}


# DeleteObjects: every key is its own DeleteObject ------------------------------------------


def test_delete_objects_honours_an_explicit_deny_per_key(
    cloud: Cloud, owner: Account, bucket: str
) -> None:
    user = member(
        cloud,
        owner,
        statement("Allow", "s3:*", arns(bucket)),
        statement("Deny", "s3:DeleteObject", f"arn:aws:s3:::{bucket}/important/*"),
    )
    for key in ("important/x", "scratch/y"):
        owner.s3.put_object(Bucket=bucket, Key=key, Body=b"data")
    single = user.cli("s3api", "delete-object", "--bucket", bucket, "--key", "important/x")
    assert single.returncode != 0 and "AccessDenied" in single.stderr
    many = user.cli(
        "s3api",
        "delete-objects",
        "--bucket",
        bucket,
        "--delete",
        json.dumps(delete_request("important/x", "scratch/y")),
        "--output",
        "json",
    )
    assert many.returncode == 0, many.stderr
    answer = json.loads(many.stdout)
    assert refused(answer) == {"important/x": "AccessDenied"}
    assert deleted(answer) == {"scratch/y"}
    assert keys_of(owner.s3, bucket) == {"important/x"}


def test_delete_objects_user_allowed_one_prefix(cloud: Cloud, owner: Account, bucket: str) -> None:
    user = member(
        cloud, owner, statement("Allow", "s3:DeleteObject", f"arn:aws:s3:::{bucket}/scratch/*")
    )
    for key in ("important/x", "scratch/y"):
        owner.s3.put_object(Bucket=bucket, Key=key, Body=b"data")
    answer = user.client("s3").delete_objects(
        Bucket=bucket, Delete=delete_request("important/x", "scratch/y")
    )
    assert refused(answer) == {"important/x": "AccessDenied"}
    assert deleted(answer) == {"scratch/y"}
    assert keys_of(owner.s3, bucket) == {"important/x"}


def test_delete_objects_other_account_granted_one_prefix(
    owner: Account, other: Account, bucket: str
) -> None:
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": other.id},
                "Action": "s3:*",
                "Resource": [f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/shared/*"],
            }
        ],
    }
    owner.s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps(policy))
    for key in ("private/x", "shared/y"):
        owner.s3.put_object(Bucket=bucket, Key=key, Body=b"data")
    answer = other.s3.delete_objects(Bucket=bucket, Delete=delete_request("private/x", "shared/y"))
    assert refused(answer) == {"private/x": "AccessDenied"}
    assert deleted(answer) == {"shared/y"}
    assert keys_of(owner.s3, bucket) == {"private/x"}
    # Nothing granted at all: every key refused, none deleted (the request itself is fine).
    stranger = other.s3.delete_objects(Bucket=bucket, Delete=delete_request("private/x", "other/z"))
    assert refused(stranger) == {"private/x": "AccessDenied", "other/z": "AccessDenied"}
    owner.s3.delete_bucket_policy(Bucket=bucket)
    whole = other.s3.delete_objects(Bucket=bucket, Delete=delete_request("private/x"))
    assert refused(whole) == {"private/x": "AccessDenied"}
    assert keys_of(owner.s3, bucket) == {"private/x"}


def test_delete_objects_anonymous_per_key_bucket_policy(
    cloud: Cloud, owner: Account, bucket: str
) -> None:
    owner.s3.put_bucket_acl(Bucket=bucket, ACL="public-read-write")
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Deny",
                "Principal": "*",
                "Action": "s3:DeleteObject",
                "Resource": f"arn:aws:s3:::{bucket}/protected/*",
            }
        ],
    }
    owner.s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps(policy))
    for key in ("protected/x", "open/y"):
        owner.s3.put_object(Bucket=bucket, Key=key, Body=b"data")
    anon = fresh_anon(cloud)
    assert denied(anon.delete_object, Bucket=bucket, Key="protected/x") == ("AccessDenied", 403)
    answer = fresh_anon(cloud).delete_objects(
        Bucket=bucket, Delete=delete_request("protected/x", "open/y")
    )
    assert refused(answer) == {"protected/x": "AccessDenied"}
    assert deleted(answer) == {"open/y"}
    assert keys_of(owner.s3, bucket) == {"protected/x"}
    # Without the bucket's WRITE grant anonymous callers delete nothing, key by key.
    owner.s3.put_bucket_acl(Bucket=bucket, ACL="private")
    owner.s3.put_object(Bucket=bucket, Key="open/y", Body=b"data")
    answer = fresh_anon(cloud).delete_objects(Bucket=bucket, Delete=delete_request("open/y"))
    assert refused(answer) == {"open/y": "AccessDenied"}


# Version ids need the *Version actions ------------------------------------------------------


def versioned(owner: Account, bucket: str, key: str) -> tuple[str, str]:
    """(older, latest) version ids of `key`, written twice in the now versioned bucket."""
    owner.s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    first = owner.s3.put_object(Bucket=bucket, Key=key, Body=b"one")["VersionId"]
    second = owner.s3.put_object(Bucket=bucket, Key=key, Body=b"two")["VersionId"]
    return first, second


def test_versioned_deletes_need_delete_object_version(
    cloud: Cloud, owner: Account, bucket: str
) -> None:
    first, _ = versioned(owner, bucket, "k")
    user = member(
        cloud,
        owner,
        statement("Allow", "s3:*", arns(bucket)),
        statement("Deny", "s3:DeleteObjectVersion", f"arn:aws:s3:::{bucket}/*"),
    )
    s3 = user.client("s3")
    assert denied(s3.delete_object, Bucket=bucket, Key="k", VersionId=first) == (
        "AccessDenied",
        403,
    )
    answer = s3.delete_objects(Bucket=bucket, Delete=delete_request("k", versions={"k": first}))
    assert refused(answer) == {"k": "AccessDenied"}
    assert answer["Errors"][0]["VersionId"] == first
    listed = owner.s3.list_object_versions(Bucket=bucket)["Versions"]
    assert first in {v["VersionId"] for v in listed}
    # Without a version id it is a DeleteObject: a delete marker, which the policy allows.
    marker = s3.delete_objects(Bucket=bucket, Delete=delete_request("k"))
    assert marker["Deleted"][0]["DeleteMarker"] is True

    # The version action alone is what a versioned delete needs.
    only_versions = member(
        cloud, owner, statement("Allow", "s3:DeleteObjectVersion", f"arn:aws:s3:::{bucket}/*")
    ).client("s3")
    assert denied(only_versions.delete_object, Bucket=bucket, Key="k") == ("AccessDenied", 403)
    only_versions.delete_object(Bucket=bucket, Key="k", VersionId=first)
    listed = owner.s3.list_object_versions(Bucket=bucket)["Versions"]
    assert first not in {v["VersionId"] for v in listed}


def test_write_grants_delete_versions_only_for_the_bucket_owner(
    cloud: Cloud, owner: Account, other: Account, bucket: str
) -> None:
    first, _ = versioned(owner, bucket, "k")
    owner.s3.put_bucket_acl(
        Bucket=bucket,
        GrantFullControl=f'id="{owner.canonical}"',
        GrantWrite=f'uri="http://acs.amazonaws.com/groups/global/AllUsers",id="{other.canonical}"',
    )
    for s3 in (fresh_anon(cloud), other.fresh()):
        assert denied(s3.delete_object, Bucket=bucket, Key="k", VersionId=first) == (
            "AccessDenied",
            403,
        )
        answer = s3.delete_objects(Bucket=bucket, Delete=delete_request("k", versions={"k": first}))
        assert refused(answer) == {"k": "AccessDenied"}
    assert first in {
        v["VersionId"] for v in owner.s3.list_object_versions(Bucket=bucket)["Versions"]
    }
    # WRITE still deletes the object itself (a delete marker), for anyone it is granted to.
    assert fresh_anon(cloud).delete_object(Bucket=bucket, Key="k")["DeleteMarker"] is True
    owner.s3.delete_object(Bucket=bucket, Key="k", VersionId=first)


def test_versioned_reads_and_subresources_need_version_actions(
    cloud: Cloud, owner: Account, bucket: str
) -> None:
    first, _ = versioned(owner, bucket, "k")
    version_actions = [
        "s3:GetObjectVersion",
        "s3:GetObjectVersionAcl",
        "s3:PutObjectVersionAcl",
        "s3:GetObjectVersionTagging",
        "s3:PutObjectVersionTagging",
        "s3:DeleteObjectVersionTagging",
    ]
    user = member(
        cloud,
        owner,
        statement("Allow", "s3:*", arns(bucket)),
        statement("Deny", version_actions, f"arn:aws:s3:::{bucket}/*"),
    )
    s3 = user.client("s3")
    tags = {"TagSet": [{"Key": "a", "Value": "b"}]}
    calls: list[tuple[str, dict[str, Any]]] = [
        ("get_object", {}),
        ("head_object", {}),
        ("get_object_acl", {}),
        ("put_object_acl", {"ACL": "private"}),
        ("get_object_tagging", {}),
        ("put_object_tagging", {"Tagging": tags}),
        ("delete_object_tagging", {}),
    ]
    for name, extra in calls:
        call = getattr(s3, name)
        # The current object: allowed (s3:GetObject, s3:PutObjectAcl, ...).
        call(Bucket=bucket, Key="k", **extra)
        # A version of it: the *Version action, which is denied.
        with pytest.raises(ClientError) as err:
            call(Bucket=bucket, Key="k", VersionId=first, **extra)
        status = err.value.response["ResponseMetadata"]["HTTPStatusCode"]
        assert status == 403, name
        if name != "head_object":  # a HEAD answer has no body to carry a code
            assert err.value.response["Error"]["Code"] == "AccessDenied", name
    # The version action alone is what a versioned read needs.
    reader = member(
        cloud, owner, statement("Allow", "s3:GetObjectVersion", f"arn:aws:s3:::{bucket}/*")
    ).client("s3")
    assert reader.get_object(Bucket=bucket, Key="k", VersionId=first)["Body"].read() == b"one"
    assert denied(reader.get_object, Bucket=bucket, Key="k") == ("AccessDenied", 403)


# A copy reads its source: s3:GetObject(Version) on it --------------------------------------


def test_copy_sources_need_get_object_version(cloud: Cloud, owner: Account, bucket: str) -> None:
    first, _ = versioned(owner, bucket, "src")
    owner.s3.put_object(Bucket=bucket, Key="secret/s", Body=b"secret")
    user = member(
        cloud,
        owner,
        statement("Allow", "s3:*", arns(bucket)),
        statement("Deny", "s3:GetObjectVersion", f"arn:aws:s3:::{bucket}/src"),
        statement("Deny", "s3:GetObject", f"arn:aws:s3:::{bucket}/secret/*"),
    )
    s3 = user.client("s3")
    s3.copy_object(Bucket=bucket, Key="copy", CopySource={"Bucket": bucket, "Key": "src"})
    source = {"Bucket": bucket, "Key": "src", "VersionId": first}
    assert denied(s3.copy_object, Bucket=bucket, Key="copy", CopySource=source) == (
        "AccessDenied",
        403,
    )
    secret = {"Bucket": bucket, "Key": "secret/s"}
    assert denied(s3.copy_object, Bucket=bucket, Key="copy", CopySource=secret) == (
        "AccessDenied",
        403,
    )
    upload = s3.create_multipart_upload(Bucket=bucket, Key="parts")["UploadId"]
    part = {"Bucket": bucket, "Key": "parts", "UploadId": upload, "PartNumber": 1}
    s3.upload_part_copy(CopySource={"Bucket": bucket, "Key": "src"}, **part)
    assert denied(s3.upload_part_copy, CopySource=source, **part) == ("AccessDenied", 403)
    assert denied(s3.upload_part_copy, CopySource=secret, **part) == ("AccessDenied", 403)
    assert owner.s3.get_object(Bucket=bucket, Key="copy")["Body"].read() == b"two"


def test_anonymous_copy_source_follows_its_bucket_policy(
    cloud: Cloud, owner: Account, bucket: str
) -> None:
    owner.s3.put_bucket_acl(Bucket=bucket, ACL="public-read-write")
    for key in ("open", "closed"):
        owner.s3.put_object(Bucket=bucket, Key=key, Body=key.encode(), ACL="public-read")
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Deny",
                "Principal": "*",
                "Action": "s3:GetObject",
                "Resource": f"arn:aws:s3:::{bucket}/closed",
            }
        ],
    }
    owner.s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps(policy))
    fresh_anon(cloud).copy_object(
        Bucket=bucket, Key="copy-open", CopySource={"Bucket": bucket, "Key": "open"}
    )
    assert owner.s3.get_object(Bucket=bucket, Key="copy-open")["Body"].read() == b"open"
    closed = {"Bucket": bucket, "Key": "closed"}
    assert denied(
        fresh_anon(cloud).copy_object, Bucket=bucket, Key="copy-closed", CopySource=closed
    ) == ("AccessDenied", 403)
    assert "copy-closed" not in keys_of(owner.s3, bucket)


# RegisterImage reads its object as the caller's GetObject would ---------------------------


def register_error(ec2: Any, location: str) -> tuple[str, str]:
    with pytest.raises(ClientError) as err:
        ec2.register_image(ImageLocation=location, Name=f"img-{uuid.uuid4().hex[:8]}")
    error = err.value.response["Error"]
    return str(error["Code"]), str(error["Message"]).replace(location, "<location>")


def test_register_image_reads_through_s3_authorization(
    cloud: Cloud, owner: Account, other: Account, bucket: str
) -> None:
    owner.s3.put_object(Bucket=bucket, Key="images/disk.img", Body=b"\0" * 4096)
    location = f"{bucket}/images/disk.img"
    launcher = statement("Allow", "ec2:*", "*")
    no_s3 = member(cloud, owner, launcher, statement("Deny", "s3:*", "*"))
    assert register_error(no_s3.client("ec2"), location)[0] == "AuthFailure"
    reader = member(
        cloud, owner, launcher, statement("Allow", "s3:GetObject", f"arn:aws:s3:::{bucket}/*")
    )
    image = reader.client("ec2").register_image(ImageLocation=location, Name=f"i-{bucket}")
    assert image["ImageId"].startswith("emi-")
    # S3 says an object is missing only to those who may list the bucket, as GetObject does.
    missing = f"{bucket}/images/missing.img"
    assert register_error(reader.client("ec2"), missing)[0] == "AuthFailure"
    assert denied(reader.client("s3").get_object, Bucket=bucket, Key="images/missing.img") == (
        "AccessDenied",
        403,
    )
    assert register_error(cloud.client("ec2", *owner.keys), missing)[0] == "InvalidParameterValue"

    # Another account learns nothing: a missing object fails as an existing forbidden one.
    ec2 = cloud.client("ec2", *other.keys)
    existing = register_error(ec2, location)
    assert register_error(ec2, missing) == existing
    assert existing[0] == "AuthFailure"
    # Until the bucket policy grants it the read.
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": other.id},
                "Action": "s3:GetObject",
                "Resource": f"arn:aws:s3:::{bucket}/images/*",
            }
        ],
    }
    owner.s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps(policy))
    shared = ec2.register_image(ImageLocation=location, Name=f"o-{bucket}")
    assert shared["ImageId"].startswith("emi-")


# CompleteMultipartUpload's document ---------------------------------------------------------


def signed(
    cloud: Cloud, keys: tuple[str, str], method: str, path: str, body: bytes
) -> tuple[int, bytes]:
    """A SigV4-signed request sent as is (no SDK to correct its document)."""
    request = AWSRequest(
        method=method,
        url=cloud.endpoint + path,
        data=body,
        headers={"x-amz-content-sha256": hashlib.sha256(body).hexdigest()},
    )
    S3SigV4Auth(Credentials(*keys), "s3", REGION).add_auth(request)
    prepared = request.prepare()
    raw = urllib.request.Request(
        prepared.url, data=body, method=method, headers=dict(prepared.headers.items())
    )
    try:
        with urllib.request.urlopen(raw) as answer:
            return int(answer.status), answer.read()
    except urllib.error.HTTPError as err:
        return int(err.code), err.read()


def test_complete_multipart_upload_with_a_wrong_root_is_malformed(
    cloud: Cloud, owner: Account, bucket: str
) -> None:
    upload = owner.s3.create_multipart_upload(Bucket=bucket, Key="mp")["UploadId"]
    etag = owner.s3.upload_part(
        Bucket=bucket, Key="mp", UploadId=upload, PartNumber=1, Body=b"part"
    )["ETag"]
    parts = f"<Part><PartNumber>1</PartNumber><ETag>{etag}</ETag></Part>"
    path = f"/{bucket}/mp?uploadId={upload}"
    for root in ("CompleteMultipartUploadX", "Delete"):
        status, body = signed(cloud, owner.keys, "POST", path, f"<{root}>{parts}</{root}>".encode())
        assert status == 400 and b"<Code>MalformedXML</Code>" in body, (root, body)
    # The upload is untouched: the right document completes it.
    document = f"<CompleteMultipartUpload>{parts}</CompleteMultipartUpload>"
    status, body = signed(cloud, owner.keys, "POST", path, document.encode())
    assert status == 200, body
    assert owner.s3.get_object(Bucket=bucket, Key="mp")["Body"].read() == b"part"


# Deleting an account deletes its object data -----------------------------------------------


def blobs_holding(cloud: Cloud, marker: bytes) -> int:
    """How many stored blobs hold `marker` (files of the fs backend, objects of the s3 one)."""
    if cloud.object_store is not None:
        store = cloud.object_store.client()
        found = 0
        for page in store.get_paginator("list_objects_v2").paginate(Bucket=store_bucket(cloud)):
            for item in page.get("Contents", []):
                data = store.get_object(Bucket=store_bucket(cloud), Key=item["Key"])["Body"]
                found += marker in data.read()
        return found
    assert cloud.data_dir is not None
    root = cloud.data_dir / "objects"
    return sum(marker in p.read_bytes() for p in root.rglob("*") if p.is_file())


def store_bucket(cloud: Cloud) -> str:
    assert cloud.object_store is not None
    return cloud.object_store.bucket


def test_deleting_an_account_deletes_its_object_data(
    cloud: Cloud, owner: Account, tmp_path: Path
) -> None:
    if cloud.data_dir is None and cloud.object_store is None:
        pytest.skip("the object data of a deployed cloud is out of reach")
    admin = euare(cloud, tmp_path)
    name = f"gone-{uuid.uuid4().hex[:8]}"
    admin.create_account(AccountName=name)
    key = admin.create_access_key(DelegateAccount=name)["AccessKey"]
    s3 = cloud.client("s3", key["AccessKeyId"], key["SecretAccessKey"])
    marker = secrets.token_hex(16).encode()
    big = marker + b"\0" * (256 << 10)  # past what rows keep inline: a blob of its own
    kept = f"kept-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=kept)
    s3.put_bucket_versioning(Bucket=kept, VersioningConfiguration={"Status": "Enabled"})
    s3.put_object(Bucket=kept, Key="a", Body=big)
    s3.put_object(Bucket=kept, Key="a", Body=big)  # two versions, two blobs
    s3.put_object(Bucket=kept, Key="b", Body=big)
    upload = s3.create_multipart_upload(Bucket=kept, Key="c")["UploadId"]
    s3.upload_part(Bucket=kept, Key="c", UploadId=upload, PartNumber=1, Body=big)
    plain = f"plain-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=plain)
    s3.put_object(Bucket=plain, Key="d", Body=big)
    # The account's object in someone else's bucket is that bucket's, and stays.
    owner.s3.put_bucket_acl(Bucket=owner_bucket(owner), ACL="public-read-write")
    s3.put_object(Bucket=owner_bucket(owner), Key="theirs", Body=big)
    assert blobs_holding(cloud, marker) == 6

    admin.delete_account(AccountName=name, Recursive=True)
    deadline = time.monotonic() + 10
    while blobs_holding(cloud, marker) > 1 and time.monotonic() < deadline:
        time.sleep(0.2)
    assert blobs_holding(cloud, marker) == 1
    for gone in (kept, plain):
        assert denied(owner.s3.head_bucket, Bucket=gone)[1] == 404
    assert "theirs" in keys_of(owner.s3, owner_bucket(owner))


def owner_bucket(owner: Account) -> str:
    """One bucket of the owner's that outlives the test (made on first use)."""
    name = f"keep-{owner.id}"
    if name not in {b["Name"] for b in owner.s3.list_buckets()["Buckets"]}:
        owner.s3.create_bucket(Bucket=name)
    return name
