"""What a page handler gets (Ctx) and how pages declare themselves (Route)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ClientError
from starlette.requests import Request
from starlette.responses import Response

from mallee.console.cloud import Cloud, Credentials
from mallee.console.session import Session
from mallee.console.templating import PREFIX, html, redirect


class BadRequest(Exception):
    """The browser sent something no console form sends."""


@dataclass
class Ctx:
    request: Request
    session: Session
    cloud: Cloud
    # The page this route belongs to (for the navigation and for coming back after a POST).
    active: str = ""
    # A POST's fields (a GET's are its query).
    form: dict[str, str] = field(default_factory=dict)

    @property
    def csrf(self) -> str:
        return self.session.csrf

    @property
    def partial(self) -> bool:
        """Asked by htmx for a piece of a page, not by a person for a whole one."""
        return self.request.headers.get("hx-request") == "true"

    def client(self, service: str) -> Any:
        s = self.session
        keys = Credentials(s.access_key, s.secret_key, s.session_token, s.expires)
        return self.cloud.client(service, keys)

    def arg(self, name: str, default: str = "") -> str:
        """A form field (POST) or query parameter (GET), stripped."""
        source = self.form if self.request.method == "POST" else self.request.query_params
        value = source.get(name)
        return (value if value is not None else default).strip()

    def query(self, name: str, default: str = "") -> str:
        """A query parameter as sent (a key or prefix may begin or end with blanks)."""
        return self.request.query_params.get(name, default)

    def ok(self, text: str) -> None:
        self.session.flash.append(("ok", text))

    def error(self, text: str, form: str = "") -> None:
        """An error for the next page; with `form` (a POST's path), shown next to that form
        when the page has it, else at the top."""
        self.session.flash.append(("error" + (" " + form if form else ""), text))

    def confirmed(self, question: str, button: str) -> Response | None:
        """None once the user has confirmed this POST; until then, the page asking them to:
        the same form again with `confirmed` set, and a way back (no script needed)."""
        if self.form.get("confirmed") == "yes":
            return None
        fields = {k: v for k, v in self.form.items() if k not in ("_csrf", "confirmed")}
        path = self.request.url.path.removeprefix(PREFIX)
        return self.page(
            "confirm.html",
            "Are you sure?",
            question=question,
            button=button,
            action=path,
            fields=fields,
            cancel=self.active or "/",
        )

    def page(self, template: str, title: str, *, status: int = 200, **values: Any) -> Response:
        return page(template, self.session, title, self.active, status=status, **values)

    def fragment(self, template: str, **values: Any) -> Response:
        """A piece of a page (for htmx): no layout, and the messages wait for a whole page."""
        return html(template, session=self.session, csrf=self.csrf, **values)

    def back(self, path: str | None = None) -> Response:
        """To `path`, else to the page the form came from (its `_back` field, a console
        path), else to the route's own page."""
        sent = self.form.get("_back", "")
        if not (sent.startswith("/") and not sent.startswith("//") and "\\" not in sent):
            sent = ""
        return redirect(path or sent or self.active or "/")


def page(
    template: str,
    session: Session,
    title: str,
    active: str = "",
    *,
    status: int = 200,
    **values: Any,
) -> Response:
    """A whole page in the layout, showing (and so using up) the pending messages."""
    flashes, session.flash = session.flash, []
    return html(
        template,
        status,
        title=title,
        session=session,
        csrf=session.csrf,
        active=active,
        notes=Notes(flashes),
        **values,
    )


class Notes:
    """A page's messages: an error about a form is claimed by that form (shown next to it) as
    the page is drawn; the layout shows the rest at the top."""

    def __init__(self, flashes: list[tuple[str, str]]) -> None:
        self._flashes = [(*kind.partition(" ")[::2], text) for kind, text in flashes]
        self._claimed: set[int] = set()

    def at(self, form: str) -> list[str]:
        found = []
        for n, (kind, where, text) in enumerate(self._flashes):
            if kind == "error" and where == form and n not in self._claimed:
                self._claimed.add(n)
                found.append(text)
        return found

    def rest(self) -> list[tuple[str, str]]:
        return [
            (kind, text)
            for n, (kind, _, text) in enumerate(self._flashes)
            if n not in self._claimed
        ]


Handler = Callable[[Ctx], Response]

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
