"""The ASGI application: every service on one port, plus /healthz."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import socket
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from sqlalchemy import text

from mallee.api.chain import Chain
from mallee.api.http import HttpRequest, HttpResponse
from mallee.config import Settings
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


class App:
    def __init__(self, settings: Settings, store: Store | None = None) -> None:
        self.settings = settings
        self.store = store or Store(settings.database_url)
        self.chain = Chain(Runtime(settings=settings, store=self.store))
        self.service_id: str | None = None
        self._heartbeat: asyncio.Task[None] | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        response = await self._http(scope, receive)
        await send(
            {
                "type": "http.response.start",
                "status": response.status,
                "headers": [
                    (k.encode("latin-1"), v.encode("latin-1")) for k, v in response.headers.items()
                ]
                + [(b"content-length", str(len(response.body)).encode())],
            }
        )
        await send({"type": "http.response.body", "body": response.body})

    async def _http(self, scope: Scope, receive: Receive) -> HttpResponse:
        raw_path: bytes = scope.get("raw_path") or scope["path"].encode()
        path = raw_path.decode("latin-1").split("?", 1)[0]
        if path == "/healthz":
            return self._health()
        body = await _read_body(receive, self.settings.max_body)
        client = scope.get("client") or ("", 0)
        request = HttpRequest(
            method=scope["method"],
            path=path,
            query=scope.get("query_string", b"").decode("latin-1"),
            headers=_headers(scope["headers"]),
            body=body if body is not None else b"",
            remote_addr=client[0],
        )
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

    async def _beat(self) -> None:
        interval = max(1.0, self.settings.heartbeat_timeout / 3)
        while True:
            await asyncio.sleep(interval)
            if self.service_id is None:
                continue
            try:
                await asyncio.to_thread(registry.heartbeat, self.store, self.service_id)
            except Exception:
                log.exception("heartbeat failed")
