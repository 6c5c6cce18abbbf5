"""Request bodies as they arrive, bounded in time.

A client that stops sending its body, or sends it a byte at a time, must not hold what other
requests need: a body may leave at most `body_idle_timeout` seconds between two pieces, and
must have come, in all, within `body_timeout` seconds plus one second per MIN_RATE bytes (as
Apache's mod_reqtimeout: generous to a large upload over a slow link, not to a trickle). Either
way the request gets AWS's RequestTimeout and its connection is closed.
"""

from __future__ import annotations

import asyncio
import threading
import time
import weakref
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from mallee.api.errors import ServiceError, request_timeout

Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]

# Bodies announced at most this long (small S3 objects, which the provider keeps in their
# metadata rows, and every XML document) are taken in by the event loop as soon as the request
# arrives: the client sends them (after "100 Continue") while a worker authenticates the
# request, and the worker then finds them there instead of asking the loop piece by piece.
PREFETCH_MAX = 64 * 1024 + 1024
# Bytes per second a body must average once its first `body_timeout` seconds are spent.
MIN_RATE = 1024


class ClientGone(Exception):
    """The client went away before sending the whole body."""


class _Watchdog:
    """Ends the body waits of one event loop that outlast their time: one timer that looks
    every TICK seconds, rather than a timer per wait, which every request with a body would
    pay for (asyncio.timeout around each wait cost about twice as much as this)."""

    TICK = 0.25

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._due: dict[asyncio.Task[Any], float] = {}
        self._ended: set[asyncio.Task[Any]] = set()
        self._timer: asyncio.TimerHandle | None = None

    def watch(self, task: asyncio.Task[Any], due: float) -> None:
        self._due[task] = due
        if self._timer is None:
            self._timer = self._loop.call_later(self.TICK, self._look)

    def unwatch(self, task: asyncio.Task[Any]) -> bool:
        """Stop watching `task`; whether it was this watchdog that cancelled it."""
        del self._due[task]
        if task in self._ended:
            self._ended.discard(task)
            return True
        return False

    def _look(self) -> None:
        now = time.monotonic()
        for task, due in self._due.items():
            # A task here is suspended in its wait: the cancellation lands in that wait.
            if due <= now and task not in self._ended:
                self._ended.add(task)
                task.cancel()
        self._timer = self._loop.call_later(self.TICK, self._look) if self._due else None


_watchdogs: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Watchdog] = (
    weakref.WeakKeyDictionary()
)


def _watchdog() -> _Watchdog:
    loop = asyncio.get_running_loop()
    found = _watchdogs.get(loop)
    if found is None:
        found = _watchdogs[loop] = _Watchdog(loop)
    return found


class Clock:
    """How long the next piece of one body may take (see the module's doc)."""

    def __init__(self, idle: float, grace: float) -> None:
        self.idle = idle
        self.due = time.monotonic() + grace

    def allowance(self) -> float:
        return max(0.0, min(self.idle, self.due - time.monotonic()))

    async def next_piece(self, receive: Receive) -> Message:
        """The next ASGI message of the body, or RequestTimeout once the clock runs out."""
        allowance = self.allowance()
        if allowance <= 0:
            raise request_timeout()
        task = asyncio.current_task()
        assert task is not None
        watchdog = _watchdog()
        watchdog.watch(task, time.monotonic() + allowance)
        try:
            message = await receive()
        except asyncio.CancelledError:
            if watchdog.unwatch(task):
                task.uncancel()
                raise request_timeout() from None
            raise
        except BaseException:
            watchdog.unwatch(task)
            raise
        watchdog.unwatch(task)
        self.due += len(message.get("body", b"")) / MIN_RATE
        return message


async def read_body(receive: Receive, limit: int, clock: Clock) -> bytes | None:
    """The whole body, or None once it grows past `limit` (the rest is not buffered); raises
    RequestTimeout (a ServiceError) when it does not come in time."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await clock.next_piece(receive)
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


class ReceiveStream:
    """The ASGI request body as a blocking reader, for a worker thread (never the loop's)."""

    def __init__(
        self,
        receive: Receive,
        loop: asyncio.AbstractEventLoop,
        clock: Clock,
        *,
        empty: bool = False,
    ) -> None:
        self._receive = receive
        self._loop = loop
        # Only ever used on the loop, by whichever of prefetch or _fill takes the body in.
        self._clock = clock
        self._buffer = bytearray()
        # A request that announces no body (most GETs) is not waited on for one.
        self._done = empty
        # Set once `prefetch` has taken in the whole body (or could not).
        self._prefetched: threading.Event | None = None
        self._gone = False
        self._failure: ServiceError | None = None

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
                self._take(await self._clock.next_piece(self._receive))
        except ClientGone:
            self._gone = True
        except ServiceError as failure:
            self._failure = failure
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
            if self._failure is not None:
                raise self._failure
            if self._gone or not self._done:
                raise ClientGone("client disconnected")
            return
        asyncio.run_coroutine_threadsafe(self._fill(size), self._loop).result()

    async def _fill(self, size: int) -> None:
        # On the loop, while the reading thread waits: the server hands over a body in pieces
        # of at most 64 KiB, and one hand-over per piece held a large upload to ~2/3 of the speed.
        while not self._done and (size < 0 or len(self._buffer) < size):
            self._take(await self._clock.next_piece(self._receive))

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
