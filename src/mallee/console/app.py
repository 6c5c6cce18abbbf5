"""The console application: sessions, CSRF, routing to pages, and errors shown as pages."""

from __future__ import annotations

import asyncio
import hmac
import logging
import threading
from concurrent.futures import ThreadPoolExecutor

from botocore.exceptions import BotoCoreError, ClientError, ParamValidationError

from mallee.api.errors import ServiceError
from mallee.api.http import HttpRequest, HttpResponse
from mallee.config import Settings
from mallee.console import layout
from mallee.console.cloud import Cloud
from mallee.console.context import SESSION_ENDED, Ctx, Route, api_error, error_box
from mallee.console.routes import ROUTES
from mallee.console.session import COOKIE, Sealer, Session
from mallee.console.web import (
    PREFIX,
    SECURITY_HEADERS,
    BadRequest,
    Request,
    html_response,
    parse_request,
    redirect,
    set_cookie,
)
from mallee.sealing_key import load_key

log = logging.getLogger(__name__)

# Uploads are read whole before they are sent on; larger files go through the S3 API.
MAX_BODY = 64 * 1024 * 1024
_PUBLIC = frozenset({"/login", "/style.css"})


def api_endpoint(settings: Settings) -> str:
    """This server's own API endpoint, as the console (a client of it) reaches it."""
    host = settings.host
    if host in ("", "0.0.0.0"):
        host = "127.0.0.1"
    elif host == "::":
        host = "[::1]"
    elif ":" in host and not host.startswith("["):
        host = f"[{host}]"
    return f"http://{host}:{settings.port}"


class Console:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.cloud = Cloud(api_endpoint(settings), settings.region, settings.data_dir)
        self.routes = {(r.method, r.path): r for r in ROUTES}
        self._sealer: Sealer | None = None
        self._lock = threading.Lock()
        # Its own threads: a page calls this same server's API over HTTP, and S3 requests are
        # served in the default executor's threads; pages waiting there for answers that need
        # a thread of that same pool could starve it.
        self._pool = ThreadPoolExecutor(max_workers=8, thread_name_prefix="console")

    async def serve(self, raw: HttpRequest, *, refused: ServiceError | None = None) -> HttpResponse:
        """The answer to a browser's request on the console's port; `refused` is what the
        server found wrong while receiving it (a body too large or too slow)."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool, self.handle, raw, refused)

    def sealer(self) -> Sealer:
        # Made on first use, so an api process that never serves the console makes no key file.
        with self._lock:
            if self._sealer is None:
                self._sealer = Sealer(load_key(self.settings.data_dir))
            return self._sealer

    def handle(self, raw: HttpRequest, refused: ServiceError | None = None) -> HttpResponse:
        try:
            if refused is not None:
                return _plain(refused.status, refused.message)
            if raw.path in ("/", PREFIX):
                return redirect("/")
            if not raw.path.startswith(PREFIX + "/"):
                return _plain(404, "Not found")
            return self._handle(parse_request(raw, COOKIE))
        except BadRequest as bad:
            return _plain(400, f"Bad request: {bad}")
        except Exception:
            # Never a traceback to the browser: the log has it.
            log.exception("console: %s %s failed", raw.method, raw.path)
            return _plain(500, "The console failed to answer this request; see the server log.")

    def _handle(self, request: Request) -> HttpResponse:
        if request.path == "/style.css":
            headers = {"content-type": "text/css; charset=utf-8", **SECURITY_HEADERS}
            headers["cache-control"] = "max-age=3600"
            return HttpResponse(200, headers, layout.STYLE.encode())
        sealer = self.sealer()
        session = sealer.open(request.cookie)
        return self._dispatch(request, session)

    def _dispatch(self, request: Request, session: Session | None) -> HttpResponse:
        route = self.routes.get((request.method, request.path))
        if route is None:
            known = any(path == request.path for _, path in self.routes)
            return _plain(405 if known else 404, "Method not allowed" if known else "Not found")
        if request.method == "POST" and not _csrf_ok(request, session):
            return _plain(403, "This form has expired or did not come from the console: reload.")
        if session is None:
            session = Session()
        if session.expired:
            session = Session(flash=[("error", "Your session has expired: sign in again.")])
            return self._sealed(redirect("/login"), session)
        if not session.signed_in and route.path not in _PUBLIC:
            return self._sealed(redirect("/login"), session)
        ctx = Ctx(request, session, self.cloud, route.active)
        if route.admin and not session.is_cloud_admin:
            response = ctx.page(
                "Not allowed",
                error_box("Only the cloud administrator (account eucalyptus) sees this page."),
                status=403,
            )
        else:
            response = self._run(route, ctx)
        return self._sealed(response, ctx.session)

    def _run(self, route: Route, ctx: Ctx) -> HttpResponse:
        try:
            return route.handler(ctx)
        except ClientError as failed:
            code = failed.response.get("Error", {}).get("Code", "")
            if code in SESSION_ENDED and route.path != "/login":
                ctx.session = Session(flash=[("error", f"Sign in again ({api_error(failed)}).")])
                return redirect("/login")
            status = failed.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 502)
            return _shown(ctx, route, api_error(failed), status if 400 <= status < 500 else 502)
        except BadRequest as bad:
            return _shown(ctx, route, str(bad), 400)
        except ParamValidationError as bad:
            # botocore refused what the user typed before sending it: their error, not the API's.
            return _shown(ctx, route, str(bad), 400)
        except BotoCoreError as failed:
            log.warning("console: the cloud API did not answer: %s", failed)
            return _shown(ctx, route, f"The cloud API did not answer: {failed}", 502)

    def _sealed(self, response: HttpResponse, session: Session) -> HttpResponse:
        # Re-sealed on every answer: it carries the messages for the next page too.
        response.headers["set-cookie"] = set_cookie(COOKIE, self.sealer().seal(session))
        return response


def _shown(ctx: Ctx, route: Route, text: str, status: int) -> HttpResponse:
    """An API error: after a POST, back to the page with the message; a page that could not
    be built shows the message instead."""
    if route.method == "POST":
        ctx.error(text)
        return ctx.back()
    return ctx.page("Error", error_box(text), status=status)


def _csrf_ok(request: Request, session: Session | None) -> bool:
    sent = request.form.get("_csrf", "")
    # As bytes: compare_digest refuses str with non-ASCII characters (a forged token may hold any).
    return (
        session is not None
        and bool(sent)
        and hmac.compare_digest(sent.encode("utf-8", "replace"), session.csrf.encode())
    )


def _plain(status: int, text: str) -> HttpResponse:
    body = layout.page(Session(), "mallee console", error_box(text))
    return html_response(body, status)
