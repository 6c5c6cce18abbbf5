"""What a page handler gets (Ctx) and how pages declare themselves (Route)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from mallee.api.http import HttpResponse
from mallee.console import layout
from mallee.console.cloud import Cloud, Credentials
from mallee.console.html import Html, join, render
from mallee.console.session import Session
from mallee.console.web import Request, html_response, redirect


@dataclass
class Ctx:
    request: Request
    session: Session
    cloud: Cloud
    # The page this route belongs to (for the navigation and for coming back after a POST).
    active: str = ""

    @property
    def csrf(self) -> str:
        return self.session.csrf

    def client(self, service: str) -> Any:
        s = self.session
        keys = Credentials(s.access_key, s.secret_key, s.session_token, s.expires)
        return self.cloud.client(service, keys)

    def arg(self, name: str, default: str = "") -> str:
        return self.request.arg(name, default)

    def ok(self, text: str) -> None:
        self.session.flash.append(("ok", text))

    def error(self, text: str) -> None:
        self.session.flash.append(("error", text))

    def page(self, title: str, *body: object, status: int = 200) -> HttpResponse:
        return html_response(layout.page(self.session, title, join(body), self.active), status)

    def back(self, path: str | None = None) -> HttpResponse:
        return redirect(path or self.active or "/")


Handler = Callable[[Ctx], HttpResponse]

# Errors that mean the session's credentials are no longer good.
SESSION_ENDED = frozenset(
    {"ExpiredToken", "InvalidClientTokenId", "InvalidAccessKeyId", "AuthFailure"}
)


@dataclass(frozen=True)
class Route:
    method: str
    path: str
    handler: Handler
    # The navigation entry it belongs to, and where a failed POST returns to.
    active: str
    admin: bool = False


def api_error(error: ClientError) -> str:
    """A botocore ClientError as the page shows it: "Code: message"."""
    info = error.response.get("Error", {})
    code = info.get("Code") or "Error"
    message = info.get("Message") or ""
    return f"{code}: {message}" if message else str(code)


def error_box(text: str) -> Html:
    return render('<div class="flash error">{text}</div>', text=text)
