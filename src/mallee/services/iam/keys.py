"""Long-term access keys: at most two per user, Active or Inactive."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from mallee.identity.clock import aware, now
from mallee.identity.credentials import invalidate
from mallee.identity.keys import new_access_key_id, new_secret
from mallee.services.base import Operations
from mallee.services.iam.common import paginate
from mallee.services.iam.errors import limit_exceeded, no_such_entity, validation
from mallee.services.iam.lookups import target_user
from mallee.services.iam.scope import Scope
from mallee.services.iam.transactions import reads, writes
from mallee.store.tables.iam import IamAccessKey, IamUser

KEYS_PER_USER = 2


def add_key(s: Session, user: IamUser) -> IamAccessKey:
    count = s.scalar(select(func.count()).where(IamAccessKey.user_id == user.id)) or 0
    if count >= KEYS_PER_USER:
        raise limit_exceeded(f"Cannot exceed quota for AccessKeysPerUser: {KEYS_PER_USER}")
    key = IamAccessKey(
        id=new_access_key_id(),
        secret=new_secret(),
        account_id=user.account_id,
        user_id=user.id,
        status="Active",
        created_at=now(),
    )
    s.add(key)
    s.flush()
    return key


def create_access_key(s: Session, scope: Scope, params: dict[str, Any]) -> dict[str, Any]:
    user = target_user(s, scope, params)
    key = add_key(s, user)
    return {
        "AccessKey": {
            "UserName": user.name,
            "AccessKeyId": key.id,
            "Status": key.status,
            "SecretAccessKey": key.secret,
            "CreateDate": aware(key.created_at),
        }
    }


def list_access_keys(s: Session, scope: Scope, params: dict[str, Any]) -> dict[str, Any]:
    user = target_user(s, scope, params)
    stmt = select(IamAccessKey).where(IamAccessKey.user_id == user.id)
    rows, page = paginate(s, stmt, IamAccessKey.id, params)
    items = [
        {
            "UserName": user.name,
            "AccessKeyId": k.id,
            "Status": k.status,
            "CreateDate": aware(k.created_at),
        }
        for k in rows
    ]
    return {"AccessKeyMetadata": items, **page}


def _key_of(s: Session, user: IamUser, key_id: Any) -> IamAccessKey:
    key = s.get(IamAccessKey, str(key_id)) if key_id else None
    if key is None or key.user_id != user.id:
        raise no_such_entity(f"The Access Key with id {key_id} cannot be found")
    return key


def update_access_key(s: Session, scope: Scope, params: dict[str, Any]) -> dict[str, Any]:
    user = target_user(s, scope, params)
    key = _key_of(s, user, params.get("AccessKeyId"))
    status = params.get("Status")
    if status not in ("Active", "Inactive"):
        raise validation(
            f"1 validation error detected: Value '{status}' at 'status' failed to satisfy "
            "constraint: Member must satisfy enum value set: [Active, Inactive]"
        )
    key.status = status
    invalidate(key.id)
    return {}


def delete_access_key(s: Session, scope: Scope, params: dict[str, Any]) -> dict[str, Any]:
    user = target_user(s, scope, params)
    key = _key_of(s, user, params.get("AccessKeyId"))
    s.delete(key)
    invalidate(key.id)
    return {}


def get_access_key_last_used(s: Session, scope: Scope, params: dict[str, Any]) -> dict[str, Any]:
    key_id = params.get("AccessKeyId")
    key = s.get(IamAccessKey, str(key_id)) if key_id else None
    if key is None or key.account_id != scope.account_id:
        raise no_such_entity(f"The Access Key with id {key_id} cannot be found")
    user = s.get(IamUser, key.user_id)
    used: dict[str, Any] = {
        "ServiceName": key.last_used_service or "N/A",
        "Region": key.last_used_region or "N/A",
    }
    if key.last_used_at is not None:
        used["LastUsedDate"] = aware(key.last_used_at)
    return {"UserName": user.name if user else "", "AccessKeyLastUsed": used}


OPERATIONS: Operations = {
    "CreateAccessKey": writes(create_access_key),
    "ListAccessKeys": reads(list_access_keys),
    "UpdateAccessKey": writes(update_access_key),
    "DeleteAccessKey": writes(delete_access_key),
    "GetAccessKeyLastUsed": reads(get_access_key_last_used),
}
