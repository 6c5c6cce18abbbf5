"""The console application on Starlette: sessions, CSRF, limits on bodies, the pages' routes,
and every refusal or failure shown as a page."""

from __future__ import annotations

import asyncio
import hmac
import logging
import threading
from collections.abc import Awaitable, Callable, MutableMapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from botocore.exceptions import BotoCoreError, ClientError, ParamValidationError
from starlette.applications import Starlette
from starlette.datastructures import MutableHeaders
from starlette.exceptions import HTTPException
from starlette.formparsers import MultiPartException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Mount
from starlette.routing import Route as Path
from starlette.staticfiles import StaticFiles

from mallee.api.bodies import Clock
from mallee.api.errors import ServiceError
from mallee.config import Settings
from mallee.console import uploads
from mallee.console.cloud import Cloud
from mallee.console.context import SESSION_ENDED, BadRequest, Ctx, Route, api_error, page
from mallee.console.pages import ROUTES
from mallee.console.pages.auth import sign_in_page
from mallee.console.pages.buckets import objects_path
from mallee.console.session import COOKIE, Sealer, Session
from mallee.console.templating import PREFIX, STATIC, redirect
from mallee.sealing_key import load_key

log = logging.getLogger(__name__)

T = TypeVar("T")
Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

# A form's body (every POST but an upload) and an upload's, at most.
MAX_FORM = 1024 * 1024
MAX_UPLOAD = 5 * 1024**3
UPLOAD = "/buckets/upload"
_PUBLIC = frozenset({"/login"})
# Every answer: not cached (pages show credentials-bound data), not framed, no script but the
# console's own files (htmx), no request but to the console itself.
SECURITY_HEADERS = {
    "cache-control": "no-store",
    "x-frame-options": "DENY",
    "x-content-type-options": "nosniff",
    "referrer-policy": "same-origin",
    "content-security-policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
        "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
}


class TooLarge(Exception):
    def __init__(self, limit: int) -> None:
        super().__init__(f"The request is larger than the console takes ({_size(limit)}).")


def _size(limit: int) -> str:
    return f"{limit >> 30} GiB" if limit >= 1 << 30 else f"{limit >> 20} MiB"


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
    """The console as an ASGI application, which the api server mounts on the console port."""

    def __init__(self, settings: Settings, *, max_upload: int = MAX_UPLOAD) -> None:
        self.settings = settings
        self.max_upload = max_upload
        self.cloud = Cloud(api_endpoint(settings), settings.region, settings.data_dir)
        self.routes = {(r.method, r.path): r for r in ROUTES}
        self._sealer: Sealer | None = None
        self._lock = threading.Lock()
        # Its own threads: a page calls this same server's API over HTTP, and S3 requests are
        # served in the default executor's threads; pages waiting there for answers that need
        # a thread of that same pool could starve it.
        self._pool = ThreadPoolExecutor(max_workers=8, thread_name_prefix="console")
        self.app = Starlette(
            routes=self._starlette_routes(),
            exception_handlers={HTTPException: self._http_error, Exception: self._crashed},
        )

    def _starlette_routes(self) -> list[BaseRoute]:
        methods: dict[str, set[str]] = {}
        for method, path in self.routes:
            methods.setdefault(path, set()).add(method)
        pages: list[BaseRoute] = [
            Path(path, self._endpoint(path), methods=sorted(found))
            for path, found in methods.items()
        ]
        pages.append(Path(UPLOAD, self._upload, methods=["POST"]))
        home = Path("/", lambda _: redirect("/"), methods=["GET", "HEAD"])
        return [
            home,
            Path(PREFIX, lambda _: redirect("/"), methods=["GET", "HEAD"]),
            Mount(PREFIX + "/static", StaticFiles(directory=STATIC), name="static"),
            Mount(PREFIX, routes=pages),
        ]

    def sealer(self) -> Sealer:
        # Made on first use, so an api process that never serves the console makes no key file.
        with self._lock:
            if self._sealer is None:
                self._sealer = Sealer(load_key(self.settings.data_dir))
            return self._sealer

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        static = path.startswith(PREFIX + "/static/")

        async def secured(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in SECURITY_HEADERS.items():
                    if name not in headers:
                        headers[name] = value
                if static:
                    headers["cache-control"] = "max-age=3600"
            await send(message)

        limit = self.max_upload if path == PREFIX + UPLOAD else MAX_FORM
        length = dict(scope["headers"]).get(b"content-length", b"")
        if length.isdigit() and int(length) > limit:
            # Refused before a byte of it is read: the connection closes after the answer.
            answer = self._refusal(Session(), TooLarge(limit), 413)
            answer.headers["connection"] = "close"
            await answer(scope, receive, secured)
            return
        await self.app(scope, _bounded(receive, limit, self._clock()), secured)

    def _clock(self) -> Clock:
        return Clock(self.settings.body_idle_timeout, self.settings.body_timeout)

    def _endpoint(self, path: str) -> Callable[[Request], Awaitable[Response]]:
        async def serve(request: Request) -> Response:
            return await self._serve(request, path)

        return serve

    async def _serve(self, request: Request, path: str) -> Response:
        route = self.routes[(request.method if request.method != "HEAD" else "GET", path)]
        raw = request.cookies.get(COOKIE)
        opened = self.sealer().open(raw)
        session = opened or Session()
        ctx = Ctx(request, session, self.cloud, route.active)
        if request.method == "POST":
            try:
                ctx.form = await _form(request)
            except Exception as failed:
                return self._closing(self._failed(ctx, route, failed))
        refused = self._gate(ctx, route, raw, opened)
        if refused is not None:
            return refused
        response = await self._in_pool(lambda: self._run(route, ctx))
        return self._sealed(response, ctx.session)

    async def _in_pool(self, work: Callable[[], T]) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._pool, work)

    def _gate(
        self, ctx: Ctx, route: Route, raw: str | None, opened: Session | None
    ) -> Response | None:
        """Why this request goes no further (an answer, sealed), or None: it may."""
        if raw and opened is None:
            # Altered, forged, sealed by another cloud's key, or older than any session lasts.
            reason = "Your session cookie is not valid (altered, forged or too old): sign in again."
            return self._sealed(sign_in_page(Session(), reason, 403), Session())
        if ctx.request.method == "POST" and not _csrf_ok(ctx.form.get("_csrf", ""), opened):
            reason = "This form has expired or did not come from the console: reload the page."
            return self._sealed(self._refusal(ctx.session, reason, 403), ctx.session)
        if opened is not None and opened.expired:
            fresh = Session()
            return self._sealed(
                sign_in_page(fresh, "Your session has expired: sign in again.", 403), fresh
            )
        if not ctx.session.signed_in and route.path not in _PUBLIC:
            return self._sealed(self._to_sign_in(ctx), ctx.session)
        if route.admin and not ctx.session.is_cloud_admin:
            reason = "Only the cloud administrator sees this page."
            return self._sealed(self._refusal(ctx.session, reason, 403, route.active), ctx.session)
        return None

    def _to_sign_in(self, ctx: Ctx) -> Response:
        if ctx.partial:
            # htmx would put the sign-in page inside the list it polls: it leaves the page.
            return Response(status_code=200, headers={"hx-redirect": PREFIX + "/login"})
        return redirect("/login")

    def _run(self, route: Route, ctx: Ctx) -> Response:
        try:
            return route.handler(ctx)
        except Exception as failed:
            return self._failed(ctx, route, failed)

    def _failed(self, ctx: Ctx, route: Route, failed: Exception) -> Response:
        """What the browser is shown for `failed`: the user's error or the cloud's, never a
        traceback."""
        if isinstance(failed, ClientError):
            code = failed.response.get("Error", {}).get("Code", "")
            if code in SESSION_ENDED and route.path != "/login":
                # Signed out, revoked, or a cookie copied before either and replayed: the API
                # no longer takes its credentials. Refused like a forged cookie, with why.
                ctx.session = Session()
                if ctx.partial:
                    return self._to_sign_in(ctx)
                reason = f"Your session has ended: sign in again ({api_error(failed)})."
                return sign_in_page(ctx.session, reason, 403)
            status = failed.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 502)
            return _shown(ctx, route, api_error(failed), status if 400 <= status < 500 else 502)
        if isinstance(failed, TooLarge):
            return self._refusal(ctx.session, failed, 413, route.active)
        if isinstance(failed, ServiceError):  # the body came too slowly
            return self._refusal(ctx.session, f"{failed.code}: {failed.message}", failed.status)
        if isinstance(failed, BadRequest | ParamValidationError | MultiPartException):
            # ParamValidationError: botocore refused what the user typed before sending it.
            return _shown(ctx, route, str(failed), 400)
        if isinstance(failed, BotoCoreError):
            log.warning("console: the cloud API did not answer: %s", failed)
            return _shown(ctx, route, f"The cloud API did not answer: {failed}", 502)
        log.exception("console: %s %s failed", ctx.request.method, route.path, exc_info=failed)
        reason = "The console failed to answer this request; see the server log."
        return self._refusal(ctx.session, reason, 500, route.active)

    async def _upload(self, request: Request) -> Response:
        """A file to a bucket, streamed (uploads.py): the form token is checked when the
        fields before the file are in, before a byte of it goes anywhere."""
        route = Route("POST", UPLOAD, lambda _: Response(), "/buckets")
        raw = request.cookies.get(COOKIE)
        opened = self.sealer().open(raw)
        ctx = Ctx(request, opened or Session(), self.cloud, route.active)
        target: dict[str, str] = {}

        async def open_file(fields: dict[str, str], name: str, kind: str) -> uploads.Sink:
            ctx.form = fields
            refused = self._gate(ctx, route, raw, opened)
            if refused is not None:
                raise _Refused(refused)
            target.update(
                bucket=ctx.arg("bucket"),
                key=fields.get("key", "") or fields.get("prefix", "") + name,
            )
            s3 = await self._in_pool(lambda: ctx.client("s3"))
            return uploads.ObjectWriter(s3, target["bucket"], target["key"], kind, self._in_pool)

        try:
            received = await uploads.receive(
                request.headers.get("content-type", ""), request.stream(), open_file
            )
            ctx.form = received.fields
            if not received.filename:
                refused = self._gate(ctx, route, raw, opened)
                if refused is not None:
                    return refused
                raise BadRequest("choose a file to upload")
        except _Refused as refused:
            return self._closing(refused.response)
        except Exception as failed:
            return self._closing(self._sealed(self._failed(ctx, route, failed), ctx.session))
        ctx.ok(f"Uploaded {target['key']} ({received.size} bytes)")
        back = ctx.back(objects_path(target["bucket"], received.fields.get("prefix", "")))
        return self._sealed(back, ctx.session)

    def _refusal(self, session: Session, reason: object, status: int, active: str = "") -> Response:
        title = {403: "Not allowed", 404: "Not found", 405: "Not allowed", 413: "Too large"}
        return page(
            "error.html",
            session,
            title.get(status, "Error"),
            active,
            status=status,
            reason=str(reason),
        )

    def _sealed(self, response: Response, session: Session) -> Response:
        # Re-sealed on every answer: it carries the messages for the next page too. HttpOnly:
        # no script reads it; SameSite=Strict: no other site's page sends it (the first line of
        # CSRF defence, the per-session form token the second). A page on the api port is the
        # same site (ports do not count) but another origin: it may send a request with the
        # cookie yet never read the answer, so it never learns a form token. Not Secure: mallee
        # serves plain HTTP unless a TLS proxy is put in front.
        response.set_cookie(
            COOKIE, self.sealer().seal(session), path=PREFIX + "/", httponly=True, samesite="strict"
        )
        return response

    @staticmethod
    def _closing(response: Response) -> Response:
        """The answer to a request whose body was not read whole: the connection ends with it."""
        response.headers["connection"] = "close"
        return response

    async def _http_error(self, request: Request, failed: Exception) -> Response:
        assert isinstance(failed, HTTPException)
        session = self.sealer().open(request.cookies.get(COOKIE)) or Session()
        reason = {404: "There is no such page in the console.", 405: "Method not allowed."}
        return self._refusal(
            session, reason.get(failed.status_code, failed.detail), failed.status_code
        )

    async def _crashed(self, request: Request, failed: Exception) -> Response:
        # Never a traceback to the browser: the log has it.
        log.error("console: %s %s failed", request.method, request.url.path, exc_info=failed)
        reason = "The console failed to answer this request; see the server log."
        return self._refusal(Session(), reason, 500)


class _Refused(Exception):
    def __init__(self, response: Response) -> None:
        super().__init__("refused")
        self.response = response


def _bounded(receive: Receive, limit: int, clock: Clock) -> Receive:
    """`receive` for the body: in time (the clock's RequestTimeout) and at most `limit` bytes
    (TooLarge); past the body's end (waiting for a disconnect) as it is."""
    taken = 0
    done = False

    async def bounded() -> Message:
        nonlocal taken, done
        if done:
            return await receive()
        message = await clock.next_piece(receive)
        taken += len(message.get("body", b""))
        done = message["type"] != "http.request" or not message.get("more_body", False)
        if taken > limit:
            raise TooLarge(limit)
        return message

    return bounded


async def _form(request: Request) -> dict[str, str]:
    """A POST's fields (urlencoded or multipart, no file: uploads go to their own route)."""
    form = await request.form(max_files=0, max_fields=64, max_part_size=MAX_FORM)
    return {name: value for name, value in form.items() if isinstance(value, str)}


def _shown(ctx: Ctx, route: Route, text: str, status: int) -> Response:
    """An API error: after a POST, back to the page with the message; a page that could not
    be built shows the message instead."""
    if route.method == "POST":
        ctx.error(text, route.path)
        return ctx.back()
    return ctx.page("error.html", "Error", status=status, reason=text)


def _csrf_ok(sent: str, session: Session | None) -> bool:
    # As bytes: compare_digest refuses str with non-ASCII characters (a forged token may hold any).
    return (
        session is not None
        and bool(sent)
        and hmac.compare_digest(sent.encode("utf-8", "replace"), session.csrf.encode())
    )
