"""S3 (the Object Storage Gateway): the provider is the union of one mixin per family."""

from __future__ import annotations

from collections.abc import Callable
from typing import ClassVar

from mallee.api.context import RequestContext
from mallee.api.errors import ServiceError
from mallee.api.http import HttpRequest
from mallee.api.models import load_service_model
from mallee.services.s3 import encryption, errors
from mallee.services.s3.access import PER_RESOURCE
from mallee.services.s3.acl import AclApi
from mallee.services.s3.bucket_settings import BucketSettingsApi
from mallee.services.s3.buckets import BucketsApi
from mallee.services.s3.common import (
    BUCKET_OWNER_PARAM,
    CANNED_ACLS,
    check_grantees,
    grants,
    header_grants,
    invalid_canned,
    new_object_acl,
)
from mallee.services.s3.copy import CopyApi
from mallee.services.s3.cors import CorsApi
from mallee.services.s3.encryption import EncryptionApi
from mallee.services.s3.lifecycle import LifecycleApi
from mallee.services.s3.listing import ListingApi
from mallee.services.s3.multipart import MultipartApi
from mallee.services.s3.objects import ObjectsApi
from mallee.services.s3.ownership import OwnershipApi
from mallee.services.s3.policy import PolicyApi
from mallee.services.s3.public_access import PublicAccessApi, check_acl_change
from mallee.services.s3.tagging import TaggingApi
from mallee.services.s3.versioning import VersioningApi
from mallee.store.tables.s3 import S3Bucket

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
    EncryptionApi,
    PublicAccessApi,
    OwnershipApi,
    BucketSettingsApi,
):
    # CORS preflights and browser POST uploads are answered before the model routes them.
    sees_unrouted: ClassVar[bool] = True
    # Any S3 operation may be anonymous; what an anonymous caller may do is then decided by
    # the bucket policy and the ACLs in `prepare` (IAM never sees anonymous requests).
    anonymous_operations: ClassVar[frozenset[str]] = frozenset(
        load_service_model("s3").operation_names
    )
    # These authorize each resource they touch themselves (S3Access.authorize_as).
    always_allowed_operations: ClassVar[frozenset[str]] = PER_RESOURCE

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

    def prepare(self, ctx: RequestContext) -> None:
        if ctx.principal.kind == "anonymous" and ctx.operation_name not in PER_RESOURCE:
            self.admit_anonymous(ctx)
        if ctx.operation_name in CREATES_OBJECTS:
            encryption.check_write(ctx.params)
            self._check_new_object_acl(ctx)

    def unimplemented(
        self, ctx: RequestContext, authorize: Callable[[RequestContext], None]
    ) -> ServiceError:
        """S3 answers NotImplemented for what it does not do, to callers the operation's
        own authorization admits: anyone else is refused first, as for what it does."""
        authorize(ctx)
        if ctx.principal.kind == "anonymous" and not ctx.params.get("Bucket"):
            # No bucket policy or ACL can admit an anonymous caller beyond a bucket.
            return errors.access_denied()
        return errors.not_implemented()

    def _check_new_object_acl(self, ctx: RequestContext) -> None:
        """Before a body is read: the new object's ACL request is valid, its grantees exist,
        the bucket lets it be set (ownership controls, public access block), and a
        bucket-owner-* canned ACL learns who the bucket owner is."""
        params = ctx.params
        requested = header_grants(params)
        canned = params.get("ACL")
        if canned is not None and canned not in CANNED_ACLS:
            raise invalid_canned(str(canned))
        if requested is None and canned is None:
            return  # the writer's full control alone, which any bucket accepts
        with self.store.read() as s:
            if requested:
                check_grantees(s, requested)
            bucket = s.get(S3Bucket, str(params.get("Bucket")))
            if bucket is None:
                return  # NoSuchBucket, from the operation
            if canned in ("bucket-owner-read", "bucket-owner-full-control"):
                params[BUCKET_OWNER_PARAM] = bucket.account_id
            writer = ctx.principal.account_id or bucket.account_id
            wanted = grants(new_object_acl(params, writer))
            check_acl_change(bucket, wanted, {writer, bucket.account_id})
