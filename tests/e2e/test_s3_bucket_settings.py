"""Bucket settings through boto3 and the AWS CLI: request payment, default encryption (and the
encryption objects report), public access block, ownership controls, logging, website and
transfer acceleration; and NotImplemented (501) for the S3 operations mallee does not do."""

from __future__ import annotations

import base64
import hashlib
import json
import uuid
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.e2e.conftest import Cloud
from tests.e2e.s3util import code, new_bucket
from tests.e2e.test_s3_acl import Account, make_account

pytestmark = pytest.mark.e2e

AES256_RULE = {
    "ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"},
    "BucketKeyEnabled": False,
}
PAB_ALL = {
    "BlockPublicAcls": True,
    "IgnorePublicAcls": True,
    "BlockPublicPolicy": True,
    "RestrictPublicBuckets": True,
}


@pytest.fixture(scope="module")
def account(cloud: Cloud, tmp_path_factory: pytest.TempPathFactory) -> Account:
    """An account of this module's own: its buckets count against its own bucket limit."""
    return make_account(cloud, tmp_path_factory.mktemp("settings"))


@pytest.fixture(scope="module")
def s3(account: Account) -> Any:
    return account.s3


@pytest.fixture
def bucket(s3: Any) -> str:
    return new_bucket(s3, "set")


@pytest.fixture(scope="module")
def untouched(s3: Any) -> str:
    """One bucket for the requests that must be refused, changing nothing."""
    return new_bucket(s3, "untouched")


def failure(call: Any, **kwargs: Any) -> tuple[str, int]:
    with pytest.raises(ClientError) as err:
        call(**kwargs)
    return code(err)


def missing() -> str:
    return f"missing-{uuid.uuid4().hex[:8]}"


def test_request_payment(s3: Any, bucket: str) -> None:
    assert s3.get_bucket_request_payment(Bucket=bucket)["Payer"] == "BucketOwner"
    s3.put_bucket_request_payment(Bucket=bucket, RequestPaymentConfiguration={"Payer": "Requester"})
    assert s3.get_bucket_request_payment(Bucket=bucket)["Payer"] == "Requester"
    s3.put_bucket_request_payment(
        Bucket=bucket, RequestPaymentConfiguration={"Payer": "BucketOwner"}
    )
    assert s3.get_bucket_request_payment(Bucket=bucket)["Payer"] == "BucketOwner"
    assert failure(
        s3.put_bucket_request_payment,
        Bucket=bucket,
        RequestPaymentConfiguration={"Payer": "Nobody"},
    ) == ("MalformedXML", 400)
    assert failure(s3.get_bucket_request_payment, Bucket=missing()) == ("NoSuchBucket", 404)


def test_default_encryption_and_what_objects_report(s3: Any, bucket: str) -> None:
    # Every bucket has SSE-S3 by default, as AWS's since 2023.
    config = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]
    assert config["Rules"] == [AES256_RULE]
    put = s3.put_object(Bucket=bucket, Key="k", Body=b"data")
    assert put["ServerSideEncryption"] == "AES256"
    assert s3.head_object(Bucket=bucket, Key="k")["ServerSideEncryption"] == "AES256"
    assert s3.get_object(Bucket=bucket, Key="k")["ServerSideEncryption"] == "AES256"
    copied = s3.copy_object(Bucket=bucket, Key="c", CopySource=f"{bucket}/k")
    assert copied["ServerSideEncryption"] == "AES256"
    upload = s3.create_multipart_upload(Bucket=bucket, Key="m", ServerSideEncryption="AES256")
    assert upload["ServerSideEncryption"] == "AES256"
    part = s3.upload_part(
        Bucket=bucket, Key="m", UploadId=upload["UploadId"], PartNumber=1, Body=b"part"
    )
    assert part["ServerSideEncryption"] == "AES256"
    done = s3.complete_multipart_upload(
        Bucket=bucket,
        Key="m",
        UploadId=upload["UploadId"],
        MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": part["ETag"]}]},
    )
    assert done["ServerSideEncryption"] == "AES256"

    s3.put_bucket_encryption(
        Bucket=bucket,
        ServerSideEncryptionConfiguration={
            "Rules": [
                {
                    "ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"},
                    "BucketKeyEnabled": True,
                }
            ]
        },
    )
    rules = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"]
    assert rules == [{**AES256_RULE, "BucketKeyEnabled": True}]
    assert s3.delete_bucket_encryption(Bucket=bucket)["ResponseMetadata"]["HTTPStatusCode"] == 204
    config = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]
    assert config["Rules"] == [AES256_RULE]


@pytest.mark.parametrize(
    ("default", "wanted"),
    [
        ({"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": "alias/k"}, ("NotImplemented", 501)),
        ({"SSEAlgorithm": "aws:kms:dsse"}, ("NotImplemented", 501)),
        ({"SSEAlgorithm": "AES256", "KMSMasterKeyID": "alias/k"}, ("InvalidArgument", 400)),
        ({"SSEAlgorithm": "aws:fsx"}, ("MalformedXML", 400)),
    ],
)
def test_encryption_without_kms(
    s3: Any, untouched: str, default: dict[str, str], wanted: tuple[str, int]
) -> None:
    config = {"Rules": [{"ApplyServerSideEncryptionByDefault": default}]}
    assert (
        failure(
            s3.put_bucket_encryption, Bucket=untouched, ServerSideEncryptionConfiguration=config
        )
        == wanted
    )
    # Nothing was kept: still the default.
    rules = s3.get_bucket_encryption(Bucket=untouched)["ServerSideEncryptionConfiguration"]["Rules"]
    assert rules == [AES256_RULE]


def test_object_writes_asking_for_kms_or_customer_keys_are_refused(
    account: Account, s3: Any, untouched: str
) -> None:
    assert failure(
        s3.put_object, Bucket=untouched, Key="kms", Body=b"x", ServerSideEncryption="aws:kms"
    ) == ("NotImplemented", 501)
    fresh = account.fresh()  # a refused upload leaves its connection unusable
    key = b"k" * 32
    assert failure(
        fresh.put_object,
        Bucket=untouched,
        Key="ssec",
        Body=b"x",
        SSECustomerAlgorithm="AES256",
        SSECustomerKey=base64.b64encode(key).decode(),
        SSECustomerKeyMD5=base64.b64encode(hashlib.md5(key).digest()).decode(),
    ) == ("NotImplemented", 501)
    fresh = account.fresh()
    assert failure(
        fresh.create_multipart_upload, Bucket=untouched, Key="kms", ServerSideEncryption="aws:kms"
    ) == ("NotImplemented", 501)
    assert failure(s3.head_object, Bucket=untouched, Key="kms")[1] == 404
    assert failure(s3.head_object, Bucket=untouched, Key="ssec")[1] == 404


def test_public_access_block_round_trip(s3: Any, bucket: str) -> None:
    assert failure(s3.get_public_access_block, Bucket=bucket) == (
        "NoSuchPublicAccessBlockConfiguration",
        404,
    )
    s3.put_public_access_block(
        Bucket=bucket, PublicAccessBlockConfiguration={"BlockPublicAcls": True}
    )
    got = s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"]
    assert got == {
        "BlockPublicAcls": True,
        "IgnorePublicAcls": False,
        "BlockPublicPolicy": False,
        "RestrictPublicBuckets": False,
    }
    s3.put_public_access_block(Bucket=bucket, PublicAccessBlockConfiguration=PAB_ALL)
    assert s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"] == PAB_ALL
    assert failure(
        s3.put_public_access_block, Bucket=bucket, PublicAccessBlockConfiguration={}
    ) == ("InvalidRequest", 400)
    assert s3.delete_public_access_block(Bucket=bucket)["ResponseMetadata"]["HTTPStatusCode"] == 204
    assert failure(s3.get_public_access_block, Bucket=bucket)[1] == 404


def test_block_public_acls_and_policy(s3: Any, bucket: str) -> None:
    s3.put_public_access_block(
        Bucket=bucket,
        PublicAccessBlockConfiguration={"BlockPublicAcls": True, "BlockPublicPolicy": True},
    )
    assert failure(s3.put_bucket_acl, Bucket=bucket, ACL="public-read") == ("AccessDenied", 403)
    assert failure(
        s3.put_bucket_acl,
        Bucket=bucket,
        GrantRead='uri="http://acs.amazonaws.com/groups/global/AuthenticatedUsers"',
    ) == ("AccessDenied", 403)
    s3.put_bucket_acl(Bucket=bucket, ACL="private")  # not public: allowed
    assert failure(s3.put_object, Bucket=bucket, Key="pub", Body=b"x", ACL="public-read") == (
        "AccessDenied",
        403,
    )
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    assert failure(s3.put_object_acl, Bucket=bucket, Key="k", ACL="public-read-write") == (
        "AccessDenied",
        403,
    )
    public = json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": "*",
                    "Action": "s3:GetObject",
                    "Resource": f"arn:aws:s3:::{bucket}/*",
                }
            ],
        }
    )
    assert failure(s3.put_bucket_policy, Bucket=bucket, Policy=public) == ("AccessDenied", 403)
    s3.delete_public_access_block(Bucket=bucket)
    s3.put_bucket_policy(Bucket=bucket, Policy=public)  # no block any more
    s3.put_object_acl(Bucket=bucket, Key="k", ACL="public-read")


def test_ownership_controls(s3: Any, bucket: str) -> None:
    assert failure(s3.get_bucket_ownership_controls, Bucket=bucket) == (
        "OwnershipControlsNotFoundError",
        404,
    )
    for ownership in ("ObjectWriter", "BucketOwnerPreferred", "BucketOwnerEnforced"):
        s3.put_bucket_ownership_controls(
            Bucket=bucket, OwnershipControls={"Rules": [{"ObjectOwnership": ownership}]}
        )
        rules = s3.get_bucket_ownership_controls(Bucket=bucket)["OwnershipControls"]["Rules"]
        assert rules == [{"ObjectOwnership": ownership}]
    # ACLs disabled: only the owner's full control may be set.
    assert failure(s3.put_bucket_acl, Bucket=bucket, ACL="public-read") == (
        "AccessControlListNotSupported",
        400,
    )
    s3.put_bucket_acl(Bucket=bucket, ACL="private")
    assert failure(s3.put_object, Bucket=bucket, Key="k", Body=b"x", ACL="authenticated-read") == (
        "AccessControlListNotSupported",
        400,
    )
    s3.put_object(Bucket=bucket, Key="k", Body=b"x", ACL="bucket-owner-full-control")
    assert failure(s3.put_object_acl, Bucket=bucket, Key="k", ACL="public-read") == (
        "AccessControlListNotSupported",
        400,
    )
    # Reading ACLs still answers.
    assert [g["Permission"] for g in s3.get_object_acl(Bucket=bucket, Key="k")["Grants"]] == [
        "FULL_CONTROL"
    ]
    assert failure(
        s3.put_bucket_ownership_controls,
        Bucket=bucket,
        OwnershipControls={"Rules": [{"ObjectOwnership": "Everyone"}]},
    ) == ("MalformedXML", 400)
    response = s3.delete_bucket_ownership_controls(Bucket=bucket)
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 204
    assert failure(s3.get_bucket_ownership_controls, Bucket=bucket)[1] == 404
    s3.put_bucket_acl(Bucket=bucket, ACL="public-read")  # ACLs work again


def test_enforced_ownership_needs_a_private_bucket_acl(s3: Any) -> None:
    name = new_bucket(s3, ACL="public-read")
    enforced = {"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]}
    assert failure(s3.put_bucket_ownership_controls, Bucket=name, OwnershipControls=enforced) == (
        "InvalidBucketAclWithObjectOwnership",
        400,
    )
    assert failure(
        s3.create_bucket,
        Bucket=f"own-{uuid.uuid4().hex[:8]}",
        ACL="public-read",
        ObjectOwnership="BucketOwnerEnforced",
    ) == ("InvalidBucketAclWithObjectOwnership", 400)
    made = new_bucket(s3, ObjectOwnership="BucketOwnerPreferred")
    rules = s3.get_bucket_ownership_controls(Bucket=made)["OwnershipControls"]["Rules"]
    assert rules == [{"ObjectOwnership": "BucketOwnerPreferred"}]


def test_logging(s3: Any, bucket: str, cloud: Cloud, tmp_path: Path) -> None:
    assert "LoggingEnabled" not in s3.get_bucket_logging(Bucket=bucket)
    target = new_bucket(s3, "logs")
    enabled = {"TargetBucket": target, "TargetPrefix": f"{bucket}/"}
    s3.put_bucket_logging(Bucket=bucket, BucketLoggingStatus={"LoggingEnabled": enabled})
    assert s3.get_bucket_logging(Bucket=bucket)["LoggingEnabled"] == enabled
    grant = {
        "Grantee": {"Type": "Group", "URI": "http://acs.amazonaws.com/groups/s3/LogDelivery"},
        "Permission": "WRITE",
    }
    with_grants = {**enabled, "TargetGrants": [grant]}
    s3.put_bucket_logging(Bucket=bucket, BucketLoggingStatus={"LoggingEnabled": with_grants})
    assert s3.get_bucket_logging(Bucket=bucket)["LoggingEnabled"] == with_grants
    s3.put_bucket_logging(Bucket=bucket, BucketLoggingStatus={})
    assert "LoggingEnabled" not in s3.get_bucket_logging(Bucket=bucket)

    nowhere = {"TargetBucket": missing(), "TargetPrefix": "p/"}
    assert failure(
        s3.put_bucket_logging, Bucket=bucket, BucketLoggingStatus={"LoggingEnabled": nowhere}
    ) == ("InvalidTargetBucketForLogging", 400)
    # Another account's bucket is not a target.
    other = make_account(cloud, tmp_path)
    theirs = new_bucket(other.s3, "theirs")
    elsewhere = {"TargetBucket": theirs, "TargetPrefix": "p/"}
    assert failure(
        s3.put_bucket_logging, Bucket=bucket, BucketLoggingStatus={"LoggingEnabled": elsewhere}
    ) == ("InvalidTargetBucketForLogging", 400)
    assert "LoggingEnabled" not in s3.get_bucket_logging(Bucket=bucket)


def test_website(s3: Any, bucket: str) -> None:
    assert failure(s3.get_bucket_website, Bucket=bucket) == ("NoSuchWebsiteConfiguration", 404)
    config = {
        "IndexDocument": {"Suffix": "index.html"},
        "ErrorDocument": {"Key": "error.html"},
        "RoutingRules": [
            {
                "Condition": {"KeyPrefixEquals": "docs/"},
                "Redirect": {"ReplaceKeyPrefixWith": "documents/", "Protocol": "https"},
            }
        ],
    }
    s3.put_bucket_website(Bucket=bucket, WebsiteConfiguration=config)
    got = s3.get_bucket_website(Bucket=bucket)
    assert {k: got[k] for k in config} == config
    redirect = {"RedirectAllRequestsTo": {"HostName": "example.com", "Protocol": "https"}}
    s3.put_bucket_website(Bucket=bucket, WebsiteConfiguration=redirect)
    got = s3.get_bucket_website(Bucket=bucket)
    assert got["RedirectAllRequestsTo"] == redirect["RedirectAllRequestsTo"]
    assert "IndexDocument" not in got
    assert s3.delete_bucket_website(Bucket=bucket)["ResponseMetadata"]["HTTPStatusCode"] == 204
    assert failure(s3.get_bucket_website, Bucket=bucket)[1] == 404


@pytest.mark.parametrize(
    ("config", "wanted"),
    [
        ({"ErrorDocument": {"Key": "e.html"}}, ("InvalidArgument", 400)),
        ({"IndexDocument": {"Suffix": "a/index.html"}}, ("InvalidArgument", 400)),
        (
            {
                "IndexDocument": {"Suffix": "index.html"},
                "RedirectAllRequestsTo": {"HostName": "example.com"},
            },
            ("InvalidArgument", 400),
        ),
        (
            {
                "IndexDocument": {"Suffix": "index.html"},
                "RoutingRules": [
                    {"Redirect": {"ReplaceKeyPrefixWith": "a/", "ReplaceKeyWith": "b"}}
                ],
            },
            ("InvalidRequest", 400),
        ),
        (
            {"RedirectAllRequestsTo": {"HostName": "example.com", "Protocol": "ftp"}},
            ("InvalidRequest", 400),
        ),
    ],
)
def test_website_validation(
    s3: Any, untouched: str, config: dict[str, Any], wanted: tuple[str, int]
) -> None:
    assert failure(s3.put_bucket_website, Bucket=untouched, WebsiteConfiguration=config) == wanted
    assert failure(s3.get_bucket_website, Bucket=untouched)[1] == 404


def test_accelerate(s3: Any, bucket: str) -> None:
    # Never configured: an empty configuration.
    assert "Status" not in s3.get_bucket_accelerate_configuration(Bucket=bucket)
    s3.put_bucket_accelerate_configuration(
        Bucket=bucket, AccelerateConfiguration={"Status": "Suspended"}
    )
    assert s3.get_bucket_accelerate_configuration(Bucket=bucket)["Status"] == "Suspended"
    # There is no accelerate endpoint here to enable.
    assert failure(
        s3.put_bucket_accelerate_configuration,
        Bucket=bucket,
        AccelerateConfiguration={"Status": "Enabled"},
    ) == ("NotImplemented", 501)
    assert s3.get_bucket_accelerate_configuration(Bucket=bucket)["Status"] == "Suspended"


def test_deleting_a_bucket_deletes_its_settings(s3: Any) -> None:
    name = new_bucket(s3, "gone")
    s3.put_bucket_request_payment(Bucket=name, RequestPaymentConfiguration={"Payer": "Requester"})
    s3.put_public_access_block(Bucket=name, PublicAccessBlockConfiguration=PAB_ALL)
    s3.put_bucket_ownership_controls(
        Bucket=name, OwnershipControls={"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]}
    )
    s3.put_bucket_website(Bucket=name, WebsiteConfiguration={"IndexDocument": {"Suffix": "i"}})
    s3.put_bucket_accelerate_configuration(
        Bucket=name, AccelerateConfiguration={"Status": "Suspended"}
    )
    s3.put_bucket_logging(
        Bucket=name,
        BucketLoggingStatus={"LoggingEnabled": {"TargetBucket": name, "TargetPrefix": "l/"}},
    )
    s3.delete_bucket(Bucket=name)
    s3.create_bucket(Bucket=name)
    assert s3.get_bucket_request_payment(Bucket=name)["Payer"] == "BucketOwner"
    assert failure(s3.get_public_access_block, Bucket=name)[1] == 404
    assert failure(s3.get_bucket_ownership_controls, Bucket=name)[1] == 404
    assert failure(s3.get_bucket_website, Bucket=name)[1] == 404
    assert "Status" not in s3.get_bucket_accelerate_configuration(Bucket=name)
    assert "LoggingEnabled" not in s3.get_bucket_logging(Bucket=name)


def test_settings_through_the_aws_cli(cloud: Cloud, account: Account, bucket: str) -> None:
    access_key, secret_key = account.keys

    def run(*args: str, check: bool = True) -> Any:
        return cloud.aws_cli(
            "s3api",
            *args,
            "--bucket",
            bucket,
            access_key=access_key,
            secret_key=secret_key,
            check=check,
        )

    def cli(*args: str) -> Any:
        out = run(*args, "--output", "json")
        return json.loads(out.stdout) if out.stdout.strip() else None

    cli("put-public-access-block", "--public-access-block-configuration", json.dumps(PAB_ALL))
    assert cli("get-public-access-block")["PublicAccessBlockConfiguration"] == PAB_ALL
    cli(
        "put-bucket-ownership-controls",
        "--ownership-controls",
        '{"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]}',
    )
    got = cli("get-bucket-ownership-controls")["OwnershipControls"]["Rules"]
    assert got == [{"ObjectOwnership": "BucketOwnerEnforced"}]
    assert cli("get-bucket-encryption")["ServerSideEncryptionConfiguration"]["Rules"] == [
        AES256_RULE
    ]
    cli("put-bucket-request-payment", "--request-payment-configuration", '{"Payer": "Requester"}')
    assert cli("get-bucket-request-payment") == {"Payer": "Requester"}
    refused = run("get-bucket-replication", check=False)
    assert refused.returncode != 0 and "NotImplemented" in refused.stderr


@pytest.mark.parametrize(
    ("operation", "params"),
    [
        ("get_bucket_replication", {}),
        ("get_bucket_notification_configuration", {}),
        ("get_object_lock_configuration", {}),
        ("list_bucket_inventory_configurations", {}),
        ("get_bucket_analytics_configuration", {"Id": "a"}),
        ("delete_bucket_metrics_configuration", {"Id": "m"}),
        ("get_object_retention", {"Key": "k"}),
    ],
)
def test_unimplemented_operations_answer_not_implemented(
    s3: Any, untouched: str, operation: str, params: dict[str, str]
) -> None:
    with pytest.raises(ClientError) as err:
        getattr(s3, operation)(Bucket=untouched, **params)
    assert code(err) == ("NotImplemented", 501)
    assert "not implemented" in err.value.response["Error"]["Message"]
