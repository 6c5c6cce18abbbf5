"""Signing in (STS GetAccessToken with the console password) and out (RevokeAccessToken)."""

from __future__ import annotations

from botocore.exceptions import BotoCoreError, ClientError

from mallee.api.http import HttpResponse
from mallee.console.cloud import SignInError
from mallee.console.context import SESSION_ENDED, Ctx, Route, api_error, error_box
from mallee.console.html import Html, field, form
from mallee.console.session import Session
from mallee.console.web import PREFIX


def _form(ctx: Ctx, account: str = "", user: str = "") -> Html:
    return form(
        PREFIX + "/login",
        ctx.csrf,
        [
            field("Account", "account", value=account, required=True),
            field("User name", "user", value=user or "admin", required=True),
            field("Password", "password", kind="password", required=True),
        ],
        "Sign in",
        css="login",
    )


def login_page(ctx: Ctx) -> HttpResponse:
    if ctx.session.signed_in:
        return ctx.back("/")
    return ctx.page("Sign in", _form(ctx, ctx.arg("account")))


def login(ctx: Ctx) -> HttpResponse:
    account, user, password = (
        ctx.arg("account"),
        ctx.arg("user"),
        ctx.request.form.get("password", ""),
    )
    if not (account and user and password):
        return ctx.page(
            "Sign in",
            error_box("Give the account, user name and password."),
            _form(ctx, account, user),
            status=400,
        )
    try:
        keys = ctx.cloud.sign_in(account, user, password, ctx.request.remote_addr)
    except SignInError as failed:
        return ctx.page(
            "Sign in",
            error_box(f"{failed.code}: {failed.message}"),
            _form(ctx, account, user),
            status=failed.status,
        )
    # A new session (and CSRF token) on sign-in: a token planted before it is worth nothing.
    ctx.session = Session(
        account=account,
        user=user,
        access_key=keys.access_key,
        secret_key=keys.secret_key,
        session_token=keys.session_token,
        expires=keys.expires,
    )
    return ctx.back("/")


def logout(ctx: Ctx) -> HttpResponse:
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
