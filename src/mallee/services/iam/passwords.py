"""Console passwords (login profiles), stored only as scrypt hashes."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from typing import Any

from sqlalchemy.orm import Session

from mallee.api.errors import ServiceError, access_denied
from mallee.api.http import HttpRequest
from mallee.services.iam.common import already_exists, aware, no_such_entity, now
from mallee.services.iam.lookups import Scope, target_user, user_or_404
from mallee.store.tables.iam import IamLoginProfile, IamUser

# scrypt cost: 16 MiB and ~50 ms per hash; stored with the hash so it can be raised later.
_N, _R, _P = 2**14, 8, 1
# The IAM operations that hash a password.
_HASHING = frozenset({"CreateLoginProfile", "UpdateLoginProfile", "ChangePassword"})


def _stored(salt: bytes, digest: bytes) -> str:
    enc = base64.b64encode
    return f"scrypt${_N}${_R}${_P}${enc(salt).decode()}${enc(digest).decode()}"


# What a sign-in for no password (no such account or user, no login profile) is checked
# against: the same scrypt work as a real check, so the time taken does not tell whether the
# user exists; its digest is random, so no password matches it.
_DECOY = _stored(secrets.token_bytes(16), secrets.token_bytes(32))


def hashes(request: HttpRequest) -> bool:
    """Whether an IAM request hashes a password, so must not run on the server's event loop."""
    try:
        return request.form_params().get("Action") in _HASHING
    except UnicodeDecodeError:  # not a form any operation reads; the chain says so
        return False


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(16)
    return _stored(salt, hashlib.scrypt(password.encode(), salt=salt, n=_N, r=_R, p=_P, dklen=32))


def verify_password(stored: str | None, password: str) -> bool:
    """Whether `password` is the one `stored` was made from; None (there is no password to
    check) costs the same time and is False."""
    if stored is None:
        _verify(_DECOY, password)
        return False
    return _verify(stored, password)


def _verify(stored: str, password: str) -> bool:
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        if scheme != "scrypt":
            return False
        want = base64.b64decode(digest)
        got = hashlib.scrypt(
            password.encode(),
            salt=base64.b64decode(salt),
            n=int(n),
            r=int(r),
            p=int(p),
            dklen=len(want),
        )
    except ValueError:
        return False
    return hmac.compare_digest(got, want)


def check_password(password: Any, user_name: str) -> str:
    """AWS's default password policy: 8..128 characters, three of four character classes."""
    if not isinstance(password, str) or not 8 <= len(password) <= 128:
        raise _violation("Password should have a minimum length of 8")
    classes = (
        any(c.islower() for c in password),
        any(c.isupper() for c in password),
        any(c.isdigit() for c in password),
        any(not c.isalnum() for c in password),
    )
    if sum(classes) < 3:
        raise _violation(
            "Password should have at least three of: uppercase letters, lowercase letters, "
            "numbers, non-alphanumeric characters"
        )
    if password.lower() == user_name.lower():
        raise _violation("Password must not be the user name")
    return password


def _violation(message: str) -> ServiceError:
    return ServiceError("PasswordPolicyViolation", message, 400)


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
    user = user_or_404(s, scope.account_id, params.get("UserName"))
    profile = _profile(s, user)
    if params.get("Password") is not None:
        profile.password_hash = hash_password(check_password(params["Password"], user.name))
    if params.get("PasswordResetRequired") is not None:
        profile.reset_required = bool(params["PasswordResetRequired"])
    return {}


def delete_login_profile(s: Session, scope: Scope, params: dict[str, Any]) -> dict[str, Any]:
    user = user_or_404(s, scope.account_id, params.get("UserName"))
    s.delete(_profile(s, user))
    return {}


def change_password(s: Session, scope: Scope, params: dict[str, Any]) -> dict[str, Any]:
    p = scope.principal
    if p.kind != "user" or not p.entity_id:
        raise ServiceError("InvalidUserType", "Only IAM users can change their password.", 400)
    user = s.get(IamUser, p.entity_id)
    if user is None:
        raise no_such_entity("The user with the calling credentials cannot be found.")
    profile = _profile(s, user)
    if not verify_password(profile.password_hash, str(params.get("OldPassword", ""))):
        raise access_denied("The old password is incorrect.")
    profile.password_hash = hash_password(check_password(params.get("NewPassword"), user.name))
    profile.reset_required = False
    return {}
