"""Who may do what in S3: the IAM action a request needs, the ARNs it acts on, the bucket
policy and ACLs as one resource policy, and the same decision for anonymous callers.

The chain asks these hooks about every request (authenticated callers through the IAM
Authorizer; anonymous ones, whom IAM never sees, through `prepare`). Operations that
act on more than their request names ask again, one resource at a time, through
`authorize_as`: each key of a DeleteObjects, the source of a copy, an object another service
reads for its caller (RegisterImage). So every resource gets the decision a request for it
alone would get.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from mallee.api.context import RequestContext
from mallee.api.errors import ServiceError
from mallee.api.models import load_service_model
from mallee.identity.authz import Authorizer, request_context
from mallee.policy import (
    AuthzRequest,
    Decision,
    PolicyError,
    PolicyKind,
    PrincipalRef,
    evaluate,
    parse_policy,
)
from mallee.services.base import Authorize, Runtime
from mallee.services.s3 import encryption, errors
from mallee.services.s3.acl import check_new_object_acl
from mallee.services.s3.common import remember_admitted
from mallee.services.s3.policy import OWNER_ONLY, access_for

# IAM actions whose names differ from the operation's (the rest are s3:<Operation>).
ACTIONS = {
    "HeadObject": "GetObject",
    "HeadBucket": "ListBucket",
    "ListObjects": "ListBucket",
    "ListObjectsV2": "ListBucket",
    "ListObjectVersions": "ListBucketVersions",
    "CopyObject": "PutObject",
    "CreateMultipartUpload": "PutObject",
    "UploadPart": "PutObject",
    "UploadPartCopy": "PutObject",
    "CompleteMultipartUpload": "PutObject",
    "AbortMultipartUpload": "AbortMultipartUpload",
    "ListParts": "ListMultipartUploadParts",
    "ListMultipartUploads": "ListBucketMultipartUploads",
    "ListBuckets": "ListAllMyBuckets",
    "GetBucketCors": "GetBucketCORS",
    "PutBucketCors": "PutBucketCORS",
    "DeleteBucketCors": "PutBucketCORS",
    "GetBucketLifecycleConfiguration": "GetLifecycleConfiguration",
    "PutBucketLifecycleConfiguration": "PutLifecycleConfiguration",
    "DeleteBucketLifecycle": "PutLifecycleConfiguration",
    "GetBucketAcl": "GetBucketAcl",
    "GetObjectAcl": "GetObjectAcl",
    "GetObjectTagging": "GetObjectTagging",
    "DeleteBucketTagging": "PutBucketTagging",
    "GetBucketEncryption": "GetEncryptionConfiguration",
    "PutBucketEncryption": "PutEncryptionConfiguration",
    "DeleteBucketEncryption": "PutEncryptionConfiguration",
    "GetPublicAccessBlock": "GetBucketPublicAccessBlock",
    "PutPublicAccessBlock": "PutBucketPublicAccessBlock",
    "DeletePublicAccessBlock": "PutBucketPublicAccessBlock",
    "DeleteBucketOwnershipControls": "PutBucketOwnershipControls",
    "GetBucketAccelerateConfiguration": "GetAccelerateConfiguration",
    "PutBucketAccelerateConfiguration": "PutAccelerateConfiguration",
    # Operations mallee does not implement: a caller allowed the action AWS checks for them
    # learns they are not implemented, anyone else is refused first.
    "GetBucketLifecycle": "GetLifecycleConfiguration",
    "PutBucketLifecycle": "PutLifecycleConfiguration",
    "GetBucketNotificationConfiguration": "GetBucketNotification",
    "PutBucketNotificationConfiguration": "PutBucketNotification",
    "GetBucketReplication": "GetReplicationConfiguration",
    "PutBucketReplication": "PutReplicationConfiguration",
    "DeleteBucketReplication": "PutReplicationConfiguration",
    "GetObjectLockConfiguration": "GetBucketObjectLockConfiguration",
    "PutObjectLockConfiguration": "PutBucketObjectLockConfiguration",
    "GetBucketInventoryConfiguration": "GetInventoryConfiguration",
    "ListBucketInventoryConfigurations": "GetInventoryConfiguration",
    "PutBucketInventoryConfiguration": "PutInventoryConfiguration",
    "DeleteBucketInventoryConfiguration": "PutInventoryConfiguration",
    "GetBucketAnalyticsConfiguration": "GetAnalyticsConfiguration",
    "ListBucketAnalyticsConfigurations": "GetAnalyticsConfiguration",
    "PutBucketAnalyticsConfiguration": "PutAnalyticsConfiguration",
    "DeleteBucketAnalyticsConfiguration": "PutAnalyticsConfiguration",
    "GetBucketMetricsConfiguration": "GetMetricsConfiguration",
    "ListBucketMetricsConfigurations": "GetMetricsConfiguration",
    "PutBucketMetricsConfiguration": "PutMetricsConfiguration",
    "DeleteBucketMetricsConfiguration": "PutMetricsConfiguration",
    "GetBucketIntelligentTieringConfiguration": "GetIntelligentTieringConfiguration",
    "ListBucketIntelligentTieringConfigurations": "GetIntelligentTieringConfiguration",
    "PutBucketIntelligentTieringConfiguration": "PutIntelligentTieringConfiguration",
    "DeleteBucketIntelligentTieringConfiguration": "PutIntelligentTieringConfiguration",
    "SelectObjectContent": "GetObject",
}
# What a request naming a version id (versionId=...) needs instead: in S3 the permission to
# act on the current object does not extend to its other versions.
VERSION_ACTIONS = {
    "GetObject": "GetObjectVersion",
    "HeadObject": "GetObjectVersion",
    "DeleteObject": "DeleteObjectVersion",
    "GetObjectAcl": "GetObjectVersionAcl",
    "PutObjectAcl": "PutObjectVersionAcl",
    "GetObjectTagging": "GetObjectVersionTagging",
    "PutObjectTagging": "PutObjectVersionTagging",
    "DeleteObjectTagging": "DeleteObjectVersionTagging",
}
# Operations that authorize each resource they act on themselves, the request as a whole
# needing no permission (AWS: DeleteObjects answers AccessDenied per key, in its Errors).
PER_RESOURCE = frozenset({"DeleteObjects"})
# Operations whose request may carry a new object's ACL.
CREATES_OBJECTS = frozenset({"PutObject", "CopyObject", "CreateMultipartUpload"})

# Request members and headers that S3 condition keys take their values from.
CONDITION_PARAMS = {
    "Prefix": "s3:prefix",
    "Delimiter": "s3:delimiter",
    "MaxKeys": "s3:max-keys",
    "VersionId": "s3:versionid",
    "ACL": "s3:x-amz-acl",
    "GrantRead": "s3:x-amz-grant-read",
    "GrantWrite": "s3:x-amz-grant-write",
    "GrantReadACP": "s3:x-amz-grant-read-acp",
    "GrantWriteACP": "s3:x-amz-grant-write-acp",
    "GrantFullControl": "s3:x-amz-grant-full-control",
    "StorageClass": "s3:x-amz-storage-class",
    "ServerSideEncryption": "s3:x-amz-server-side-encryption",
    "MetadataDirective": "s3:x-amz-metadata-directive",
    "CopySource": "s3:x-amz-copy-source",
}
CONDITION_HEADERS = {
    "referer": "aws:referer",
    "user-agent": "aws:useragent",
    "x-amz-content-sha256": "s3:x-amz-content-sha256",
}


def action_name(ctx: RequestContext) -> str:
    operation = ctx.operation_name
    if ctx.params.get("VersionId") and operation in VERSION_ACTIONS:
        return VERSION_ACTIONS[operation]
    return ACTIONS.get(operation, operation)


def resources(ctx: RequestContext) -> list[str]:
    bucket = ctx.params.get("Bucket")
    if not bucket:
        return ["*"]
    key = ctx.params.get("Key")
    return [f"arn:aws:s3:::{bucket}/{key}" if key else f"arn:aws:s3:::{bucket}"]


def resource_policy(rt: Runtime, ctx: RequestContext, arn: str) -> tuple[str, str | None]:
    """(resource owner account, resource policy): the bucket policy plus what the ACLs
    grant the caller (see policy.access_for)."""
    if ctx.operation_name == "CreateBucket" or arn == "*":
        # A new bucket would be the caller's; an existing name is BucketAlreadyExists.
        return ctx.principal.account_id, None
    action = f"s3:{action_name(ctx)}"
    with rt.store.read() as s:
        access = access_for(s, ctx, arn, action)
    # A missing bucket counts as the caller's own, so NoSuchBucket is what it learns.
    return access.owner, access.document


def condition_keys(ctx: RequestContext) -> dict[str, list[str]]:
    """S3's own condition keys for this request (and the global ones S3 policies use)."""
    keys: dict[str, list[str]] = {}
    for member, key in CONDITION_PARAMS.items():
        value = ctx.params.get(member)
        if isinstance(value, str | int):
            keys[key] = [str(value)]
    for header, key in CONDITION_HEADERS.items():
        found = ctx.http.headers.get(header)
        if found is not None:
            keys[key] = [found]
    return keys


def admit_anonymous(rt: Runtime, ctx: RequestContext) -> None:
    """IAM does not see anonymous requests: the bucket policy and ACLs decide here, and
    an explicit Deny in the policy wins over any ACL grant."""
    if ctx.operation_name in OWNER_ONLY:
        raise errors.access_denied()
    action = f"s3:{action_name(ctx)}"
    context = anonymous_context(ctx) | condition_keys(ctx)
    admitted: set[tuple[str, str]] = set()
    for arn in resources(ctx):
        if arn == "*":
            continue  # no bucket named: the operation itself refuses anonymous callers
        with rt.store.read() as s:
            access = access_for(s, ctx, arn, action)
        if not access.exists:
            continue  # NoSuchBucket, as S3 tells anyone
        req = AuthzRequest(action, arn, context, PrincipalRef("", anonymous=True))
        if _decide(access.document, req) is not Decision.ALLOW:
            raise errors.access_denied()
        admitted |= access.acl_checks
    remember_admitted(ctx, admitted)


def prepare(rt: Runtime, ctx: RequestContext) -> None:
    """After IAM's decision: anonymous callers are admitted by the bucket policy and ACLs; a
    new object's encryption and ACL requests are checked before its body is read."""
    if ctx.principal.kind == "anonymous" and ctx.operation_name not in PER_RESOURCE:
        admit_anonymous(rt, ctx)
    if ctx.operation_name in CREATES_OBJECTS:
        encryption.check_write(ctx.params)
        check_new_object_acl(rt, ctx)


def unimplemented(ctx: RequestContext, authorize: Authorize) -> ServiceError:
    """S3 answers NotImplemented for what it does not do, to callers the operation's own
    authorization admits: anyone else is refused first, as for what it does."""
    authorize(ctx)
    if ctx.principal.kind == "anonymous" and not ctx.params.get("Bucket"):
        # No bucket policy or ACL can admit an anonymous caller beyond a bucket.
        return errors.access_denied()
    return errors.not_implemented()


def as_operation(ctx: RequestContext, operation: str, params: dict[str, Any]) -> RequestContext:
    """ctx's caller, on ctx's connection, asking for another S3 operation."""
    return dataclasses.replace(
        ctx,
        service="s3",
        operation=load_service_model("s3").operation_model(operation),
        params=params,
    )


def authorize_as(rt: Runtime, ctx: RequestContext, operation: str, params: dict[str, Any]) -> None:
    """AccessDenied unless ctx's caller may do `operation` with `params` (S3 params:
    Bucket, Key, VersionId), decided as for a request of that operation alone."""
    probe = as_operation(ctx, operation, params)
    if ctx.principal.kind == "anonymous":
        admit_anonymous(rt, probe)
    else:
        authorizer = rt.shared("s3.authorizer", lambda: Authorizer(rt.store))
        authorizer.authorize(probe, Guard(rt))


class Guard:
    """What the authorizer asks of S3 (identity.authz.Guarded), from this module's functions:
    the provider's hooks are the same functions."""

    action_prefix = "s3"
    always_allowed_operations = PER_RESOURCE
    admin_operations: frozenset[str] = frozenset()
    resource_policy_required: frozenset[str] = frozenset()

    def __init__(self, rt: Runtime) -> None:
        self.rt = rt

    def action_name(self, ctx: RequestContext) -> str:
        return action_name(ctx)

    def resources(self, ctx: RequestContext) -> list[str]:
        return resources(ctx)

    def resource_policy(self, ctx: RequestContext, arn: str) -> tuple[str, str | None]:
        return resource_policy(self.rt, ctx, arn)

    def condition_keys(self, ctx: RequestContext) -> dict[str, list[str]]:
        return condition_keys(ctx)


def _decide(document: str | None, req: AuthzRequest) -> Decision:
    if document is None:
        return Decision.NOT_APPLICABLE
    try:
        policy = parse_policy(document, PolicyKind.RESOURCE)
    except PolicyError:  # stored policies were validated; refuse rather than guess
        return Decision.DENY
    return evaluate([policy], req)


def anonymous_context(ctx: RequestContext) -> dict[str, list[str]]:
    """The global condition keys of an anonymous request: no principal keys (as AWS)."""
    keys = request_context(ctx)
    for key in ("aws:principalarn", "aws:principalaccount", "aws:userid"):
        keys.pop(key, None)
    keys["aws:principaltype"] = ["Anonymous"]
    return keys
