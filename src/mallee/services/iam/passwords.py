"""Console passwords of users (login profiles): IAM's operations on them and AWS's default
password policy. Hashing and checking a password is mallee.identity.passwords'."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from mallee.identity.clock import aware, now
from mallee.identity.passwords import hash_password, verify_password
from mallee.services.base import Operations
from mallee.services.iam.entities import USERS
from mallee.services.iam.errors import (
    access_denied,
    already_exists,
    invalid_user_type,
    no_such_entity,
    password_policy_violation,
)
from mallee.services.iam.lookups import target_user
from mallee.services.iam.scope import Scope
from mallee.services.iam.transactions import reads, writes
from mallee.store.tables.iam import IamLoginProfile, IamUser


def check_password(password: Any, user_name: str) -> str:
    """AWS's default password policy: 8..128 characters, three of four character classes."""
    if not isinstance(password, str) or not 8 <= len(password) <= 128:
        raise password_policy_violation("Password should have a minimum length of 8")
    classes = (
        any(c.islower() for c in password),
        any(c.isupper() for c in password),
        any(c.isdigit() for c in password),
        any(not c.isalnum() for c in password),
    )
    if sum(classes) < 3:
        raise password_policy_violation(
            "Password should have at least three of: uppercase letters, lowercase letters, "
            "numbers, non-alphanumeric characters"
        )
    if password.lower() == user_name.lower():
        raise password_policy_violation("Password must not be the user name")
    return password


def _profile(s: Session, user: IamUser) -> IamLoginProfile:
    found = s.get(IamLoginProfile, user.id)
    if found is None:
        raise no_such_entity(f"Login Profile for User {user.name} cannot be found.")
    return found


def _out(user: IamUser, profile: IamLoginProfile) -> dict[str, Any]:
    return {
        "LoginProfile": {
            "UserName": user.name,
            "CreateDate": aware(profile.created_at),
            "PasswordResetRequired": profile.reset_required,
        }
    }


def create_login_profile(s: Session, scope: Scope, params: dict[str, Any]) -> dict[str, Any]:
    user = target_user(s, scope, params)
    if s.get(IamLoginProfile, user.id) is not None:
        raise already_exists(f"Login Profile for user {user.name} already exists.")
    password = check_password(params.get("Password"), user.name)
    profile = IamLoginProfile(
        user_id=user.id,
        password_hash=hash_password(password),
        reset_required=bool(params.get("PasswordResetRequired", False)),
        created_at=now(),
    )
    s.add(profile)
    return _out(user, profile)


def get_login_profile(s: Session, scope: Scope, params: dict[str, Any]) -> dict[str, Any]:
    user = target_user(s, scope, params)
    return _out(user, _profile(s, user))


def update_login_profile(s: Session, scope: Scope, params: dict[str, Any]) -> dict[str, Any]:
    user = USERS.named(s, scope, params)
    profile = _profile(s, user)
    if params.get("Password") is not None:
        profile.password_hash = hash_password(check_password(params["Password"], user.name))
    if params.get("PasswordResetRequired") is not None:
        profile.reset_required = bool(params["PasswordResetRequired"])
    return {}


def delete_login_profile(s: Session, scope: Scope, params: dict[str, Any]) -> dict[str, Any]:
    user = USERS.named(s, scope, params)
    s.delete(_profile(s, user))
    return {}


def change_password(s: Session, scope: Scope, params: dict[str, Any]) -> dict[str, Any]:
    p = scope.principal
    if p.kind != "user" or not p.entity_id:
        raise invalid_user_type("Only IAM users can change their password.")
    user = s.get(IamUser, p.entity_id)
    if user is None:
        raise no_such_entity("The user with the calling credentials cannot be found.")
    profile = _profile(s, user)
    if not verify_password(profile.password_hash, str(params.get("OldPassword", ""))):
        raise access_denied("The old password is incorrect.")
    profile.password_hash = hash_password(check_password(params.get("NewPassword"), user.name))
    profile.reset_required = False
    return {}


OPERATIONS: Operations = {
    "CreateLoginProfile": writes(create_login_profile),
    "GetLoginProfile": reads(get_login_profile),
    "UpdateLoginProfile": writes(update_login_profile),
    "DeleteLoginProfile": writes(delete_login_profile),
    "ChangePassword": writes(change_password),
}
