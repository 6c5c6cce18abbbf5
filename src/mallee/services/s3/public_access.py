"""Block Public Access at the bucket level: Put/Get/DeletePublicAccessBlock, and its four rules.

- BlockPublicAcls: a request that would set a public ACL (a grant to AllUsers or
  AuthenticatedUsers) on the bucket or a new or existing object is refused (AccessDenied).
- IgnorePublicAcls: public grants, old and new, grant nothing.
- BlockPublicPolicy: PutBucketPolicy of a public policy is refused (AccessDenied).
- RestrictPublicBuckets: while the bucket policy is public, what it allows holds only for the
  bucket owner's account: not for other accounts, nor anonymous callers.

Where the decisions are made: `check_acl_change` for every ACL a request sets (with object
ownership's), policy.access_for for what ACLs and the policy grant, PutBucketPolicy for the
policy. Settings already in force are not undone by them (a public ACL set before stays
stored; IgnorePublicAcls is what stops it from granting).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from mallee.api.context import RequestContext
from mallee.services.base import Operations, Params, Result, Runtime
from mallee.services.s3 import errors
from mallee.services.s3.checksums import check_body_md5
from mallee.services.s3.common import is_public_grant, settings_bucket
from mallee.services.s3.ownership import acl_has_effect, acls_disabled
from mallee.store.tables.s3 import S3Bucket

STATUS = "@status"
FLAGS = ("BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets")


def blocks(bucket: S3Bucket, flag: str) -> bool:
    """Whether the bucket's public access block has `flag` (one of FLAGS) on."""
    text = bucket.public_access_block
    return text is not None and bool(json.loads(text).get(flag))


def check_acl_change(
    bucket: S3Bucket, grant_list: list[dict[str, Any]], owners: Iterable[str]
) -> None:
    """A request setting these grants on the bucket or one of its objects (whose owners are
    `owners`) may do so: not an ACL with effect where ACLs are disabled, not a public one
    where BlockPublicAcls is on."""
    if acls_disabled(bucket) and acl_has_effect(grant_list, owners):
        raise errors.acl_not_supported()
    if blocks(bucket, "BlockPublicAcls") and any(is_public_grant(g) for g in grant_list):
        raise errors.access_denied()


def put_public_access_block(rt: Runtime, ctx: RequestContext, params: Params) -> Result:
    check_body_md5(ctx, params.get("ContentMD5"))
    config = params.get("PublicAccessBlockConfiguration") or {}
    if not any(flag in config for flag in FLAGS):
        raise errors.invalid_request("Must specify at least one configuration.")
    settings = {flag: bool(config.get(flag, False)) for flag in FLAGS}
    with rt.store.session() as s:
        settings_bucket(s, ctx, params).public_access_block = json.dumps(settings)
    return {}


def get_public_access_block(rt: Runtime, ctx: RequestContext, params: Params) -> Result:
    with rt.store.read() as s:
        bucket = settings_bucket(s, ctx, params)
    if not bucket.public_access_block:
        raise errors.no_such_public_access_block(bucket.name)
    return {"PublicAccessBlockConfiguration": json.loads(bucket.public_access_block)}


def delete_public_access_block(rt: Runtime, ctx: RequestContext, params: Params) -> Result:
    with rt.store.session() as s:
        settings_bucket(s, ctx, params).public_access_block = None
    return {STATUS: 204}


OPERATIONS: Operations = {
    "PutPublicAccessBlock": put_public_access_block,
    "GetPublicAccessBlock": get_public_access_block,
    "DeletePublicAccessBlock": delete_public_access_block,
}
