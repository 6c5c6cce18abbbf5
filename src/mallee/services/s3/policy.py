"""Bucket policies (Put/Get/DeleteBucketPolicy, GetBucketPolicyStatus) and the access document:
what the bucket policy and the ACLs together say about one request.

The access document is a resource policy: the bucket policy's statements plus, when an ACL
grants the caller the permission the operation needs, one synthesized Allow. Grants through
AllUsers/AuthenticatedUsers become Principal "*" (anyone may, so an IAM user needs no identity
policy, as in S3); grants to an account's canonical id become Principal <account> (a user of
that account still needs an identity-policy Allow, as IAM requires across accounts).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session

from mallee.api.context import RequestContext
from mallee.objectstore import versions
from mallee.policy import Policy, PolicyError, PolicyKind, parse_policy
from mallee.services.base import Operations, Params, Result, Runtime
from mallee.services.s3 import errors
from mallee.services.s3.common import acl_allows, bucket_or_404, check_expected_owner
from mallee.services.s3.ownership import acls_disabled
from mallee.services.s3.public_access import blocks
from mallee.store.tables.iam import IamAccount
from mallee.store.tables.s3 import S3Bucket

STATUS = "@status"
ARN_PREFIX = "arn:aws:s3:::"
MAX_POLICY_BYTES = 20 * 1024

# The ACL permission an operation needs, on the bucket's ACL ...
BUCKET_PERMISSIONS = {
    "HeadBucket": "READ",
    "ListObjects": "READ",
    "ListObjectsV2": "READ",
    "ListObjectVersions": "READ",
    "ListMultipartUploads": "READ",
    "ListParts": "READ",
    "PutObject": "WRITE",
    "CopyObject": "WRITE",
    "DeleteObject": "WRITE",
    "CreateMultipartUpload": "WRITE",
    "UploadPart": "WRITE",
    "UploadPartCopy": "WRITE",
    "CompleteMultipartUpload": "WRITE",
    "AbortMultipartUpload": "WRITE",
    "GetBucketAcl": "READ_ACP",
    "PutBucketAcl": "WRITE_ACP",
}
# ... or on the object version's.
OBJECT_PERMISSIONS = {
    "GetObject": "READ",
    "HeadObject": "READ",
    "GetObjectAttributes": "READ",
    "GetObjectAcl": "READ_ACP",
    "PutObjectAcl": "WRITE_ACP",
}
# AWS: a bucket's WRITE grant lets its grantee delete objects, and delete object versions
# for good only when the grantee is the bucket owner itself.
DELETE_VERSION = "s3:DeleteObjectVersion"
# Only the bucket owner's account may call these, whatever any policy says (AWS: 405).
OWNER_ONLY = frozenset(
    {"PutBucketPolicy", "GetBucketPolicy", "DeleteBucketPolicy", "GetBucketPolicyStatus"}
)
# Condition keys that tie a wildcard principal to particular callers: a statement using one
# does not make the bucket public (GetBucketPolicyStatus).
_NARROWING_KEYS = frozenset(
    {
        "aws:sourcearn",
        "aws:sourcevpc",
        "aws:sourcevpce",
        "aws:sourceaccount",
        "aws:sourceowner",
        "aws:principalaccount",
        "aws:principalarn",
        "aws:principalorgid",
        "aws:principalorgpaths",
        "aws:userid",
        "aws:username",
    }
)


@dataclass
class Access:
    """What decides one request on one resource ARN."""

    exists: bool  # the bucket exists (a missing one is NoSuchBucket for anyone)
    owner: str  # the resource owner's account
    document: str | None = None  # bucket policy + ACL grant, as one resource policy
    # (ACL text, permission) the operation will check itself for anonymous callers.
    acl_checks: set[tuple[str, str]] = field(default_factory=set)


def split_arn(arn: str) -> tuple[str, str | None]:
    name, slash, key = arn.removeprefix(ARN_PREFIX).partition("/")
    return name, key if slash else None


def access_for(s: Session, ctx: RequestContext, arn: str, action: str) -> Access:
    """The bucket policy and ACLs as one resource policy for this request, as the bucket's
    object ownership and public access block let them grant."""
    name, key = split_arn(arn)
    bucket = s.get(S3Bucket, name) if name and name != "*" else None
    if bucket is None:
        return Access(False, ctx.principal.account_id)
    if bucket.request_payer == "Requester" and ctx.principal.account_id != bucket.account_id:
        # Requester Pays: another account must accept the charges (x-amz-request-payer), and
        # an anonymous caller, whom none could be charged to, is refused whatever it sends.
        accepted = ctx.http.headers.get("x-amz-request-payer", "").lower() == "requester"
        if not accepted or ctx.principal.kind == "anonymous":
            raise errors.access_denied()
    op = ctx.operation_name
    owner, acl_text, permission = bucket.account_id, bucket.acl, BUCKET_PERMISSIONS.get(op)
    if op in OBJECT_PERMISSIONS and key is not None:
        version = ctx.params.get("VersionId")
        row = versions.find(s, name, key, str(version) if version else None)
        if row is not None and not row.delete_marker:
            # The object's owner is its writer: the bucket owner has only what it is granted.
            owner, acl_text, permission = row.account_id, row.acl, OBJECT_PERMISSIONS[op]
        elif OBJECT_PERMISSIONS[op] == "READ":
            # Missing: whoever may list the bucket may learn so (NoSuchKey rather than 403).
            permission = "READ"
        else:
            permission = None
    disabled = acls_disabled(bucket)
    if disabled:
        owner = bucket.account_id  # BucketOwnerEnforced: it owns every object
    statements = _policy_statements(bucket.policy)
    if (
        statements
        and ctx.principal.account_id != bucket.account_id
        and blocks(bucket, "RestrictPublicBuckets")
        and is_public(str(bucket.policy))
    ):
        # A public policy's Allows hold only for the owner's account; its Denies for everyone.
        statements = [st for st in statements if st.get("Effect") != "Allow"]
    checks: set[tuple[str, str]] = set()
    if permission is not None:
        public = not blocks(bucket, "IgnorePublicAcls")
        by_group = (
            None if disabled else acl_allows(acl_text, ctx.principal, permission, public=public)
        )
        if action == DELETE_VERSION and (by_group or ctx.principal.account_id != owner):
            by_group = None  # WRITE removes versions for good only for the bucket owner
        if by_group is not None:
            who: Any = "*" if by_group else {"AWS": ctx.principal.account_id}
            # Resource "*": the statement is made for this ARN alone, and a key may hold
            # characters ("*", "${") that a Resource pattern would interpret.
            statements.append(
                {"Effect": "Allow", "Principal": who, "Action": action, "Resource": "*"}
            )
        checks.add((acl_text, permission))
    if not statements:
        return Access(True, owner, None, checks)
    version_tag = _policy_version(bucket.policy)
    document = json.dumps({"Version": version_tag, "Statement": statements})
    return Access(True, owner, document, checks)


def _policy_statements(text: str | None) -> list[Any]:
    if not text:
        return []
    found = json.loads(text).get("Statement", [])
    return [found] if isinstance(found, dict) else list(found)


def _policy_version(text: str | None) -> str:
    # Kept as the bucket policy's: only 2012-10-17 documents substitute ${...} variables.
    return str(json.loads(text).get("Version", "2008-10-17")) if text else "2012-10-17"


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value] if value is not None else []


def _check_resources(bucket: str, statement: dict[str, Any]) -> None:
    resources = _as_list(statement.get("Resource")) + _as_list(statement.get("NotResource"))
    own = f"{ARN_PREFIX}{bucket}"
    for resource in resources:
        if not isinstance(resource, str) or not (resource == own or resource.startswith(own + "/")):
            raise errors.malformed_policy("Policy has invalid resource")


def _action_kind(action: str) -> str | None:
    """'object' or 'bucket' for an s3 action that applies only to one kind of resource."""
    name = action.partition(":")[2]
    if "*" in name or "?" in name:
        return None
    if "Object" in name or name in ("AbortMultipartUpload", "ListMultipartUploadParts"):
        return "object"
    if "Bucket" in name:
        return "bucket"
    return None


def _check_actions(statement: dict[str, Any]) -> None:
    actions = [a for a in _as_list(statement.get("Action")) if isinstance(a, str)]
    for action in actions + _as_list(statement.get("NotAction")):
        if isinstance(action, str) and action != "*" and not action.lower().startswith("s3:"):
            raise errors.malformed_policy("Policy has invalid action")
    resources = [r for r in _as_list(statement.get("Resource")) if isinstance(r, str)]
    kinds = {_action_kind(a) for a in actions}
    if not actions or not resources or None in kinds:
        return
    on_objects = any("/" in r for r in resources)
    on_bucket = any("/" not in r for r in resources)
    if ("object" in kinds and not on_objects) or ("bucket" in kinds and not on_bucket):
        raise errors.malformed_policy("Action does not apply to any resource(s) in statement")


def _check_principals(s: Session, policy: Policy) -> None:
    for statement in policy.statements:
        for principals in (statement.principal, statement.not_principal):
            if principals is None:
                continue
            for value in principals.values.get("AWS", ()):
                account = value
                if value.startswith("arn:aws:iam::"):
                    account = value.split(":")[4]
                if value != "*" and s.get(IamAccount, account) is None:
                    raise errors.malformed_policy("Invalid principal in policy")


def validate_policy(s: Session, bucket: str, text: str) -> None:
    """MalformedPolicy, with S3's messages, unless `text` is a valid policy for `bucket`."""
    if len(text.encode()) > MAX_POLICY_BYTES:
        raise errors.malformed_policy("Policies must be less than 20 KB")
    try:
        doc = json.loads(text)
    except ValueError:
        doc = None
    if not isinstance(doc, dict) or not text.lstrip().startswith("{"):
        raise errors.malformed_policy("Policies must be valid JSON and the first byte must be '{'")
    raw = doc.get("Statement")
    for statement in raw if isinstance(raw, list) else [raw]:
        if isinstance(statement, dict):
            if "Principal" not in statement and "NotPrincipal" not in statement:
                raise errors.malformed_policy("Missing required field Principal")
            _check_actions(statement)
            _check_resources(bucket, statement)
    try:
        policy = parse_policy(text, PolicyKind.RESOURCE)
    except PolicyError as err:
        raise errors.malformed_policy(err.message) from err
    _check_principals(s, policy)


def is_public(text: str) -> bool:
    """S3's rule, simplified: an Allow to everyone that no narrowing condition restricts."""
    policy = parse_policy(text, PolicyKind.RESOURCE)
    for statement in policy.statements:
        if statement.effect != "Allow":
            continue
        everyone = statement.not_principal is not None or (
            statement.principal is not None
            and (statement.principal.wildcard or "*" in statement.principal.values.get("AWS", ()))
        )
        if not everyone:
            continue
        narrowed = False
        for cond in statement.conditions:
            if cond.key in _NARROWING_KEYS and not cond.negated:
                narrowed = True
            if cond.key == "aws:sourceip" and cond.base == "IpAddress" and not cond.negated:
                narrowed = narrowed or not any(v.endswith("/0") for v in cond.values)
        if not narrowed:
            return True
    return False


def check_bucket_owner(ctx: RequestContext, bucket: S3Bucket) -> None:
    """Only the owner's account (or the cloud admin) manages a bucket's policy."""
    p = ctx.principal
    if p.kind == "anonymous":
        raise errors.access_denied()
    if p.account_id != bucket.account_id and not p.is_cloud_admin:
        raise errors.method_not_allowed()


def _owned_bucket(s: Session, ctx: RequestContext, params: Params) -> S3Bucket:
    bucket = bucket_or_404(s, str(params["Bucket"]))
    check_bucket_owner(ctx, bucket)
    check_expected_owner(params, bucket)
    return bucket


def put_bucket_policy(rt: Runtime, ctx: RequestContext, params: Params) -> Result:
    text = params.get("Policy")
    if not isinstance(text, str) or not text.strip():
        raise errors.malformed_policy("Policies must be valid JSON and the first byte must be '{'")
    with rt.store.session() as s:
        bucket = _owned_bucket(s, ctx, params)
        validate_policy(s, bucket.name, text)
        if blocks(bucket, "BlockPublicPolicy") and is_public(text):
            raise errors.access_denied()
        bucket.policy = text
    return {STATUS: 204}


def get_bucket_policy(rt: Runtime, ctx: RequestContext, params: Params) -> Result:
    with rt.store.read() as s:
        bucket = _owned_bucket(s, ctx, params)
    if not bucket.policy:
        raise errors.no_such_bucket_policy(bucket.name)
    return {"Policy": bucket.policy}


def delete_bucket_policy(rt: Runtime, ctx: RequestContext, params: Params) -> Result:
    with rt.store.session() as s:
        bucket = _owned_bucket(s, ctx, params)
        bucket.policy = None
    return {STATUS: 204}


def get_bucket_policy_status(rt: Runtime, ctx: RequestContext, params: Params) -> Result:
    with rt.store.read() as s:
        bucket = _owned_bucket(s, ctx, params)
    if not bucket.policy:
        raise errors.no_such_bucket_policy(bucket.name)
    return {"PolicyStatus": {"IsPublic": is_public(bucket.policy)}}


OPERATIONS: Operations = {
    "PutBucketPolicy": put_bucket_policy,
    "GetBucketPolicy": get_bucket_policy,
    "DeleteBucketPolicy": delete_bucket_policy,
    "GetBucketPolicyStatus": get_bucket_policy_status,
}
