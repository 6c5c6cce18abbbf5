"""What every S3 operation family shares: the backend, bucket lookup, owners, access checks.

Access: the IAM authorizer has already applied identity policies and the bucket policy (see
S3Base.resources / resource_policy). What is left here is S3's own ACL rule for callers that
IAM cannot speak for: anonymous requests, which only a grant to AllUsers admits.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from typing import Any, ClassVar

from sqlalchemy.orm import Session

from mallee.api.context import RequestContext
from mallee.services.base import Provider, Runtime
from mallee.services.empyrean import properties
from mallee.services.s3 import errors
from mallee.services.s3.backends import Backend, make_backend
from mallee.store.tables.iam import IamAccount
from mallee.store.tables.s3 import S3Bucket

ALL_USERS = "http://acs.amazonaws.com/groups/global/AllUsers"
AUTHENTICATED_USERS = "http://acs.amazonaws.com/groups/global/AuthenticatedUsers"


def now() -> datetime:
    # S3 reports times to the millisecond.
    moment = datetime.now(UTC)
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)


def canonical_id(account_id: str) -> str:
    """The account's S3 canonical user id (64 hex digits, stable)."""
    return hashlib.sha256(f"mallee-canonical:{account_id}".encode()).hexdigest()


def owner_of(s: Session, account_id: str) -> dict[str, str]:
    account = s.get(IamAccount, account_id)
    name = account.name if account is not None else account_id
    return {"ID": canonical_id(account_id), "DisplayName": name}


def bucket_or_404(s: Session, name: str) -> S3Bucket:
    bucket = s.get(S3Bucket, name)
    if bucket is None:
        raise errors.no_such_bucket(name)
    return bucket


def grants(acl_text: str) -> list[dict[str, Any]]:
    if not acl_text:
        return []
    found: list[dict[str, Any]] = json.loads(acl_text).get("grants", [])
    return found


def canned_acl(name: str | None, owner_account: str) -> str:
    """The JSON ACL for a canned ACL name (private when none)."""
    me = {"type": "CanonicalUser", "id": canonical_id(owner_account)}
    out = [{"grantee": me, "permission": "FULL_CONTROL"}]
    everyone = {"type": "Group", "uri": ALL_USERS}
    if name in ("public-read", "public-read-write"):
        out.append({"grantee": everyone, "permission": "READ"})
    if name == "public-read-write":
        out.append({"grantee": everyone, "permission": "WRITE"})
    if name == "authenticated-read":
        out.append({"grantee": {"type": "Group", "uri": AUTHENTICATED_USERS}, "permission": "READ"})
    return json.dumps({"owner": owner_account, "grants": out})


def new_object_acl(params: dict[str, Any], owner_account: str) -> str:
    """The ACL a new object gets from its request (canned ACL; grants come with acl.py)."""
    return canned_acl(params.get("ACL"), owner_account)


def anonymous_may(acl_text: str, permission: str) -> bool:
    for grant in grants(acl_text):
        grantee = grant.get("grantee", {})
        if grantee.get("uri") == ALL_USERS and grant.get("permission") in (
            permission,
            "FULL_CONTROL",
        ):
            return True
    return False


def require_anonymous(ctx: RequestContext, acl_text: str, permission: str) -> None:
    """Anonymous callers pass only where the ACL grants AllUsers `permission`."""
    if ctx.principal.kind == "anonymous" and not anonymous_may(acl_text, permission):
        raise errors.access_denied()


class S3Base(Provider):
    service: ClassVar[str] = "s3"
    action_prefix: ClassVar[str] = "s3"

    def __init__(self, runtime: Runtime) -> None:
        super().__init__(runtime)
        self._backend: Backend | None = None

    @property
    def backend(self) -> Backend:
        if self._backend is None:
            self._backend = make_backend(self.runtime.settings, self.store)
        return self._backend

    def bucket_rules(self) -> str:
        return properties.get_str(self.store, "objectstorage.bucket_naming_restrictions")
