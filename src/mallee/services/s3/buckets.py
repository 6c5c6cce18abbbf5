"""Buckets: ListBuckets, CreateBucket, HeadBucket, DeleteBucket, GetBucketLocation.

A bucket's settings (policy, ACL, CORS, encryption, ownership, ...) are columns of its row:
they go with it when it is deleted, or with its account.
"""

from __future__ import annotations

from sqlalchemy import false, func, select
from sqlalchemy.exc import IntegrityError

from mallee.api.context import RequestContext
from mallee.api.errors import ServiceError
from mallee.registry import properties
from mallee.services.base import Operations, Params, Result, Runtime
from mallee.services.s3 import errors
from mallee.services.s3.common import (
    bucket_or_404,
    check_grantees,
    grants,
    header_grants,
    now,
    owner_of,
    request_acl,
    require_anonymous,
)
from mallee.services.s3.names import MAX_BUCKET_CHARS, check_bucket_name, prefix_matches_some
from mallee.services.s3.ownership import (
    ENFORCED,
    acl_has_effect,
    check_ownership,
)
from mallee.store.tables.s3 import S3Bucket, S3Object, S3Upload

STATUS = "@status"


def list_buckets(rt: Runtime, ctx: RequestContext, params: Params) -> Result:
    account = ctx.principal.account_id
    if ctx.principal.kind == "anonymous":
        raise errors.access_denied()
    with rt.store.read() as s:
        query = select(S3Bucket).where(S3Bucket.account_id == account)
        if params.get("Prefix"):
            prefix = str(params["Prefix"])
            query = query.where(
                S3Bucket.name.startswith(prefix, autoescape=True)
                if prefix_matches_some(prefix, MAX_BUCKET_CHARS)
                else false()
            )
        rows = s.scalars(query.order_by(S3Bucket.name)).all()
        owner = owner_of(s, account)
    return {
        "Buckets": [
            {"Name": b.name, "CreationDate": b.created_at, "BucketRegion": b.region} for b in rows
        ],
        "Owner": owner,
    }


def create_bucket(rt: Runtime, ctx: RequestContext, params: Params) -> Result:
    if ctx.principal.kind == "anonymous":
        raise errors.access_denied()
    name = check_bucket_name(str(params["Bucket"]), _bucket_rules(rt))
    region = rt.settings.region
    config = params.get("CreateBucketConfiguration") or {}
    wanted = config.get("LocationConstraint")
    if wanted not in (None, "", region):
        raise errors.invalid_location_constraint(str(wanted))
    account = ctx.principal.account_id
    # Checked before anything is created: a bad ACL leaves no bucket behind.
    requested = header_grants(params)
    acl = request_acl(params, account)
    ownership = params.get("ObjectOwnership")
    if ownership is not None:
        ownership = check_ownership(ownership)
        if ownership == ENFORCED and acl_has_effect(grants(acl), [account]):
            raise errors.acl_with_enforced_ownership()
    limit = properties.get_int(rt.store, "objectstorage.max_buckets_per_account")
    try:
        with rt.store.session() as s:
            if requested:
                check_grantees(s, requested)
            existing = s.get(S3Bucket, name)
            if existing is not None:
                raise _exists(existing.account_id == account, name)
            held = s.scalar(
                select(func.count()).select_from(S3Bucket).where(S3Bucket.account_id == account)
            )
            if (held or 0) >= limit:
                raise errors.too_many_buckets()
            s.add(
                S3Bucket(
                    name=name,
                    account_id=account,
                    region=region,
                    created_at=now(),
                    acl=acl,
                    ownership=ownership,
                )
            )
    except IntegrityError as err:  # created by a concurrent request
        raise _exists(False, name) from err
    return {"Location": f"/{name}"}


def head_bucket(rt: Runtime, ctx: RequestContext, params: Params) -> Result:
    with rt.store.read() as s:
        bucket = bucket_or_404(s, str(params["Bucket"]))
    _check_reader(ctx, bucket)
    return {"BucketRegion": bucket.region, "BucketLocationType": "AvailabilityZone"}


def get_bucket_location(rt: Runtime, ctx: RequestContext, params: Params) -> Result:
    with rt.store.read() as s:
        bucket = bucket_or_404(s, str(params["Bucket"]))
    _check_owner(ctx, bucket)
    return {"LocationConstraint": bucket.region}


def delete_bucket(rt: Runtime, ctx: RequestContext, params: Params) -> Result:
    name = str(params["Bucket"])
    with rt.store.session() as s:
        bucket = bucket_or_404(s, name)
        _check_owner(ctx, bucket)
        used = s.scalar(select(S3Object.key).where(S3Object.bucket == name).limit(1))
        uploads = s.scalar(select(S3Upload.upload_id).where(S3Upload.bucket == name).limit(1))
        if used is not None or uploads is not None:
            raise errors.bucket_not_empty(name)
        s.delete(bucket)
    return {STATUS: 204}


def _bucket_rules(rt: Runtime) -> str:
    return properties.get_str(rt.store, "objectstorage.bucket_naming_restrictions")


def _exists(mine: bool, name: str) -> ServiceError:
    return errors.bucket_already_owned_by_you(name) if mine else errors.bucket_already_exists(name)


def _check_owner(ctx: RequestContext, bucket: S3Bucket) -> None:
    if ctx.principal.kind == "anonymous":
        raise errors.access_denied()


def _check_reader(ctx: RequestContext, bucket: S3Bucket) -> None:
    require_anonymous(ctx, bucket.acl, "READ")


OPERATIONS: Operations = {
    "ListBuckets": list_buckets,
    "CreateBucket": create_bucket,
    "HeadBucket": head_bucket,
    "GetBucketLocation": get_bucket_location,
    "DeleteBucket": delete_bucket,
}
