"""The ASGI application: every service on one port, the web console on its own, /healthz."""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import gc
import json
import logging
import socket
from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import Any, TypeVar

from sqlalchemy import text

from mallee.api.bodies import PREFETCH_MAX, Clock, ReceiveStream, read_body
from mallee.api.errors import ServiceError, entity_too_large
from mallee.api.http import HttpRequest, HttpResponse
from mallee.api.models import load_service_model
from mallee.config import Settings
from mallee.gateway.catalog import ServiceSpec
from mallee.gateway.chain import Chain
from mallee.gateway.internal import wire
from mallee.registry import components
from mallee.services.base import Runtime
from mallee.store import Store

log = logging.getLogger(__name__)

_T = TypeVar("_T")

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


# Threads for S3 requests that carry no signature (anonymous, or browser POST uploads, which
# are authenticated by their body): they may wait on a client's body, so they never share the
# default executor's threads, which signed requests need.
UNSIGNED_WORKERS = 4


def _headers(raw: list[tuple[bytes, bytes]]) -> dict[str, str]:
    headers: dict[str, str] = {}
    for name, value in raw:
        key = name.decode("latin-1").lower()
        val = value.decode("latin-1")
        headers[key] = f"{headers[key]},{val}" if key in headers else val
    return headers


def _signed(request: HttpRequest) -> bool:
    """Whether the request says who sends it before its body: an Authorization header
    (a password, "Basic", signs nothing) or a presigned query. A false claim is refused by
    authentication before any body is read."""
    authorization = request.headers.get("authorization", "")
    if authorization and not authorization.startswith("Basic "):
        return True
    return "Signature=" in request.query


def _closing(response: HttpResponse) -> HttpResponse:
    """The answer to a request whose body was not read whole: the connection ends with it."""
    response.headers["connection"] = "close"
    return response


async def _in_thread(pool: ThreadPoolExecutor | None, work: Callable[[], _T]) -> _T:
    """`work` in a thread of `pool` (None: the default executor), in this task's context
    (as asyncio.to_thread)."""
    context = contextvars.copy_context()
    return await asyncio.get_running_loop().run_in_executor(pool, context.run, work)


async def _send_stream(stream: Iterable[bytes], send: Send) -> None:
    pieces = iter(stream)
    try:
        while True:
            piece = await asyncio.to_thread(next, pieces, None)
            if piece is None:
                break
            if piece:
                await send({"type": "http.response.body", "body": piece, "more_body": True})
        await send({"type": "http.response.body", "body": b""})
    finally:
        close = getattr(pieces, "close", None)
        if close is not None:
            await asyncio.to_thread(close)


class App:
    def __init__(self, settings: Settings, store: Store | None = None) -> None:
        self.settings = settings
        self.store = store or Store(settings.database_url)
        self.chain = Chain(Runtime(settings=settings, store=self.store))
        wire(self.chain)
        self.console: ASGIApp | None = None
        if settings.console_port:
            # Only a server with a console port loads the console (Starlette, Jinja2 and its
            # templates: about 8 MiB), not an API-only one.
            from mallee.console.app import Console

            self.console = Console(settings)
        self._unsigned = ThreadPoolExecutor(UNSIGNED_WORKERS, thread_name_prefix="unsigned")
        self.service_id: str | None = None
        self.osg_id: str | None = None
        self._heartbeat: asyncio.Task[None] | None = None
        self._models_frozen = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        server = scope.get("server") or ("", 0)
        if self.console is not None and server[1] == self.settings.console_port:
            # The web console, on its own port: a page there is never an S3 object (served on
            # the api port), so no object's script runs where the console's cookie is sent.
            await self.console(scope, receive, send)
            return
        response = await self._http(scope, receive)
        self._freeze_new_models()
        headers = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in response.headers.items()]
        # HEAD and streamed answers say their length themselves (an object's size).
        if response.stream is None and not any(
            k.lower() == "content-length" for k in response.headers
        ):
            headers.append((b"content-length", str(len(response.body)).encode()))
        await send({"type": "http.response.start", "status": response.status, "headers": headers})
        if response.stream is None:
            await send({"type": "http.response.body", "body": response.body})
            return
        await _send_stream(response.stream, send)

    async def _http(self, scope: Scope, receive: Receive) -> HttpResponse:
        raw_path: bytes = scope.get("raw_path") or scope["path"].encode()
        path = raw_path.decode("latin-1").split("?", 1)[0]
        if path == "/healthz":
            return self._health()
        client = scope.get("client") or ("", 0)
        request = HttpRequest(
            method=scope["method"],
            path=path,
            query=scope.get("query_string", b"").decode("latin-1"),
            headers=_headers(scope["headers"]),
            remote_addr=client[0],
        )
        streamed = self.chain.streaming_route(request)
        if streamed is not None:
            return await self._streamed(*streamed, receive)
        try:
            body = await read_body(receive, self.settings.max_body, self._body_clock())
        except ServiceError as stalled:
            return _closing(self.chain.handle(request, refused=stalled))
        if body is not None:
            request.body = body
        # An oversized body is not buffered; the chain answers it in the service's protocol.
        refused = None if body is not None else entity_too_large()
        # Routed once the body is in (a query request may name its API Version only there),
        # and only once: `handle` takes the route found here.
        routed = self.chain.routed(request) if refused is None else None
        if routed is None:
            return self.chain.handle(request, refused=refused)
        handle = partial(self.chain.handle, routed[0], spec=routed[1])
        if self.chain.off_loop(*routed):
            # A password check must not hold up every request this loop serves; a sign-in
            # (unsigned) takes a thread unsigned requests have, never one signed ones need.
            return await _in_thread(None if _signed(request) else self._unsigned, handle)
        return handle()

    async def _streamed(
        self, routed: HttpRequest, spec: ServiceSpec, receive: Receive
    ) -> HttpResponse:
        """S3: the body is read (and objects written) as it arrives, in a worker thread, so
        many uploads and downloads proceed at once and none is held in memory."""
        headers = routed.headers
        length = headers.get("content-length", "")
        empty = "transfer-encoding" not in headers and length in ("", "0")
        loop = asyncio.get_running_loop()
        incoming = ReceiveStream(receive, loop, self._body_clock(), empty=empty)
        small = not empty and length.isdigit() and int(length) <= PREFETCH_MAX
        taking = incoming.prefetch() if small else None
        routed.stream = incoming
        if empty and self.chain.answers_at_once(routed, spec):
            # A quick local lookup (a small GET): a thread hand-over would cost more.
            return self.chain.handle(routed, spec=spec)
        handle = partial(self.chain.handle, routed, spec=spec)
        if _signed(routed):
            # Authenticated from its headers or query before its body is read: a stalled
            # body holds this worker only as long as the body's timeouts allow.
            response = await _in_thread(None, handle)
        else:
            # Nobody is known yet: a small body comes in whole on this loop first (no thread
            # waits for it), and the work runs in threads of its own, so that unsigned
            # requests never hold the workers signed ones need.
            if taking is not None:
                await taking
            response = await _in_thread(self._unsigned, handle)
        if taking is not None and not taking.done():
            taking.cancel()  # answered before the body came; the connection closes below
        if not incoming.finished:
            # Refused before its body was read (boto3 sends Expect: 100-continue), or the body
            # stalled: what is left of it must not be read as the connection's next request.
            response.headers["connection"] = "close"
        return response

    def _body_clock(self) -> Clock:
        return Clock(self.settings.body_idle_timeout, self.settings.body_timeout)

    def _health(self) -> HttpResponse:
        try:
            with self.store.read() as session:
                session.execute(text("SELECT 1"))
            ok, status = True, 200
        except Exception:
            log.exception("health check: database unreachable")
            ok, status = False, 503
        body = json.dumps({"ok": ok, "service": self.settings.service_name}).encode()
        return HttpResponse(status, {"content-type": "application/json"}, body)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await asyncio.to_thread(self._register)
                self._heartbeat = asyncio.create_task(self._beat())
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                if self._heartbeat is not None:
                    self._heartbeat.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await self._heartbeat
                self.store.dispose()
                await send({"type": "lifespan.shutdown.complete"})
                return

    def _freeze_new_models(self) -> None:
        """After a request that loaded a service model: take what the process keeps for good
        (models, providers) out of the garbage collector's sight. Its full collections would
        otherwise walk these hundreds of thousands of objects over and over while a large
        answer (a DescribeInstances of thousands) is built, doubling its time."""
        loaded = load_service_model.cache_info().currsize
        if loaded != self._models_frozen:
            self._models_frozen = loaded
            gc.freeze()

    def _register(self) -> None:
        name = self.settings.service_name or f"API_{socket.gethostname()}_{self.settings.port}"
        self.service_id = components.register_self(
            self.store,
            type="user-api",
            name=name,
            host=self.settings.host,
            port=self.settings.port,
            partition=self.settings.region,
        )
        # This process serves S3 too: it is also an Object Storage Gateway (Eucalyptus' OSG).
        self.osg_id = components.register_self(
            self.store,
            type="objectstorage",
            name=name.replace("API_", "OSG_", 1) if name.startswith("API_") else f"OSG_{name}",
            host=self.settings.host,
            port=self.settings.port,
            partition=self.settings.region,
        )

    async def _beat(self) -> None:
        interval = max(1.0, self.settings.heartbeat_timeout / 3)
        while True:
            await asyncio.sleep(interval)
            for service_id in (self.service_id, self.osg_id):
                if service_id is None:
                    continue
                try:
                    await asyncio.to_thread(components.heartbeat, self.store, service_id)
                except Exception:
                    log.exception("heartbeat failed")
