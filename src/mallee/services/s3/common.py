"""What every S3 operation family shares: bucket lookup, owners, ACLs, anonymous admission.

Access: for authenticated callers the IAM authorizer has already applied identity policies,
the bucket policy and what the ACLs grant the caller (access.resource_policy turns grants
into policy statements). Anonymous callers skip IAM; access.admit_anonymous evaluates the
bucket policy and ACLs for them and records what it admitted, so `require_anonymous` in the
operations passes exactly those checks: the decision (public access block and object ownership
included) is made there once, never again from the ACL alone.

ACLs are stored as JSON: {"owner": account, "grants": [{"grantee": {...}, "permission": P}]}
where a grantee is {"type": "CanonicalUser", "id": <canonical id>} or {"type": "Group",
"uri": <group uri>}.
"""

from __future__ import annotations

import json
import re
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any, Protocol

from sqlalchemy import select
from sqlalchemy.orm import Session

from mallee.api.context import Principal, RequestContext
from mallee.objectstore import versions
from mallee.objectstore.canonical import canonical_id
from mallee.services.s3 import errors
from mallee.store.tables.iam import IamAccount
from mallee.store.tables.s3 import S3Bucket, S3Object

ALL_USERS = "http://acs.amazonaws.com/groups/global/AllUsers"
AUTHENTICATED_USERS = "http://acs.amazonaws.com/groups/global/AuthenticatedUsers"
LOG_DELIVERY = "http://acs.amazonaws.com/groups/s3/LogDelivery"
GROUPS = frozenset({ALL_USERS, AUTHENTICATED_USERS, LOG_DELIVERY})
PERMISSIONS = ("FULL_CONTROL", "WRITE", "WRITE_ACP", "READ", "READ_ACP")
CANNED_ACLS = frozenset(
    {
        "private",
        "public-read",
        "public-read-write",
        "authenticated-read",
        "bucket-owner-read",
        "bucket-owner-full-control",
        "log-delivery-write",
        "aws-exec-read",
    }
)
# Request members carrying x-amz-grant-* headers, and the permission each grants.
GRANT_HEADERS = {
    "GrantFullControl": ("x-amz-grant-full-control", "FULL_CONTROL"),
    "GrantRead": ("x-amz-grant-read", "READ"),
    "GrantReadACP": ("x-amz-grant-read-acp", "READ_ACP"),
    "GrantWrite": ("x-amz-grant-write", "WRITE"),
    "GrantWriteACP": ("x-amz-grant-write-acp", "WRITE_ACP"),
}
# Set by access.prepare for requests naming a bucket whose owner a canned ACL needs
# (bucket-owner-read / -full-control) and that the operation would not otherwise know.
BUCKET_OWNER_PARAM = "@bucket_owner"
_CANONICAL = re.compile(r"[0-9a-f]{64}")
# canonical id -> account id; a pure function of the account id, so never stale (existence is
# checked against the store on every use).
_canonical_accounts: dict[str, str] = {}


def now() -> datetime:
    # S3 reports times to the millisecond.
    moment = datetime.now(UTC)
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)


def account_of_canonical(s: Session, canonical: str) -> str | None:
    """The existing account whose canonical id this is, else None."""
    account = _canonical_accounts.get(canonical)
    if account is None and _CANONICAL.fullmatch(canonical):
        for found in s.scalars(select(IamAccount.id)).all():
            _canonical_accounts[canonical_id(found)] = found
        account = _canonical_accounts.get(canonical)
    if account is None or s.get(IamAccount, account) is None:
        return None
    return account


def owner_of(s: Session, account_id: str) -> dict[str, str]:
    account = s.get(IamAccount, account_id)
    name = account.name if account is not None else account_id
    return {"ID": canonical_id(account_id), "DisplayName": name}


def bucket_or_404(s: Session, name: str) -> S3Bucket:
    bucket = s.get(S3Bucket, name)
    if bucket is None:
        raise errors.no_such_bucket(name)
    return bucket


def named_version(s: Session, params: dict[str, Any]) -> S3Object:
    """The version a per-object subresource call (ACL, tagging) names, latest when none; a
    delete marker answers as GetObject's does (404, or 405 when named by version)."""
    name, key = str(params["Bucket"]), str(params["Key"])
    version = params.get("VersionId")
    row = versions.find(s, name, key, str(version) if version else None)
    if row is None:
        raise errors.no_such_version(key, str(version)) if version else errors.no_such_key(key)
    if row.delete_marker:
        if version:
            raise errors.method_not_allowed({"x-amz-delete-marker": "true", "Allow": "DELETE"})
        err = errors.no_such_key(key)
        err.headers["x-amz-delete-marker"] = "true"
        raise err
    return row


def grants(acl_text: str) -> list[dict[str, Any]]:
    if not acl_text:
        return []
    found: list[dict[str, Any]] = json.loads(acl_text).get("grants", [])
    return found


def acl_json(owner_account: str, grant_list: list[dict[str, Any]]) -> str:
    return json.dumps({"owner": owner_account, "grants": grant_list})


def user_grant(account_id: str, permission: str) -> dict[str, Any]:
    return {
        "grantee": {"type": "CanonicalUser", "id": canonical_id(account_id)},
        "permission": permission,
    }


def group_grant(uri: str, permission: str) -> dict[str, Any]:
    return {"grantee": {"type": "Group", "uri": uri}, "permission": permission}


def canned_grants(
    name: str | None, owner_account: str, bucket_owner: str | None = None
) -> list[dict[str, Any]]:
    """The grants of a canned ACL (private when none); InvalidArgument for unknown names."""
    if name is not None and name not in CANNED_ACLS:
        raise errors.invalid_canned_acl(name)
    out = [user_grant(owner_account, "FULL_CONTROL")]
    if name in ("public-read", "public-read-write"):
        out.append(group_grant(ALL_USERS, "READ"))
    if name == "public-read-write":
        out.append(group_grant(ALL_USERS, "WRITE"))
    if name == "authenticated-read":
        out.append(group_grant(AUTHENTICATED_USERS, "READ"))
    if name == "log-delivery-write":
        out += [group_grant(LOG_DELIVERY, "WRITE"), group_grant(LOG_DELIVERY, "READ_ACP")]
    # On a bucket these two mean nothing (its owner is the bucket owner); on an object
    # written by another account they give the bucket owner access.
    if name in ("bucket-owner-read", "bucket-owner-full-control") and bucket_owner not in (
        None,
        owner_account,
    ):
        assert bucket_owner is not None
        wanted = "READ" if name == "bucket-owner-read" else "FULL_CONTROL"
        out.append(user_grant(bucket_owner, wanted))
    return out


def canned_acl(name: str | None, owner_account: str, bucket_owner: str | None = None) -> str:
    """The JSON ACL for a canned ACL name (private when none)."""
    return acl_json(owner_account, canned_grants(name, owner_account, bucket_owner))


def _header_items(header: str, value: str) -> list[tuple[str, str]]:
    """`id="..", uri=".."`: (lower-cased key, value) pairs of one x-amz-grant-* header."""
    items: list[tuple[str, str]] = []
    for raw in re.findall(r'(?:[^,"]|"[^"]*")+', value):
        key, eq, text = raw.strip().partition("=")
        key = key.strip().lower()
        text = text.strip()
        if len(text) >= 2 and text[0] == text[-1] == '"':
            text = text[1:-1]
        if not eq or key not in ("id", "uri", "emailaddress") or not text:
            raise errors.invalid_argument("Argument format not recognized", header, raw.strip())
        items.append((key, text))
    if not items:
        raise errors.invalid_argument("Argument format not recognized", header, value)
    return items


def grantee(kind: str, value: str) -> dict[str, str]:
    """A grantee as stored, from a grant header's key (id/uri/emailaddress) and value."""
    if kind == "emailaddress":
        # mallee accounts carry no e-mail address, so none resolves (as AWS for unknown ones).
        raise errors.unresolvable_grant_by_email(value)
    if kind == "uri":
        if value not in GROUPS:
            raise errors.invalid_argument("Invalid group uri", "uri", value)
        return {"type": "Group", "uri": value}
    if not _CANONICAL.fullmatch(value):
        raise errors.invalid_argument("Invalid id", "CanonicalUser/ID", value)
    return {"type": "CanonicalUser", "id": value}


def header_grants(params: dict[str, Any]) -> list[dict[str, Any]] | None:
    """The grants x-amz-grant-* headers ask for (None when there are none).

    Canonical ids are checked for form only here; `check_grantees` checks they exist.
    """
    found: list[dict[str, Any]] = []
    present = False
    for member, (header, permission) in GRANT_HEADERS.items():
        value = params.get(member)
        if value is None:
            continue
        present = True
        for kind, text in _header_items(header, str(value)):
            found.append({"grantee": grantee(kind, text), "permission": permission})
    if present and params.get("ACL") is not None:
        raise errors.invalid_request("Specifying both Canned ACLs and Header Grants is not allowed")
    return found if present else None


def check_grantees(s: Session, grant_list: list[dict[str, Any]]) -> None:
    """InvalidArgument for a grant to a canonical id no account has."""
    for grant in grant_list:
        who = grant["grantee"]
        if who.get("type") == "CanonicalUser" and account_of_canonical(s, who["id"]) is None:
            raise errors.invalid_argument("Invalid id", "CanonicalUser/ID", who["id"])


def request_acl(params: dict[str, Any], owner_account: str, bucket_owner: str | None = None) -> str:
    """The ACL a new bucket or object gets from its request: canned ACL or grant headers."""
    from_headers = header_grants(params)
    if from_headers is not None:
        return acl_json(owner_account, from_headers)
    return canned_acl(params.get("ACL"), owner_account, bucket_owner)


def new_object_acl(params: dict[str, Any], owner_account: str) -> str:
    """The ACL a new object gets (access.prepare has already checked the grantees exist
    and put the bucket owner into the params when a bucket-owner-* canned ACL needs it)."""
    bucket_owner = params.get(BUCKET_OWNER_PARAM)
    return request_acl(params, owner_account, str(bucket_owner) if bucket_owner else None)


def is_public_grant(grant: dict[str, Any]) -> bool:
    """A grant to AllUsers or AuthenticatedUsers (any AWS account at all): what S3's Block
    Public Access calls a public ACL."""
    return grant.get("grantee", {}).get("uri") in (ALL_USERS, AUTHENTICATED_USERS)


def permissions_for(acl_text: str, principal: Principal, *, public: bool = True) -> dict[str, bool]:
    """Permission -> whether it came through a group (AllUsers/AuthenticatedUsers) rather than
    a grant to the caller's own account: what the ACL grants this caller (`public` False: the
    group grants count for nothing, as under IgnorePublicAcls)."""
    anonymous = principal.kind == "anonymous"
    mine = "" if anonymous else canonical_id(principal.account_id)
    out: dict[str, bool] = {}
    for grant in grants(acl_text):
        who = grant.get("grantee", {})
        uri = who.get("uri")
        if is_public_grant(grant) and not public:
            continue
        if uri == ALL_USERS or (uri == AUTHENTICATED_USERS and not anonymous):
            by_group = True
        elif who.get("type") == "CanonicalUser" and mine and who.get("id") == mine:
            by_group = False
        else:
            continue
        permission = str(grant.get("permission"))
        out[permission] = out.get(permission, False) or by_group
    return out


def acl_allows(
    acl_text: str, principal: Principal, permission: str, *, public: bool = True
) -> bool | None:
    """None when the ACL does not grant `permission` to the caller; else whether a group
    grant (rather than one to the caller's account) is what grants it."""
    held = permissions_for(acl_text, principal, public=public)
    hits = [held[p] for p in (permission, "FULL_CONTROL") if p in held]
    return any(hits) if hits else None


# (request id, ACL text, permission) checks already decided in favour of the current
# anonymous request, by bucket policy or ACL (access.admit_anonymous).
_admitted: ContextVar[tuple[str, frozenset[tuple[str, str]]]] = ContextVar(
    "s3_anonymous_admitted", default=("", frozenset())
)


def remember_admitted(ctx: RequestContext, checks: set[tuple[str, str]]) -> None:
    """Record what was admitted, adding to what this request had admitted before: a copy
    is admitted for its destination by prepare, then for its source by the operation."""
    request_id, earlier = _admitted.get()
    kept = earlier if request_id == ctx.request_id else frozenset()
    _admitted.set((ctx.request_id, kept | frozenset(checks)))


def require_anonymous(ctx: RequestContext, acl_text: str, permission: str) -> None:
    """Anonymous callers pass only where prepare admitted them for this very ACL and
    permission (an ACL changed since, or never looked at, admits no one)."""
    if ctx.principal.kind != "anonymous":
        return
    request_id, checks = _admitted.get()
    if request_id != ctx.request_id or (acl_text, permission) not in checks:
        raise errors.access_denied()


def check_expected_owner(params: dict[str, Any], bucket: S3Bucket) -> None:
    expected = params.get("ExpectedBucketOwner")
    if expected is not None and str(expected) != bucket.account_id:
        raise errors.access_denied()


def settings_bucket(s: Session, ctx: RequestContext, params: dict[str, Any]) -> S3Bucket:
    """The bucket a bucket-settings operation names. Signed callers were authorized by IAM
    (s3:PutBucketLogging, ...); no ACL grants these, so anonymous callers never may."""
    if ctx.principal.kind == "anonymous":
        raise errors.access_denied()
    bucket = bucket_or_404(s, str(params["Bucket"]))
    check_expected_owner(params, bucket)
    return bucket


class VersionState(Protocol):
    """What a conditional write looks at in the current version (a row of any kind)."""

    @property
    def etag(self) -> str: ...

    @property
    def delete_marker(self) -> bool: ...


def check_write_conditions(current: VersionState | None, params: dict[str, Any]) -> None:
    """PutObject's If-None-Match: * and If-Match (conditional writes)."""
    none_match, match = params.get("IfNoneMatch"), params.get("IfMatch")
    live = current is not None and not current.delete_marker
    if none_match is not None and live:
        raise errors.precondition_failed("If-None-Match")
    if match is not None:
        if not live:
            raise errors.no_such_key(str(params["Key"]))
        assert current is not None
        if match.strip('"') != current.etag.strip('"'):
            raise errors.precondition_failed("If-Match")
