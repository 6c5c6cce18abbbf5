"""S3 (the Object Storage Gateway): the provider is the union of one mixin per family."""

from __future__ import annotations

from typing import ClassVar

from mallee.api.context import RequestContext
from mallee.api.models import load_service_model
from mallee.services.s3.acl import AclApi
from mallee.services.s3.buckets import BucketsApi
from mallee.services.s3.copy import CopyApi
from mallee.services.s3.cors import CorsApi
from mallee.services.s3.lifecycle import LifecycleApi
from mallee.services.s3.listing import ListingApi
from mallee.services.s3.multipart import MultipartApi
from mallee.services.s3.objects import ObjectsApi
from mallee.services.s3.policy import PolicyApi
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
    # the bucket and object ACLs (and bucket policies) in the operations themselves.
    anonymous_operations: ClassVar[frozenset[str]] = frozenset(
        load_service_model("s3").operation_names
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
        """(owner account, bucket policy) of the bucket an ARN names."""
        name = arn.removeprefix("arn:aws:s3:::").split("/", 1)[0]
        if ctx.operation_name == "CreateBucket":
            # A new bucket would be the caller's; an existing name is BucketAlreadyExists.
            return ctx.principal.account_id, None
        with self.store.read() as s:
            bucket = s.get(S3Bucket, name)
            if bucket is None:
                # A missing bucket: the caller's own, so NoSuchBucket is what it learns.
                return ctx.principal.account_id, None
            return bucket.account_id, bucket.policy
