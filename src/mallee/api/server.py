"""The ASGI application: every service on one port, plus /healthz."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import json
import logging
import socket
import threading
from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from functools import partial
from typing import Any

from sqlalchemy import text

from mallee.api.chain import Chain
from mallee.api.http import HttpRequest, HttpResponse
from mallee.api.models import load_service_model
from mallee.config import Settings
from mallee.console.app import MAX_BODY as CONSOLE_MAX_BODY
from mallee.console.app import Console
from mallee.console.web import is_console_request
from mallee.services.base import Runtime
from mallee.services.empyrean import registry
from mallee.store import Store

log = logging.getLogger(__name__)

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]


def _headers(raw: list[tuple[bytes, bytes]]) -> dict[str, str]:
    headers: dict[str, str] = {}
    for name, value in raw:
        key = name.decode("latin-1").lower()
        val = value.decode("latin-1")
        headers[key] = f"{headers[key]},{val}" if key in headers else val
    return headers


async def _read_body(receive: Receive, limit: int) -> bytes | None:
    """The whole body, or None once it grows past `limit` (the rest is not buffered)."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


class ClientGone(Exception):
    """The client went away before sending the whole body."""


# Bodies announced at most this long (small S3 objects, which the provider keeps in their
# metadata rows, and every XML document) are taken in by the event loop as soon as the request
# arrives: the client sends them (after "100 Continue") while a worker authenticates the
# request, and the worker then finds them there instead of asking the loop piece by piece.
PREFETCH_MAX = 64 * 1024 + 1024


class ReceiveStream:
    """The ASGI request body as a blocking reader, for a worker thread (never the loop's)."""

    def __init__(
        self, receive: Receive, loop: asyncio.AbstractEventLoop, *, empty: bool = False
    ) -> None:
        self._receive = receive
        self._loop = loop
        self._buffer = bytearray()
        # A request that announces no body (most GETs) is not waited on for one.
        self._done = empty
        # Set once `prefetch` has taken in the whole body (or the client went away).
        self._prefetched: threading.Event | None = None
        self._gone = False

    @property
    def finished(self) -> bool:
        """The whole body has come in (whether the handler read it or not)."""
        return self._done

    def prefetch(self) -> asyncio.Task[None]:
        """Start taking in the whole body on the loop (call on the loop, before any read)."""
        self._prefetched = threading.Event()
        return self._loop.create_task(self._take_all(self._prefetched))

    async def _take_all(self, taken: threading.Event) -> None:
        try:
            while not self._done:
                self._take(await self._receive())
        except ClientGone:
            self._gone = True
        finally:
            taken.set()

    def _take(self, message: Message) -> None:
        if message["type"] == "http.disconnect":
            raise ClientGone("client disconnected")
        self._buffer += message.get("body", b"")
        self._done = not message.get("more_body", False)

    def _pull(self, size: int) -> None:
        if self._prefetched is not None:
            self._prefetched.wait()
            if self._gone or not self._done:
                raise ClientGone("client disconnected")
            return
        asyncio.run_coroutine_threadsafe(self._fill(size), self._loop).result()

    async def _fill(self, size: int) -> None:
        # On the loop, while the reading thread waits: the server hands over a body in pieces
        # of at most 64 KiB, and one hand-over per piece held a large upload to ~2/3 of the speed.
        while not self._done and (size < 0 or len(self._buffer) < size):
            self._take(await self._receive())

    def read(self, size: int = -1) -> bytes:
        while not self._done and (size < 0 or len(self._buffer) < size):
            self._pull(size)
        if size < 0 or size >= len(self._buffer):
            out = bytes(self._buffer)
            self._buffer.clear()
            return out
        out = bytes(self._buffer[:size])
        del self._buffer[:size]
        return out


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
        self.console = Console(settings)
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
        if is_console_request(request):
            # The web console calls this server's own API over HTTP: it runs in its own
            # threads (Console.serve), never on this loop, which must stay free to answer it.
            body = await _read_body(receive, CONSOLE_MAX_BODY)
            request.body = body or b""
            return await self.console.serve(request, too_large=body is None)
        streamed = self.chain.streaming_route(request)
        if streamed is not None:
            # S3: the body is read (and objects written) as it arrives, in a worker thread,
            # so many uploads and downloads proceed at once and none is held in memory.
            routed, spec = streamed
            headers = routed.headers
            length = headers.get("content-length", "")
            empty = "transfer-encoding" not in headers and length in ("", "0")
            incoming = ReceiveStream(receive, asyncio.get_running_loop(), empty=empty)
            small = not empty and length.isdigit() and int(length) <= PREFETCH_MAX
            taking = incoming.prefetch() if small else None
            routed.stream = incoming
            if empty and self.chain.answers_at_once(routed, spec):
                # A quick local lookup (a small GET): a thread hand-over would cost more.
                return self.chain.handle(routed, spec=spec)
            response = await asyncio.to_thread(partial(self.chain.handle, routed, spec=spec))
            if taking is not None and not taking.done():
                taking.cancel()  # answered before the body came; the connection closes below
            if not incoming.finished:
                # Refused before its body was read (boto3 sends Expect: 100-continue): what is
                # left of the body must not be read as the connection's next request.
                response.headers["connection"] = "close"
            return response
        body = await _read_body(receive, self.settings.max_body)
        if body is not None:
            request.body = body
        # An oversized body is not buffered; the chain answers it in the service's protocol.
        return self.chain.handle(request, too_large=body is None)

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
        self.service_id = registry.register_self(
            self.store,
            type="user-api",
            name=name,
            host=self.settings.host,
            port=self.settings.port,
            partition=self.settings.region,
        )
        # This process serves S3 too: it is also an Object Storage Gateway (Eucalyptus' OSG).
        self.osg_id = registry.register_self(
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
                    await asyncio.to_thread(registry.heartbeat, self.store, service_id)
                except Exception:
                    log.exception("heartbeat failed")
