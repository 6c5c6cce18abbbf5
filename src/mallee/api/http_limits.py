"""HTTP/1.1 connections with limits on a request's head: its size, its number of headers and
the time it takes to arrive.

uvicorn's httptools protocol sets none: the parser keeps an unfinished header whole, so four
clients each sending an endless header grew the server by hundreds of MiB, and a client that
never finishes its head held its connection for good. As S3 does, a header line over 8 KiB is
answered with 400 RequestHeaderSectionTooLarge; so is a head over 64 KiB in all, or with more
than 100 headers. A head that has not come in whole `header_timeout` seconds after its first
piece (or after the connection opened) gets RequestTimeout. The connection is closed after
either answer.
"""

from __future__ import annotations

import asyncio
import functools
import uuid
from typing import Any
from xml.sax.saxutils import escape

from uvicorn.config import Config
from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol
from uvicorn.server import ServerState

from mallee.api.errors import ServiceError, request_timeout
from mallee.config import Settings

MAX_HEADER_LINE = 8 * 1024
MAX_HEAD = 64 * 1024
MAX_HEADERS = 100


def head_too_large(limit: int, what: str = "header section") -> ServiceError:
    return ServiceError(
        "RequestHeaderSectionTooLarge",
        f"Your request {what} exceeds the maximum allowed size.",
        400,
        extra={"MaxSizeAllowed": str(limit)},
    )


def too_many_headers() -> ServiceError:
    return ServiceError(
        "RequestHeaderSectionTooLarge",
        "Your request has more headers than allowed.",
        400,
        extra={"MaxHeadersAllowed": str(MAX_HEADERS)},
    )


def wire_answer(error: ServiceError) -> bytes:
    """The whole HTTP answer to a request refused before any service saw it: S3's error
    document (AWS's own answer to these), and the connection closes after it."""
    extra = "".join(f"<{k}>{escape(v)}</{k}>" for k, v in error.extra.items())
    body = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f"<Error><Code>{escape(error.code)}</Code><Message>{escape(error.message)}</Message>"
        f"{extra}<RequestId>{uuid.uuid4()}</RequestId></Error>"
    ).encode()
    head = (
        f"content-type: application/xml\r\ncontent-length: {len(body)}\r\nconnection: close\r\n\r\n"
    ).encode()
    return STATUS_LINE[error.status] + head + body


@functools.cache
def header_timeout() -> float:
    """uvicorn makes the protocol itself, in each worker process: the settings reach it as
    they reach the app, through the environment `run_api` exports."""
    return float(Settings.from_env().header_timeout)


class _Refused(Exception):
    """Raised in a parser callback to stop parsing a head that broke a limit."""


class LimitedHttpToolsProtocol(HttpToolsProtocol):
    def __init__(
        self,
        config: Config,
        server_state: ServerState,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        super().__init__(config, server_state, app_state, _loop)
        # Whether what comes next is a request's head, and how many bytes of it came so far
        # (with the chunk that ends it): what the parser may be holding.
        self._in_head = True
        self._received = 0
        self._head_timer: asyncio.TimerHandle | None = None
        self._refusal: ServiceError | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm_head_timer()  # a connection that never sends a byte is dropped too

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm_head_timer()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._in_head:
            self._received += len(data)
        super().data_received(data)
        if self._in_head and self._received and not self.transport.is_closing():
            if self._received > MAX_HEAD:
                # Still no end of head in all this: refused before the parser holds more.
                self._refuse(head_too_large(MAX_HEAD))
            else:
                # A head begun and not yet whole. (One that comes in a single piece, as most
                # do, costs no timer.)
                self._arm_head_timer()

    def on_headers_complete(self) -> None:
        self._in_head = False
        self._disarm_head_timer()
        self._check_head()
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        # What follows on this connection is the next request's head.
        self._in_head = True
        self._received = 0
        super().on_message_complete()

    def send_400_response(self, msg: str) -> None:
        refusal, self._refusal = self._refusal, None
        if refusal is None:
            super().send_400_response(msg)  # the parser's own: not HTTP at all
        else:
            self._refuse(refusal)

    def _check_head(self) -> None:
        # Once per head, from what the parser collected (bounded by data_received meanwhile).
        if len(self.headers) > MAX_HEADERS:
            self._stop(too_many_headers())
        size = len(self.url)
        for name, value in self.headers:
            line = len(name) + len(value)
            if line > MAX_HEADER_LINE:
                self._stop(head_too_large(MAX_HEADER_LINE, "header line"))
            size += line + 4  # ": " and CRLF
        if size > MAX_HEAD:
            self._stop(head_too_large(MAX_HEAD))

    def _stop(self, refusal: ServiceError) -> None:
        # Raised in a parser callback: the parser turns it into an HttpParserCallbackError,
        # which uvicorn answers with send_400_response, where the refusal is sent.
        self._refusal = refusal
        raise _Refused(refusal.code)

    def _refuse(self, refusal: ServiceError) -> None:
        self._disarm_head_timer()
        if self.cycle is None or self.cycle.response_complete:
            self.transport.write(wire_answer(refusal))
        # Else an answer to the previous (pipelined) request is still being sent: no answer
        # can follow it in order, the connection just closes.
        self.transport.close()

    def _arm_head_timer(self) -> None:
        if self._head_timer is None:
            self._head_timer = self.loop.call_later(header_timeout(), self._head_timed_out)

    def _disarm_head_timer(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _head_timed_out(self) -> None:
        self._head_timer = None
        if self.transport.is_closing() or not self._in_head:
            return
        if self.cycle is not None and not self.cycle.response_complete:
            # Still answering the request before this head: the head's time is judged after.
            self._arm_head_timer()
            return
        if self._received:
            self._refuse(request_timeout())
        else:
            self.transport.close()  # never sent a byte: nothing to answer
