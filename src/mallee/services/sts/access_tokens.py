"""Eucalyptus' GetAccessToken: temporary credentials for a password sign-in (the web console's).

The caller sends no signature but `Authorization: Basic base64("<u>@<a>:<p>")` where u, a and p
are the user name, the account (name or id) and the console password, each base64-encoded
first, so names and passwords may hold any character (the base64 alphabet has no `@` or `:`).
"""

from __future__ import annotations

import base64
import binascii
import math
import time
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from mallee.api.context import RequestContext
from mallee.identity.accounts import find_account
from mallee.identity.credentials import user_principal
from mallee.identity.passwords import verify_password
from mallee.services.base import Operations, Params, Result, Runtime
from mallee.services.sts import sign_in_throttle
from mallee.services.sts.errors import access_denied, password_reset_required
from mallee.services.sts.sessions import credentials_for, duration, session_template
from mallee.sign_in_source import source_address
from mallee.store import Store
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


def get_access_token(rt: Runtime, ctx: RequestContext, params: Params) -> Result:
    source = source_address(ctx.http, rt.settings.data_dir)
    return sign_in(rt.store, ctx.http.headers.get("authorization"), params, source)


def sign_in(store: Store, header: str | None, params: dict[str, Any], source: str) -> Result:
    """Credentials for the password in `header`, tried from address `source` (see
    sign_in_throttle). No transaction is open while the password is hashed."""
    user_name, account_name, password = parse_basic(header)
    with store.read() as s:
        account = find_account(s, account_name) if account_name else None
        attempt = sign_in_throttle.attempt(
            account.id if account is not None else account_name, user_name, source
        )
        user = _user(s, account, user_name)
        profile = s.get(IamLoginProfile, user.id) if user is not None else None
    with store.session() as s:
        admission = sign_in_throttle.begin(s, attempt, time.time())
    if admission.wait:
        raise access_denied(
            f"Too many failed sign-in attempts: try again in {math.ceil(admission.wait)} seconds."
        )
    if not verify_password(profile.password_hash if profile is not None else None, password):
        raise access_denied(_FAILED)
    assert account is not None and user is not None and profile is not None
    with store.session() as s:
        sign_in_throttle.succeeded(s, attempt, admission)
    if profile.reset_required:
        raise password_reset_required("The password must be changed before signing in.")
    principal = user_principal(account.id, account.name, user.id, user.name, user.path, "")
    high = 3600 if principal.kind == "root" else 43200
    seconds = duration(params.get("DurationSeconds"), 900, high, high)
    with store.session() as s:
        return credentials_for(s, session_template(principal, "GetAccessToken"), seconds)


def _user(s: Session, account: IamAccount | None, name: str) -> IamUser | None:
    if account is None or not name:
        return None
    return s.scalars(
        select(IamUser).where(IamUser.account_id == account.id, IamUser.name_key == name.lower())
    ).first()


OPERATIONS: Operations = {"GetAccessToken": get_access_token}
