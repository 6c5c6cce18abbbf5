"""The user an operation acts on when it may name none: the caller, or the account's admin."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from mallee.identity.accounts import ADMIN_USER
from mallee.services.iam.entities import USERS
from mallee.services.iam.errors import no_such_entity, validation
from mallee.services.iam.scope import Scope
from mallee.store.tables.iam import IamUser


def admin_user(s: Session, account_id: str) -> IamUser | None:
    return s.scalars(
        select(IamUser).where(IamUser.account_id == account_id, IamUser.name_key == ADMIN_USER)
    ).first()


def target_user(s: Session, scope: Scope, params: dict[str, Any]) -> IamUser:
    """UserName if given, else the caller: a user, or the account's admin for root."""
    name = params.get("UserName")
    if name:
        return USERS.get(s, scope.account_id, name)
    p = scope.principal
    if scope.delegated:
        found = admin_user(s, scope.account_id)
        if found is None:
            raise no_such_entity("The account has no admin user.")
        return found
    if p.kind == "user" and p.entity_id:
        return _user_by_id(s, p.entity_id)
    if p.kind == "root":
        found = admin_user(s, p.account_id) if p.entity_id is None else s.get(IamUser, p.entity_id)
        if found is not None:
            return found
    raise validation("Must specify userName when calling with non-User credentials")


def _user_by_id(s: Session, user_id: str) -> IamUser:
    found = s.get(IamUser, user_id)
    if found is None:
        raise no_such_entity("The user with the calling credentials cannot be found.")
    return found
