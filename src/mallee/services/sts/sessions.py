"""Temporary credentials: GetSessionToken and AssumeRole, stored so every API accepts them,
and the end of a session (RevokeAccessToken). What GetSessionToken's may call is
mallee.identity.session_scope's."""

from __future__ import annotations

import base64
import re
import secrets
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from mallee.api.context import Principal, RequestContext
from mallee.identity.arns import parse_arn
from mallee.identity.clock import now
from mallee.identity.credentials import invalidate
from mallee.identity.keys import new_access_key_id, new_secret
from mallee.policy import PolicyError, PolicyKind, parse_policy
from mallee.services.base import Operations, Params, Result, Runtime
from mallee.services.sts.errors import (
    access_denied,
    malformed,
    packed_policy_too_large,
    validation,
)
from mallee.store.tables.iam import IamRole, StsSession

_SESSION_NAME = re.compile(r"^[\w+=,.@-]{2,64}$")
# Expired sessions are kept a day (so a late request gets ExpiredToken, not an unknown key).
_KEEP_EXPIRED = 86400
SESSION_POLICY_MAX = 2048


def duration(value: Any, low: int, high: int, default: int) -> int:
    if value is None:
        return default
    if not isinstance(value, int) or value < low:
        raise validation(
            f"1 validation error detected: Value '{value}' at 'durationSeconds' failed to "
            f"satisfy constraint: Member must have value greater than or equal to {low}"
        )
    if value > high:
        raise validation(
            f"The requested DurationSeconds exceeds the {high} seconds allowed for this call."
        )
    return value


def _token() -> str:
    return base64.b64encode(secrets.token_bytes(96)).decode()


def issue_session(
    s: Session, template: dict[str, Any], seconds: int
) -> tuple[StsSession, datetime]:
    moment = now()
    expires = moment + timedelta(seconds=seconds)
    s.execute(delete(StsSession).where(StsSession.expires_at < time.time() - _KEEP_EXPIRED))
    row = StsSession(
        id=new_access_key_id(temporary=True),
        secret=new_secret(),
        session_token=_token(),
        created_at=moment,
        expires_at=expires.timestamp(),
        **template,
    )
    s.add(row)
    s.flush()
    return row, expires


def _credentials(row: StsSession, expires: datetime) -> dict[str, Any]:
    return {
        "AccessKeyId": row.id,
        "SecretAccessKey": row.secret,
        "SessionToken": row.session_token,
        "Expiration": expires.astimezone(UTC),
    }


def session_template(p: Principal, issued_by: str) -> dict[str, Any]:
    """A session that acts as `p` itself (GetSessionToken, GetAccessToken)."""
    return {
        "issued_by": issued_by,
        "account_id": p.account_id,
        "kind": p.kind,
        "entity_id": p.entity_id,
        "arn": p.arn,
        "user_id": p.user_id,
        "name": p.name,
        "session_policy": None,
        "source_access_key": p.access_key_id or None,
    }


def credentials_for(s: Session, template: dict[str, Any], seconds: int) -> dict[str, Any]:
    row, expires = issue_session(s, template, seconds)
    return {"Credentials": _credentials(row, expires)}


def get_session_token(rt: Runtime, ctx: RequestContext, params: Params) -> Result:
    p = ctx.principal
    if p.session_token:
        raise access_denied("Cannot call GetSessionToken with session credentials")
    high = 3600 if p.kind == "root" else 129600
    seconds = duration(params.get("DurationSeconds"), 900, high, min(43200, high))
    with rt.store.session() as s:
        return credentials_for(s, session_template(p, "GetSessionToken"), seconds)


def find_role(s: Session, arn: str) -> IamRole | None:
    parts = parse_arn(arn)
    if parts is None or parts[1] != "iam" or not parts[4].startswith("role/"):
        return None
    path_name = parts[4][len("role") :]
    path, _, name = path_name.rpartition("/")
    role = s.scalars(
        select(IamRole).where(IamRole.account_id == parts[3], IamRole.name_key == name.lower())
    ).first()
    if role is None or role.path != path + "/" or role.name != name:
        return None
    return role


def _session_policy(value: Any) -> tuple[str | None, int | None]:
    if value is None:
        return None, None
    if not isinstance(value, str):
        raise malformed("Syntax errors in policy.")
    try:
        parse_policy(value, PolicyKind.IDENTITY)
    except PolicyError as err:
        raise malformed(err.message) from err
    packed = len("".join(value.split()))
    if packed > SESSION_POLICY_MAX:
        raise packed_policy_too_large(
            f"Packed policy consumes {packed * 100 // SESSION_POLICY_MAX}% of allotted space, "
            "please use smaller policy."
        )
    return value, packed * 100 // SESSION_POLICY_MAX


def assume_role(rt: Runtime, ctx: RequestContext, params: Params) -> Result:
    with rt.store.session() as s:
        return _assume_role(s, ctx.principal, params)


def _assume_role(s: Session, p: Principal, params: dict[str, Any]) -> dict[str, Any]:
    arn = str(params.get("RoleArn") or "")
    session_name = params.get("RoleSessionName")
    if not isinstance(session_name, str) or not _SESSION_NAME.match(session_name):
        raise validation(
            f"1 validation error detected: Value '{session_name}' at 'roleSessionName' failed "
            "to satisfy constraint: Member must satisfy regular expression pattern: [\\w+=,.@-]*"
        )
    if len(arn) < 20 or parse_arn(arn) is None:
        raise validation(f"{arn} is invalid")
    role = find_role(s, arn)
    if role is None:
        raise access_denied(
            f"User: {p.arn} is not authorized to perform: sts:AssumeRole on resource: {arn}"
        )
    # Role chaining is limited to one hour, as AWS.
    high = 3600 if p.kind == "assumed-role" else role.max_session_duration
    seconds = duration(params.get("DurationSeconds"), 900, high, 3600)
    policy, packed = _session_policy(params.get("Policy"))
    assumed_id = f"{role.id}:{session_name}"
    session_arn = f"arn:aws:sts::{role.account_id}:assumed-role/{role.name}/{session_name}"
    template = {
        "issued_by": "AssumeRole",
        "account_id": role.account_id,
        "kind": "assumed-role",
        "entity_id": role.id,
        "arn": session_arn,
        "user_id": assumed_id,
        "name": session_name,
        "session_policy": policy,
        "source_access_key": p.access_key_id,
    }
    row, expires = issue_session(s, template, seconds)
    role.last_used_at = now()
    out: dict[str, Any] = {
        "Credentials": _credentials(row, expires),
        "AssumedRoleUser": {"AssumedRoleId": assumed_id, "Arn": session_arn},
    }
    if packed is not None:
        out["PackedPolicySize"] = packed
    return out


def revoke_access_token(rt: Runtime, ctx: RequestContext, params: Params) -> Result:
    """End the temporary credentials the request is signed with: they are unknown from now
    on; other processes forget them within their cache's second (credentials.CACHE_SECONDS)."""
    p = ctx.principal
    if not p.session_token:
        raise validation(
            "RevokeAccessToken ends the temporary credentials the request is signed with; "
            "this request is signed with a long-term access key."
        )
    with rt.store.session() as s:
        s.execute(delete(StsSession).where(StsSession.id == p.access_key_id))
    invalidate(p.access_key_id)
    return {}


OPERATIONS: Operations = {
    "GetSessionToken": get_session_token,
    "AssumeRole": assume_role,
    "RevokeAccessToken": revoke_access_token,
}
