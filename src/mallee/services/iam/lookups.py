"""Finding accounts and entities, and which account an IAM call acts in."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from mallee.api.context import Principal
from mallee.api.errors import ServiceError, access_denied
from mallee.services.iam.common import ADMIN_USER, no_such_entity, validation
from mallee.store.tables.iam import (
    IamAccount,
    IamGroup,
    IamInstanceProfile,
    IamManagedPolicy,
    IamRole,
    IamUser,
)


@dataclass(frozen=True, slots=True)
class Scope:
    """The account an IAM call acts in (the caller's, or DelegateAccount's for the cloud admin)."""

    account_id: str
    principal: Principal
    delegated: bool = False


def find_account(s: Session, name_or_id: str) -> IamAccount | None:
    if name_or_id.isdigit() and len(name_or_id) == 12:
        found = s.get(IamAccount, name_or_id)
        if found is not None:
            return found
    return s.scalars(select(IamAccount).where(IamAccount.name == name_or_id)).first()


def account_or_404(s: Session, name_or_id: Any) -> IamAccount:
    if not isinstance(name_or_id, str) or not name_or_id:
        raise validation("AccountName is required.")
    found = find_account(s, name_or_id)
    if found is None:
        raise no_such_entity(f"Can not find account {name_or_id}")
    return found


def scope_for(s: Session, principal: Principal, params: dict[str, Any]) -> Scope:
    delegate = params.get("DelegateAccount")
    if not delegate:
        return Scope(principal.account_id, principal)
    if not principal.is_cloud_admin:
        raise access_denied("Only the cloud administrator may act as another account.")
    account = account_or_404(s, delegate)
    return Scope(account.id, principal, delegated=account.id != principal.account_id)


def user_or_404(s: Session, account_id: str, name: Any) -> IamUser:
    key = str(name).lower()
    found = s.scalars(
        select(IamUser).where(IamUser.account_id == account_id, IamUser.name_key == key)
    ).first()
    if found is None:
        raise no_such_entity(f"The user with name {name} cannot be found.")
    return found


def group_or_404(s: Session, account_id: str, name: Any) -> IamGroup:
    key = str(name).lower()
    found = s.scalars(
        select(IamGroup).where(IamGroup.account_id == account_id, IamGroup.name_key == key)
    ).first()
    if found is None:
        raise no_such_entity(f"The group with name {name} cannot be found.")
    return found


def role_or_404(s: Session, account_id: str, name: Any) -> IamRole:
    key = str(name).lower()
    found = s.scalars(
        select(IamRole).where(IamRole.account_id == account_id, IamRole.name_key == key)
    ).first()
    if found is None:
        raise no_such_entity(f"The role with name {name} cannot be found.")
    return found


def profile_or_404(s: Session, account_id: str, name: Any) -> IamInstanceProfile:
    key = str(name).lower()
    found = s.scalars(
        select(IamInstanceProfile).where(
            IamInstanceProfile.account_id == account_id, IamInstanceProfile.name_key == key
        )
    ).first()
    if found is None:
        raise no_such_entity(f"Instance Profile {name} cannot be found.")
    return found


def policy_or_404(s: Session, arn: Any) -> IamManagedPolicy:
    found = s.scalars(select(IamManagedPolicy).where(IamManagedPolicy.arn == str(arn))).first()
    if found is None:
        raise no_such_entity(f"Policy {arn} does not exist or is not attachable.")
    return found


def admin_user(s: Session, account_id: str) -> IamUser | None:
    return s.scalars(
        select(IamUser).where(IamUser.account_id == account_id, IamUser.name_key == ADMIN_USER)
    ).first()


def target_user(s: Session, scope: Scope, params: dict[str, Any]) -> IamUser:
    """UserName if given, else the caller: a user, or the account's admin for root."""
    name = params.get("UserName")
    if name:
        return user_or_404(s, scope.account_id, name)
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
    raise ServiceError(
        "ValidationError", "Must specify userName when calling with non-User credentials", 400
    )


def _user_by_id(s: Session, user_id: str) -> IamUser:
    found = s.get(IamUser, user_id)
    if found is None:
        raise no_such_entity("The user with the calling credentials cannot be found.")
    return found
