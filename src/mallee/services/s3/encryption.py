"""Default encryption: Put/Get/DeleteBucketEncryption, and the encryption objects report.

Every bucket has SSE-S3 (AES256) as its default encryption, as AWS's have since January 2023:
GetBucketEncryption answers it when nothing was set, DeleteBucketEncryption goes back to it,
and every object write and read reports `x-amz-server-side-encryption: AES256`.

There is no key management service here: SSE-KMS (aws:kms, aws:kms:dsse), as a bucket default
or on a write, answers NotImplemented as MinIO does without a KMS; so do customer-provided keys
(SSE-C), which a server keeping no key could not honour. Neither is accepted and ignored.
"""

from __future__ import annotations

import json
from typing import Any

from mallee.api.context import RequestContext
from mallee.services.base import Operations, Params, Result, Runtime
from mallee.services.s3 import errors
from mallee.services.s3.checksums import check_body_md5
from mallee.services.s3.common import settings_bucket

STATUS = "@status"
AES256 = "AES256"
KMS = frozenset({"aws:kms", "aws:kms:dsse"})
# What every object write and read reports.
OBJECT_ENCRYPTION: dict[str, Any] = {"ServerSideEncryption": AES256}
_DEFAULT_RULE = {"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": AES256}}
_SSE_C = ("SSECustomerAlgorithm", "SSECustomerKey", "SSECustomerKeyMD5")


def check_rules(rules: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A PutBucketEncryption configuration's rules as stored: one AES256 rule."""
    if len(rules) != 1:
        raise errors.malformed_xml()
    rule = rules[0]
    default = rule.get("ApplyServerSideEncryptionByDefault")
    if not isinstance(default, dict):
        raise errors.malformed_xml()
    algorithm = default.get("SSEAlgorithm")
    if algorithm in KMS:
        raise errors.no_kms()
    if algorithm != AES256:
        raise errors.malformed_xml()
    if default.get("KMSMasterKeyID") is not None:
        raise errors.invalid_argument(
            "a KMSMasterKeyID is not applicable if the default sse algorithm is not aws:kms"
            " or aws:kms:dsse",
            "ApplyServerSideEncryptionByDefault",
            "",
        )
    kept: dict[str, Any] = {
        **_DEFAULT_RULE,
        "BucketKeyEnabled": bool(rule.get("BucketKeyEnabled", False)),
    }
    if rule.get("BlockedEncryptionTypes") is not None:
        kept["BlockedEncryptionTypes"] = rule["BlockedEncryptionTypes"]
    return [kept]


def check_write(params: Params) -> None:
    """The encryption a new object's request asks for (PutObject, CopyObject,
    CreateMultipartUpload, a POST upload's field): SSE-S3 or none, before its body is read."""
    wanted = params.get("ServerSideEncryption")
    if wanted in KMS:
        raise errors.no_kms()
    if wanted is not None and wanted != AES256:
        raise errors.invalid_argument(
            "The encryption method specified is not supported",
            "x-amz-server-side-encryption",
            str(wanted),
        )
    key_id = params.get("SSEKMSKeyId")
    if key_id is not None:
        raise errors.invalid_argument(
            "Server Side Encryption with AWS KMS managed key requires HTTP header"
            " x-amz-server-side-encryption : aws:kms",
            "x-amz-server-side-encryption-aws-kms-key-id",
            str(key_id),
        )
    if any(params.get(member) is not None for member in _SSE_C):
        raise errors.not_implemented(
            "Server side encryption with customer provided keys is not available here"
        )


def put_bucket_encryption(rt: Runtime, ctx: RequestContext, params: Params) -> Result:
    check_body_md5(ctx, params.get("ContentMD5"))
    config = params.get("ServerSideEncryptionConfiguration") or {}
    rules = check_rules(list(config.get("Rules") or []))
    with rt.store.session() as s:
        settings_bucket(s, ctx, params).encryption = json.dumps(rules)
    return {}


def get_bucket_encryption(rt: Runtime, ctx: RequestContext, params: Params) -> Result:
    with rt.store.read() as s:
        bucket = settings_bucket(s, ctx, params)
    rules = (
        json.loads(bucket.encryption)
        if bucket.encryption
        else [{**_DEFAULT_RULE, "BucketKeyEnabled": False}]
    )
    return {"ServerSideEncryptionConfiguration": {"Rules": rules}}


def delete_bucket_encryption(rt: Runtime, ctx: RequestContext, params: Params) -> Result:
    with rt.store.session() as s:
        settings_bucket(s, ctx, params).encryption = None
    return {STATUS: 204}


OPERATIONS: Operations = {
    "PutBucketEncryption": put_bucket_encryption,
    "GetBucketEncryption": get_bucket_encryption,
    "DeleteBucketEncryption": delete_bucket_encryption,
}
