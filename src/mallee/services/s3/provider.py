"""S3 (the Object Storage Gateway): the provider is the union of one mixin per family."""

from __future__ import annotations

from typing import ClassVar

from mallee.api.context import RequestContext
from mallee.api.http import HttpRequest
from mallee.api.models import load_service_model
from mallee.policy import (
    AuthzRequest,
    Decision,
    PolicyError,
    PolicyKind,
    PrincipalRef,
    evaluate,
    parse_policy,
)
from mallee.services.iam.authz import request_context
from mallee.services.s3 import errors
from mallee.services.s3.acl import AclApi
from mallee.services.s3.buckets import BucketsApi
from mallee.services.s3.common import (
    BUCKET_OWNER_PARAM,
    CANNED_ACLS,
    admit_anonymous,
    check_grantees,
    header_grants,
    invalid_canned,
)
from mallee.services.s3.copy import CopyApi
from mallee.services.s3.cors import CorsApi
from mallee.services.s3.lifecycle import LifecycleApi
from mallee.services.s3.listing import ListingApi
from mallee.services.s3.multipart import MultipartApi
from mallee.services.s3.objects import ObjectsApi
from mallee.services.s3.policy import OWNER_ONLY, PolicyApi, access_for
from mallee.services.s3.tagging import TaggingApi
from mallee.services.s3.versioning import VersioningApi
from mallee.store.tables.s3 import S3Bucket

# IAM actions whose names differ from the operation's (the rest are s3:<Operation>).
ACTIONS = {
    "HeadObject": "GetObject",
    "HeadBucket": "ListBucket",
    "ListObjects": "ListBucket",
    "ListObjectsV2": "ListBucket",
    "ListObjectVersions": "ListBucketVersions",
    "DeleteObjects": "DeleteObject",
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
}

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
# Operations whose request may carry a new object's ACL.
CREATES_OBJECTS = frozenset({"PutObject", "CopyObject", "CreateMultipartUpload"})


class S3Provider(
    BucketsApi,
    ObjectsApi,
    ListingApi,
    MultipartApi,
    CopyApi,
    VersioningApi,
    TaggingApi,
    LifecycleApi,
    AclApi,
    PolicyApi,
    CorsApi,
):
    # Any S3 operation may be anonymous; what an anonymous caller may do is then decided by
    # the bucket policy and the ACLs in `prepare` (IAM never sees anonymous requests).
    anonymous_operations: ClassVar[frozenset[str]] = frozenset(
        load_service_model("s3").operation_names
    )

    def answers_at_once(self, request: HttpRequest) -> bool:
        """Whether the server may run this request on its event loop, skipping the hand-over
        to a worker thread and back (a sizeable part of a small GET's time): a GET or HEAD of
        one object, without body or query, when nothing it does can wait on a network (SQLite
        metadata, fs backend) and its work is a lookup, never a long listing. (What else such
        a request may do is as local: reading credentials and policies, and at most once a
        minute per access key a one-row SQLite write recording the key's last use.)"""
        _, _, key = request.path.lstrip("/").partition("/")
        # The backend is made by the first request that needs it (on a worker: making an s3
        # backend talks to its store); until then nothing is known to be local.
        backend = self._backend
        return (
            request.method in ("GET", "HEAD")
            and not request.query
            and bool(key)
            and backend is not None
            and backend.name == "fs"
            and self.store.is_sqlite
        )

    def action_name(self, operation: str) -> str:
        return ACTIONS.get(operation, operation)

    def resources(self, ctx: RequestContext) -> list[str]:
        bucket = ctx.params.get("Bucket")
        if not bucket:
            return ["*"]
        key = ctx.params.get("Key")
        return [f"arn:aws:s3:::{bucket}/{key}" if key else f"arn:aws:s3:::{bucket}"]

    def resource_policy(self, ctx: RequestContext, arn: str) -> tuple[str, str | None]:
        """(resource owner account, resource policy): the bucket policy plus what the ACLs
        grant the caller (see policy.access_for)."""
        if ctx.operation_name == "CreateBucket" or arn == "*":
            # A new bucket would be the caller's; an existing name is BucketAlreadyExists.
            return ctx.principal.account_id, None
        action = f"{self.action_prefix}:{self.action_name(ctx.operation_name)}"
        with self.store.read() as s:
            access = access_for(s, ctx, arn, action)
        # A missing bucket counts as the caller's own, so NoSuchBucket is what it learns.
        return access.owner, access.document

    def condition_keys(self, ctx: RequestContext) -> dict[str, list[str]]:
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

    def prepare(self, ctx: RequestContext) -> None:
        if ctx.principal.kind == "anonymous":
            self._admit_anonymous(ctx)
        if ctx.operation_name in CREATES_OBJECTS:
            self._check_new_object_acl(ctx)

    def _admit_anonymous(self, ctx: RequestContext) -> None:
        """IAM does not see anonymous requests: the bucket policy and ACLs decide here, and
        an explicit Deny in the policy wins over any ACL grant."""
        if ctx.operation_name in OWNER_ONLY:
            raise errors.access_denied()
        action = f"{self.action_prefix}:{self.action_name(ctx.operation_name)}"
        context = anonymous_context(ctx) | self.condition_keys(ctx)
        admitted: set[tuple[str, str]] = set()
        for arn in self.resources(ctx):
            if arn == "*":
                continue  # no bucket named: the operation itself refuses anonymous callers
            with self.store.read() as s:
                access = access_for(s, ctx, arn, action)
            if not access.exists:
                continue  # NoSuchBucket, as S3 tells anyone
            req = AuthzRequest(action, arn, context, PrincipalRef("", anonymous=True))
            if _decide(access.document, req) is not Decision.ALLOW:
                raise errors.access_denied()
            admitted |= access.acl_checks
        admit_anonymous(ctx, admitted)

    def _check_new_object_acl(self, ctx: RequestContext) -> None:
        """Before a body is read: the new object's ACL request is valid, its grantees exist,
        and a bucket-owner-* canned ACL learns who the bucket owner is."""
        params = ctx.params
        requested = header_grants(params)
        canned = params.get("ACL")
        if canned is not None and canned not in CANNED_ACLS:
            raise invalid_canned(str(canned))
        wants_owner = canned in ("bucket-owner-read", "bucket-owner-full-control")
        if not requested and not wants_owner:
            return
        with self.store.read() as s:
            if requested:
                check_grantees(s, requested)
            bucket = s.get(S3Bucket, str(params.get("Bucket")))
            if wants_owner and bucket is not None:
                params[BUCKET_OWNER_PARAM] = bucket.account_id


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
