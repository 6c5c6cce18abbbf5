"""Object Ownership: Put/Get/DeleteBucketOwnershipControls, and what BucketOwnerEnforced does.

BucketOwnerEnforced disables ACLs: they no longer grant anything (policies alone decide, and
the bucket owner is the owner of every object in it), a request that would set an ACL with
any effect is refused (AccessControlListNotSupported), and reading an ACL answers the bucket
owner's full control alone. BucketOwnerPreferred and ObjectWriter are kept and returned.

A bucket without ownership controls behaves as ObjectWriter (ACLs work). AWS makes new buckets
BucketOwnerEnforced since April 2023, but clients written for ACLs (and mallee's own users)
count on them; GetBucketOwnershipControls then answers OwnershipControlsNotFoundError.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from mallee.api.context import RequestContext
from mallee.objectstore.canonical import canonical_id
from mallee.services.base import Operations, Params, Result, Runtime
from mallee.services.s3 import errors
from mallee.services.s3.common import grants, settings_bucket
from mallee.store.tables.s3 import S3Bucket

STATUS = "@status"
ENFORCED = "BucketOwnerEnforced"
OWNERSHIPS = frozenset({ENFORCED, "BucketOwnerPreferred", "ObjectWriter"})


def acls_disabled(bucket: S3Bucket) -> bool:
    return bucket.ownership == ENFORCED


def acl_has_effect(grant_list: Iterable[dict[str, Any]], owners: Iterable[str]) -> bool:
    """Whether an ACL grants anything beyond full control to the resource's owners (the
    bucket owner, and an object's writer): what BucketOwnerEnforced does not accept."""
    mine = {canonical_id(account) for account in owners}
    return any(
        grant.get("permission") != "FULL_CONTROL"
        or grant.get("grantee", {}).get("type") != "CanonicalUser"
        or grant.get("grantee", {}).get("id") not in mine
        for grant in grant_list
    )


def check_ownership(value: Any) -> str:
    """CreateBucket's x-amz-object-ownership, checked."""
    if value not in OWNERSHIPS:
        raise errors.invalid_argument(
            f"Invalid x-amz-object-ownership header: {value}",
            "x-amz-object-ownership",
            str(value),
        )
    return str(value)


def put_bucket_ownership_controls(rt: Runtime, ctx: RequestContext, params: Params) -> Result:
    rules = (params.get("OwnershipControls") or {}).get("Rules") or []
    if len(rules) != 1 or rules[0].get("ObjectOwnership") not in OWNERSHIPS:
        raise errors.malformed_xml()
    wanted = str(rules[0]["ObjectOwnership"])
    with rt.store.session() as s:
        bucket = settings_bucket(s, ctx, params)
        if wanted == ENFORCED and acl_has_effect(grants(bucket.acl), [bucket.account_id]):
            # ACLs that grant others something must go first, or disabling them would
            # silently take that access away.
            raise errors.acl_with_enforced_ownership()
        bucket.ownership = wanted
    return {}


def get_bucket_ownership_controls(rt: Runtime, ctx: RequestContext, params: Params) -> Result:
    with rt.store.read() as s:
        bucket = settings_bucket(s, ctx, params)
    if bucket.ownership is None:
        raise errors.ownership_controls_not_found(bucket.name)
    return {"OwnershipControls": {"Rules": [{"ObjectOwnership": bucket.ownership}]}}


def delete_bucket_ownership_controls(rt: Runtime, ctx: RequestContext, params: Params) -> Result:
    with rt.store.session() as s:
        settings_bucket(s, ctx, params).ownership = None
    return {STATUS: 204}


OPERATIONS: Operations = {
    "PutBucketOwnershipControls": put_bucket_ownership_controls,
    "GetBucketOwnershipControls": get_bucket_ownership_controls,
    "DeleteBucketOwnershipControls": delete_bucket_ownership_controls,
}
