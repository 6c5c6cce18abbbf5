"""S3 (the Object Storage Gateway): the provider is the union of one mixin per family."""

from __future__ import annotations

from typing import ClassVar

from mallee.api.context import RequestContext
from mallee.api.http import HttpRequest
from mallee.api.models import load_service_model
from mallee.services.s3.access import PER_RESOURCE
from mallee.services.s3.acl import AclApi
from mallee.services.s3.buckets import BucketsApi
from mallee.services.s3.common import (
    BUCKET_OWNER_PARAM,
    CANNED_ACLS,
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
from mallee.services.s3.policy import PolicyApi
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
):
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
            self._check_new_object_acl(ctx)

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
