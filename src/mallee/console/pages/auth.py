"""Signing in (STS GetAccessToken with the console password) and out (RevokeAccessToken)."""

from __future__ import annotations

from collections.abc import Callable

from botocore.exceptions import BotoCoreError, ClientError
from starlette.responses import Response

from mallee.console.cloud import SignInError
from mallee.console.context import SESSION_ENDED, Ctx, Route, api_error, page
from mallee.console.session import Session


def sign_in_page(
    session: Session, reason: str = "", status: int = 200, account: str = "", user: str = ""
) -> Response:
    """The sign-in form, with why it is shown (a refused attempt, an ended session)."""
    return page(
        "login.html",
        session,
        "Sign in",
        "/login",
        status=status,
        reason=reason,
        account=account,
        user=user,
    )


def login_page(ctx: Ctx) -> Response:
    if ctx.session.signed_in:
        return ctx.back("/")
    return sign_in_page(ctx.session, account=ctx.arg("account"))


def login(ctx: Ctx) -> Response:
    account, user, password = ctx.arg("account"), ctx.arg("user"), ctx.form.get("password", "")
    if not (account and user and password):
        reason = "Give the account, user name and password."
        return sign_in_page(ctx.session, reason, 400, account, user)
    try:
        keys = ctx.cloud.sign_in(
            account, user, password, ctx.request.client.host if ctx.request.client else ""
        )
    except SignInError as failed:
        reason = f"{failed.code}: {failed.message}"
        return sign_in_page(ctx.session, reason, failed.status, account, user)
    # A new session (and CSRF token) on sign-in: a token planted before it is worth nothing.
    ctx.session = Session(
        account=account,
        user=user,
        access_key=keys.access_key,
        secret_key=keys.secret_key,
        session_token=keys.session_token,
        expires=keys.expires,
    )
    ctx.session.admin = _allowed(lambda: ctx.client("empyrean").describe_available_service_types())
    ctx.session.iam_admin = _allowed(lambda: ctx.client("iam").list_users(MaxItems=1))
    return ctx.back("/")


def _allowed(call: Callable[[], object]) -> bool:
    """Whether the cloud answers this call for the new session (the pages it may see): a
    refusal, or any failure, shows no more than an ordinary user's pages."""
    try:
        call()
    except (ClientError, BotoCoreError):
        return False
    return True


def logout(ctx: Ctx) -> Response:
    # The session's credentials end on the server: the cookie is only forgotten here, and a
    # copy of it taken before (or the credentials in it) must stop working too.
    note = ("ok", "Signed out.")
    if ctx.session.signed_in:
        try:
            ctx.client("sts").revoke_access_token()
        except ClientError as failed:
            if failed.response.get("Error", {}).get("Code") not in SESSION_ENDED:
                note = ("error", f"Signed out here, but the session goes on: {api_error(failed)}")
        except BotoCoreError as failed:
            note = ("error", f"Signed out here, but the session goes on: {failed}")
    ctx.session = Session(flash=[note])
    return ctx.back("/login")


ROUTES = [
    Route("GET", "/login", login_page, "/login"),
    Route("POST", "/login", login, "/login"),
    Route("POST", "/logout", logout, "/login"),
]
