"""ACLs: GetBucketAcl, PutBucketAcl, GetObjectAcl, PutObjectAcl.

An ACL is set one of three ways, never two at once: a canned ACL (x-amz-acl), grant headers
(x-amz-grant-*), or an AccessControlPolicy document. Who may call these is decided before
(the IAM authorizer, or access.prepare for anonymous callers) from READ_ACP / WRITE_ACP.
Where ownership controls disable ACLs, or the public access block blocks public ones, setting
one is refused (public_access.check_acl_change).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from mallee.api.context import RequestContext
from mallee.objectstore.canonical import canonical_id
from mallee.services.base import Operations, Params, Result, Runtime
from mallee.services.s3 import errors
from mallee.services.s3.common import (
    BUCKET_OWNER_PARAM,
    CANNED_ACLS,
    GROUPS,
    PERMISSIONS,
    account_of_canonical,
    acl_json,
    bucket_or_404,
    canned_acl,
    canned_grants,
    check_expected_owner,
    check_grantees,
    grantee,
    grants,
    header_grants,
    named_version,
    new_object_acl,
    owner_of,
    require_anonymous,
)
from mallee.services.s3.ownership import acls_disabled
from mallee.services.s3.public_access import check_acl_change
from mallee.store.tables.s3 import S3Bucket, S3Object

STATUS = "@status"
# S3 refuses ACLs with more grants than this.
MAX_GRANTS = 100


def policy_grantee(raw: Any) -> dict[str, str]:
    """A stored grantee from an AccessControlPolicy <Grantee>."""
    if not isinstance(raw, dict):
        raise errors.malformed_acl()
    kind = raw.get("Type")
    if kind == "CanonicalUser":
        if not raw.get("ID"):
            raise errors.malformed_acl()
        return grantee("id", str(raw["ID"]))
    if kind == "Group":
        uri = raw.get("URI")
        if not uri:
            raise errors.malformed_acl()
        if uri not in GROUPS:
            raise errors.invalid_argument("Invalid group uri", "Group/URI", str(uri))
        return {"type": "Group", "uri": str(uri)}
    if kind == "AmazonCustomerByEmail":
        if not raw.get("EmailAddress"):
            raise errors.malformed_acl()
        return grantee("emailaddress", str(raw["EmailAddress"]))
    raise errors.malformed_acl()


def policy_grants(document: dict[str, Any], owner_account: str) -> list[dict[str, Any]]:
    """The grants of an AccessControlPolicy document for a resource `owner_account` owns."""
    owner = document.get("Owner")
    if not isinstance(owner, dict) or not owner.get("ID"):
        raise errors.malformed_acl()
    if owner["ID"] != canonical_id(owner_account):
        # The owner of a bucket or object never changes through its ACL.
        raise errors.access_denied()
    raw_grants = document.get("Grants") or []
    if len(raw_grants) > MAX_GRANTS:
        raise errors.malformed_acl(f"The ACL has more than {MAX_GRANTS} grants")
    out: list[dict[str, Any]] = []
    for grant in raw_grants:
        permission = grant.get("Permission") if isinstance(grant, dict) else None
        if permission not in PERMISSIONS or "Grantee" not in grant:
            raise errors.malformed_acl()
        out.append({"grantee": policy_grantee(grant["Grantee"]), "permission": permission})
    return out


def acl_from_request(s: Session, params: Params, bucket: S3Bucket, owner_account: str) -> str:
    """The new ACL a Put*Acl request asks for on the bucket or on one of its objects (owned
    by `owner_account`), validated; the resource owner stays."""
    document = params.get("AccessControlPolicy")
    from_headers = header_grants(params)
    if document is not None and (from_headers is not None or params.get("ACL") is not None):
        raise errors.unexpected_content()
    if document is not None:
        chosen = policy_grants(document, owner_account)
    elif from_headers is not None:
        chosen = from_headers
    elif params.get("ACL") is not None:
        chosen = canned_grants(str(params["ACL"]), owner_account, bucket.account_id)
    else:
        raise errors.missing_security_header("x-amz-acl")
    check_grantees(s, chosen)
    check_acl_change(bucket, chosen, {owner_account, bucket.account_id})
    return acl_json(owner_account, chosen)


def describe_acl(s: Session, acl_text: str, owner_account: str) -> Result:
    """The GetBucketAcl / GetObjectAcl answer for a stored ACL."""
    out_grants: list[dict[str, Any]] = []
    for grant in grants(acl_text):
        who = grant.get("grantee", {})
        if who.get("type") == "Group":
            shown: dict[str, Any] = {"Type": "Group", "URI": who.get("uri")}
        else:
            shown = {"Type": "CanonicalUser", "ID": who.get("id")}
            account = account_of_canonical(s, str(who.get("id")))
            if account is not None:
                shown["DisplayName"] = owner_of(s, account)["DisplayName"]
        out_grants.append({"Grantee": shown, "Permission": grant.get("permission")})
    return {"Owner": owner_of(s, owner_account), "Grants": out_grants}


def _version(s: Session, params: Params) -> tuple[S3Bucket, S3Object]:
    """The bucket and object version an *ObjectAcl request names (a delete marker has no
    ACL)."""
    bucket = bucket_or_404(s, str(params["Bucket"]))
    return bucket, named_version(s, params)


def check_new_object_acl(rt: Runtime, ctx: RequestContext) -> None:
    """Before a body is read: the new object's ACL request is valid, its grantees exist,
    the bucket lets it be set (ownership controls, public access block), and a
    bucket-owner-* canned ACL learns who the bucket owner is."""
    params = ctx.params
    requested = header_grants(params)
    canned = params.get("ACL")
    if canned is not None and canned not in CANNED_ACLS:
        raise errors.invalid_canned_acl(str(canned))
    if requested is None and canned is None:
        return  # the writer's full control alone, which any bucket accepts
    with rt.store.read() as s:
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


def get_bucket_acl(rt: Runtime, ctx: RequestContext, params: Params) -> Result:
    with rt.store.read() as s:
        bucket = bucket_or_404(s, str(params["Bucket"]))
        check_expected_owner(params, bucket)
        require_anonymous(ctx, bucket.acl, "READ_ACP")
        return describe_acl(s, bucket.acl, bucket.account_id)


def put_bucket_acl(rt: Runtime, ctx: RequestContext, params: Params) -> Result:
    with rt.store.session() as s:
        bucket = bucket_or_404(s, str(params["Bucket"]))
        check_expected_owner(params, bucket)
        require_anonymous(ctx, bucket.acl, "WRITE_ACP")
        bucket.acl = acl_from_request(s, params, bucket, bucket.account_id)
    return {}


def get_object_acl(rt: Runtime, ctx: RequestContext, params: Params) -> Result:
    with rt.store.read() as s:
        bucket, row = _version(s, params)
        require_anonymous(ctx, row.acl, "READ_ACP")
        if acls_disabled(bucket):
            # The bucket owner owns every object, with nothing granted to anyone else.
            return describe_acl(s, canned_acl(None, bucket.account_id), bucket.account_id)
        return describe_acl(s, row.acl, row.account_id)


def put_object_acl(rt: Runtime, ctx: RequestContext, params: Params) -> Result:
    with rt.store.session() as s:
        bucket, row = _version(s, params)
        require_anonymous(ctx, row.acl, "WRITE_ACP")
        row.acl = acl_from_request(s, params, bucket, row.account_id)
    return {}


OPERATIONS: Operations = {
    "GetBucketAcl": get_bucket_acl,
    "PutBucketAcl": put_bucket_acl,
    "GetObjectAcl": get_object_acl,
    "PutObjectAcl": put_object_acl,
}
