"""The Eucalyptus system account `eucalyptus` and the cloud admin's access key."""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from mallee.cloud_identity import SYSTEM_ACCOUNT
from mallee.identity.clock import now
from mallee.identity.passwords import hash_password
from mallee.services.iam.accounts import add_account
from mallee.services.iam.keys import add_key
from mallee.services.iam.lookups import admin_user
from mallee.store import Store
from mallee.store.tables.iam import IamAccessKey, IamAccount, IamLoginProfile, IamUser


def _account_with_key(s: Session, name: str) -> tuple[IamAccount, IamUser, IamAccessKey]:
    """The named account (made if missing), its `admin` user and that user's first active key
    (made if none): the same key on every call."""
    account = s.scalars(select(IamAccount).where(IamAccount.name == name)).first()
    if account is None:
        account = add_account(s, name)
    admin = admin_user(s, account.id)
    if admin is None:
        raise RuntimeError(f"the {name} account has no admin user")
    key = s.scalars(
        select(IamAccessKey)
        .where(IamAccessKey.user_id == admin.id, IamAccessKey.status == "Active")
        .order_by(IamAccessKey.created_at, IamAccessKey.id)
    ).first()
    if key is None:
        key = add_key(s, admin)
    return account, admin, key


def _ensure(store: Store) -> tuple[str, str]:
    with store.session() as s:
        _, _, key = _account_with_key(s, SYSTEM_ACCOUNT)
        return key.id, key.secret


def ensure_system_account(store: Store) -> tuple[str, str]:
    """Idempotent: the same key on every call (while it exists and is Active)."""
    try:
        return _ensure(store)
    except IntegrityError:
        # Another process created the account at the same moment: read what it made.
        return _ensure(store)


DEMO_ACCOUNT = "demo"


@dataclass(frozen=True)
class DemoAccount:
    account_id: str
    access_key: str
    secret_key: str
    # Set only when this call created the console login (it is stored hashed).
    new_password: str | None


def ensure_demo_account(store: Store) -> DemoAccount:
    """Faststart's `demo` account: its `admin` user with an access key and a console password."""
    try:
        return _ensure_demo(store)
    except IntegrityError:
        return _ensure_demo(store)


def _ensure_demo(store: Store) -> DemoAccount:
    with store.session() as s:
        account, admin, key = _account_with_key(s, DEMO_ACCOUNT)
        password = _ensure_login(s, admin)
        return DemoAccount(account.id, key.id, key.secret, password)


def _ensure_login(s: Session, user: IamUser) -> str | None:
    """Give `user` a console password unless it has one; the new password, or None."""
    if s.get(IamLoginProfile, user.id) is not None:
        return None
    # Letters, digits and a symbol: meets any password policy an admin sets later.
    password = secrets.token_urlsafe(12) + "-9a"
    s.add(IamLoginProfile(user_id=user.id, password_hash=hash_password(password), created_at=now()))
    return password


def ensure_system_console_login(store: Store) -> str | None:
    """A console password for the cloud admin (`admin` of `eucalyptus`), so the console's
    administration pages can be reached. The password when this call set it, else None."""
    try:
        return _ensure_system_login(store)
    except IntegrityError:
        return _ensure_system_login(store)


def _ensure_system_login(store: Store) -> str | None:
    with store.session() as s:
        _, admin, _ = _account_with_key(s, SYSTEM_ACCOUNT)
        return _ensure_login(s, admin)
