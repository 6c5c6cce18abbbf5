"""Access key -> secret and principal, for the authenticator (runs on every request), and
the last use of a long-term key.

One indexed query (the key joined to its user and account) through SQLAlchemy Core, and a
per-process cache that keeps an answer for at most CACHE_SECONDS: a key deleted or deactivated
in another process stops working within that time; in this process at once (invalidate()).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from mallee.api.context import Principal, PrincipalKind
from mallee.api.credentials import Credential
from mallee.cloud_identity import SYSTEM_ACCOUNT
from mallee.identity.accounts import ADMIN_USER
from mallee.identity.arns import iam_arn, root_arn
from mallee.store import Store
from mallee.store.tables.iam import IamAccessKey, IamAccount, IamUser, StsSession

CACHE_SECONDS = 1.0
_CACHE_MAX = 4096

_KINDS: dict[str, PrincipalKind] = {"root": "root", "user": "user", "assumed-role": "assumed-role"}

_cache: dict[tuple[str, str], tuple[float, Credential]] = {}
_lock = threading.Lock()

_KEY_QUERY = (
    select(
        IamAccessKey.secret,
        IamAccessKey.status,
        IamAccessKey.account_id,
        IamUser.id,
        IamUser.name,
        IamUser.path,
        IamAccount.name,
    )
    .join(IamUser, IamUser.id == IamAccessKey.user_id)
    .join(IamAccount, IamAccount.id == IamAccessKey.account_id)
)

_SESSION_QUERY = select(
    StsSession.secret,
    StsSession.session_token,
    StsSession.expires_at,
    StsSession.account_id,
    StsSession.kind,
    StsSession.entity_id,
    StsSession.arn,
    StsSession.user_id,
    StsSession.name,
    StsSession.session_policy,
    StsSession.issued_by,
    IamAccount.name,
).join(IamAccount, IamAccount.id == StsSession.account_id)


def invalidate(access_key_id: str | None = None) -> None:
    """Forget cached answers (all of them when no key is given)."""
    with _lock:
        if access_key_id is None:
            _cache.clear()
            return
        for key in [k for k in _cache if k[1] == access_key_id]:
            del _cache[key]


def lookup_credential(store: Store, access_key_id: str) -> Credential | None:
    cache_key = (store.url, access_key_id)
    hit = _cache.get(cache_key)
    moment = time.monotonic()
    if hit is not None and hit[0] > moment:
        return hit[1]
    found = _load(store, access_key_id)
    with _lock:
        if found is None:
            _cache.pop(cache_key, None)
        else:
            if len(_cache) >= _CACHE_MAX:
                _cache.clear()
            _cache[cache_key] = (moment + CACHE_SECONDS, found)
    return found


def _load(store: Store, access_key_id: str) -> Credential | None:
    if not access_key_id or len(access_key_id) > 32:
        return None
    with store.read_engine.connect() as conn:
        if access_key_id.startswith("ASIA"):
            row = conn.execute(_SESSION_QUERY.where(StsSession.id == access_key_id)).first()
            return None if row is None else _session_credential(access_key_id, tuple(row))
        key = conn.execute(_KEY_QUERY.where(IamAccessKey.id == access_key_id)).first()
    if key is None or key[1] != "Active":
        return None
    secret, _status, account_id, user_id, name, path, account_name = key
    principal = user_principal(account_id, account_name, user_id, name, path, access_key_id)
    return Credential(access_key_id, secret, principal)


def user_principal(
    account_id: str, account_name: str, user_id: str, name: str, path: str, access_key_id: str
) -> Principal:
    """Who a user is when they call: the account's root for its administrator (Eucalyptus
    convention), else the IAM user."""
    root = name.lower() == ADMIN_USER
    return Principal(
        account_id=account_id,
        arn=root_arn(account_id) if root else iam_arn(account_id, "user", path, name),
        user_id=account_id if root else user_id,
        kind="root" if root else "user",
        name=name,
        access_key_id=access_key_id,
        entity_id=user_id,
        is_cloud_admin=account_name == SYSTEM_ACCOUNT,
    )


def _session_credential(access_key_id: str, row: Sequence[Any]) -> Credential:
    (
        secret,
        token,
        expires_at,
        account_id,
        kind,
        entity_id,
        arn,
        user_id,
        name,
        policy,
        issued_by,
        acct,
    ) = row
    principal = Principal(
        account_id=account_id,
        arn=arn,
        user_id=user_id,
        kind=_KINDS.get(kind, "user"),
        name=name,
        access_key_id=access_key_id,
        entity_id=entity_id,
        session_token=token,
        session_policy=policy,
        issued_by=issued_by,
        is_cloud_admin=acct == SYSTEM_ACCOUNT,
    )
    return Credential(access_key_id, secret, principal, session_token=token, expires_at=expires_at)


def record_use(s: Session, key_id: str, service: str, region: str, when: datetime) -> None:
    """Note when and where a long-term key signed a request (GetAccessKeyLastUsed)."""
    key = s.get(IamAccessKey, key_id)
    if key is not None:
        key.last_used_at = when
        key.last_used_service = service
        key.last_used_region = region
