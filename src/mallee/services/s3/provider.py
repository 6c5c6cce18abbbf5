"""S3 (the Object Storage Gateway): one table of the operations of every family module, and the
hooks the chain asks, each a function of the module it belongs to."""

from __future__ import annotations

from typing import ClassVar

from mallee.api.context import RequestContext
from mallee.api.errors import ServiceError
from mallee.api.http import HttpRequest, HttpResponse
from mallee.api.models import load_service_model
from mallee.services.base import Authorize, Operations, Provider, operations_of
from mallee.services.s3 import (
    access,
    acl,
    blobs,
    bucket_settings,
    buckets,
    copy,
    cors,
    encryption,
    lifecycle,
    listing,
    multipart,
    objects,
    ownership,
    policy,
    post_upload,
    public_access,
    tagging,
    versioning,
)


class S3Provider(Provider):
    service: ClassVar[str] = "s3"
    action_prefix: ClassVar[str] = "s3"
    operations: ClassVar[Operations] = operations_of(
        buckets.OPERATIONS,
        objects.OPERATIONS,
        listing.OPERATIONS,
        multipart.OPERATIONS,
        copy.OPERATIONS,
        versioning.OPERATIONS,
        tagging.OPERATIONS,
        lifecycle.OPERATIONS,
        acl.OPERATIONS,
        policy.OPERATIONS,
        cors.OPERATIONS,
        encryption.OPERATIONS,
        public_access.OPERATIONS,
        ownership.OPERATIONS,
        bucket_settings.OPERATIONS,
    )
    # CORS preflights and browser POST uploads are answered before the model routes them.
    sees_unrouted: ClassVar[bool] = True
    # Any S3 operation may be anonymous; what an anonymous caller may do is then decided by
    # the bucket policy and the ACLs in `prepare` (IAM never sees anonymous requests).
    anonymous_operations: ClassVar[frozenset[str]] = frozenset(
        load_service_model("s3").operation_names
    )
    # These authorize each resource they touch themselves (access.authorize_as).
    always_allowed_operations: ClassVar[frozenset[str]] = access.PER_RESOURCE

    def action_name(self, ctx: RequestContext) -> str:
        return access.action_name(ctx)

    def resources(self, ctx: RequestContext) -> list[str]:
        return access.resources(ctx)

    def resource_policy(self, ctx: RequestContext, arn: str) -> tuple[str, str | None]:
        return access.resource_policy(self.runtime, ctx, arn)

    def condition_keys(self, ctx: RequestContext) -> dict[str, list[str]]:
        return access.condition_keys(ctx)

    def prepare(self, ctx: RequestContext) -> None:
        access.prepare(self.runtime, ctx)

    def unimplemented(self, ctx: RequestContext, authorize: Authorize) -> ServiceError:
        return access.unimplemented(ctx, authorize)

    def answers_at_once(self, request: HttpRequest) -> bool:
        return blobs.answers_at_once(self.runtime, request)

    def answer_unrouted(self, ctx: RequestContext, authorize: Authorize) -> HttpResponse | None:
        """A CORS preflight or a browser POST upload; None for anything the model routes."""
        if ctx.http.method == "OPTIONS":
            return cors.preflight(self.runtime, ctx)
        bucket = post_upload.bucket_of_post(ctx)
        if bucket is None:
            return None
        return post_upload.post_object(self.runtime, ctx, bucket, authorize)

    def finish_response(self, ctx: RequestContext, response: HttpResponse) -> None:
        cors.finish_response(self.runtime, ctx, response)
