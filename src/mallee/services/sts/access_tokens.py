"""Eucalyptus' GetAccessToken: temporary credentials for a password sign-in (the web console's).

The caller sends no signature but `Authorization: Basic base64("<u>@<a>:<p>")` where u, a and p
are the user name, the account (name or id) and the console password, each base64-encoded
first, so names and passwords may hold any character (the base64 alphabet has no `@` or `:`).
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from mallee.api.errors import ServiceError, access_denied
from mallee.services.iam.credentials import user_principal
from mallee.services.iam.lookups import find_account
from mallee.services.iam.passwords import verify_password
from mallee.services.sts.sessions import credentials_for, duration, session_template
from mallee.store.tables.iam import IamAccount, IamLoginProfile, IamUser

# One answer for every failed sign-in, so it does not tell which accounts or users exist.
_FAILED = "Invalid account name, user name or password."


def parse_basic(header: str | None) -> tuple[str, str, str]:
    """(user, account, password) from the Basic header, or AccessDenied."""
    if header is None or not header.startswith("Basic "):
        raise access_denied("GetAccessToken needs an Authorization: Basic header.")
    try:
        text = base64.b64decode(header[6:].strip(), validate=True).decode()
        names, colon, password = text.partition(":")
        user, at, account = names.partition("@")
        if not (colon and at):
            raise ValueError("not user@account:password")
        return _unwrap(user), _unwrap(account), _unwrap(password)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise access_denied(
            "The Basic credentials are not base64(b64(user)@b64(account):b64(password))."
        ) from None


def _unwrap(part: str) -> str:
    return base64.b64decode(part, validate=True).decode()


def get_access_token(s: Session, header: str | None, params: dict[str, Any]) -> dict[str, Any]:
    user_name, account_name, password = parse_basic(header)
    account = find_account(s, account_name) if account_name else None
    user = _user(s, account, user_name)
    profile = s.get(IamLoginProfile, user.id) if user is not None else None
    if account is None or user is None or profile is None:
        raise access_denied(_FAILED)
    if not verify_password(profile.password_hash, password):
        raise access_denied(_FAILED)
    if profile.reset_required:
        raise ServiceError(
            "PasswordResetRequired", "The password must be changed before signing in.", 403
        )
    principal = user_principal(account.id, account.name, user.id, user.name, user.path, "")
    high = 3600 if principal.kind == "root" else 43200
    seconds = duration(params.get("DurationSeconds"), 900, high, high)
    return credentials_for(s, session_template(principal), seconds)


def _user(s: Session, account: IamAccount | None, name: str) -> IamUser | None:
    if account is None or not name:
        return None
    return s.scalars(
        select(IamUser).where(IamUser.account_id == account.id, IamUser.name_key == name.lower())
    ).first()
