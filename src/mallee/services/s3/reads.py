"""Reading an object for another service's caller (EC2 RegisterImage reads the image it
registers): the caller gets exactly what its own GetObject of the object would get, the same
authorization (identity policies, bucket policy, ACLs) and the same errors, decided here on the
S3 side rather than copied into the other service."""

from __future__ import annotations

from collections.abc import Iterator

from mallee.api.context import RequestContext
from mallee.objectstore.backends import Piece
from mallee.services.base import Runtime
from mallee.services.s3 import objects
from mallee.services.s3.access import as_operation, authorize_as


def read_object(runtime: Runtime, ctx: RequestContext, bucket: str, key: str) -> Iterator[Piece]:
    """The latest version's bytes of bucket/key as ctx's caller may read them; raises S3's
    ServiceError otherwise (AccessDenied, NoSuchBucket, NoSuchKey: what GetObject answers)."""
    params = {"Bucket": bucket, "Key": key}
    authorize_as(runtime, ctx, "GetObject", params)
    body = objects.get_object(runtime, as_operation(ctx, "GetObject", params), params)["Body"]
    return iter((body,)) if isinstance(body, bytes) else body
