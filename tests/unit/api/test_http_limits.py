"""The connection's limits on a request's head, fed bytes as a socket would (no server)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest
from uvicorn.config import Config
from uvicorn.server import ServerState

from mallee.api import http_limits
from mallee.api.http_limits import MAX_HEAD, MAX_HEADER_LINE, MAX_HEADERS

pytestmark = pytest.mark.nodb


class Transport(asyncio.Transport):
    def __init__(self) -> None:
        super().__init__()
        self.written = bytearray()
        self.closed = False

    def write(self, data: Any) -> None:
        self.written += data

    def close(self) -> None:
        self.closed = True

    def is_closing(self) -> bool:
        return self.closed

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return {"sockname": ("127.0.0.1", 8773), "peername": ("127.0.0.1", 50000)}.get(
            name, default
        )

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass


class Connection:
    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.requests: list[dict[str, Any]] = []

        async def app(scope: Any, receive: Any, send: Any) -> None:
            self.requests.append(scope)
            await send({"type": "http.response.start", "status": 200, "headers": []})
            await send({"type": "http.response.body", "body": b"ok"})

        config = Config(app=app, lifespan="off", log_level="critical")
        config.load()
        self.protocol = http_limits.LimitedHttpToolsProtocol(
            config=config, server_state=ServerState(), app_state={}, _loop=loop
        )
        self.transport = Transport()
        self.protocol.connection_made(self.transport)

    def feed(self, data: bytes) -> None:
        self.protocol.data_received(data)
        self.settle()

    def settle(self, seconds: float = 0.01) -> None:
        self.loop.run_until_complete(asyncio.sleep(seconds))

    def answer(self) -> str:
        return bytes(self.transport.written).decode("latin-1")


@pytest.fixture
def connection() -> Iterator[Connection]:
    loop = asyncio.new_event_loop()
    conn = Connection(loop)
    yield conn
    conn.protocol.connection_lost(None)
    loop.close()


def refused(conn: Connection, code: str) -> bool:
    answer = conn.answer()
    return (
        answer.startswith("HTTP/1.1 400 ")
        and f"<Code>{code}</Code>" in answer
        and conn.transport.closed
        and not conn.requests
    )


def test_an_ordinary_request_is_served(connection: Connection) -> None:
    headers = b"".join(b"X-H%d: %s\r\n" % (i, b"v" * 60) for i in range(MAX_HEADERS - 1))
    connection.feed(b"GET / HTTP/1.1\r\nHost: x\r\n" + headers + b"\r\n")
    assert connection.answer().startswith("HTTP/1.1 200 ")
    assert len(connection.requests) == 1 and not connection.transport.closed


def test_a_header_line_over_8_kib(connection: Connection) -> None:
    value = b"a" * MAX_HEADER_LINE
    connection.feed(b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + value + b"\r\n\r\n")
    assert refused(connection, "RequestHeaderSectionTooLarge")
    assert "<MaxSizeAllowed>8192</MaxSizeAllowed>" in connection.answer()


def test_too_many_headers(connection: Connection) -> None:
    headers = b"".join(b"X-%d: v\r\n" % i for i in range(MAX_HEADERS + 1))
    connection.feed(b"GET / HTTP/1.1\r\n" + headers + b"\r\n")
    assert refused(connection, "RequestHeaderSectionTooLarge")


def test_a_head_over_64_kib_in_all(connection: Connection) -> None:
    # Each line and the count within their limits, the whole over MAX_HEAD.
    line = b"X-%d: " + b"v" * 8000 + b"\r\n"
    connection.feed(b"GET / HTTP/1.1\r\n" + b"".join(line % i for i in range(9)) + b"\r\n")
    assert refused(connection, "RequestHeaderSectionTooLarge")
    assert f"<MaxSizeAllowed>{MAX_HEAD}</MaxSizeAllowed>" in connection.answer()


def test_an_endless_header_is_cut_off_once_past_the_limit(connection: Connection) -> None:
    connection.feed(b"GET / HTTP/1.1\r\nX-Endless: ")
    fed = 0
    while not connection.transport.closed:
        connection.feed(b"a" * 16384)
        fed += 16384
        assert fed <= MAX_HEAD + 16384, "still buffering past the limit"
    assert refused(connection, "RequestHeaderSectionTooLarge")


def test_a_slow_head_gets_request_timeout(
    connection: Connection, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(http_limits, "header_timeout", lambda: 0.05)
    conn = Connection(connection.loop)  # made after the patch: its timer uses it
    conn.feed(b"GET / HTTP/1.1\r\nHost: x\r\n")
    assert not conn.transport.closed
    conn.settle(0.2)
    assert refused(conn, "RequestTimeout")


def test_a_silent_connection_is_closed_without_an_answer(
    connection: Connection, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(http_limits, "header_timeout", lambda: 0.05)
    conn = Connection(connection.loop)
    conn.settle(0.2)
    assert conn.transport.closed and conn.answer() == ""


def test_the_head_timer_stops_once_the_head_is_in(
    connection: Connection, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(http_limits, "header_timeout", lambda: 0.05)
    conn = Connection(connection.loop)
    conn.feed(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    conn.settle(0.2)
    assert conn.answer().startswith("HTTP/1.1 200 ") and not conn.transport.closed


def test_not_http_is_still_the_parsers_400(connection: Connection) -> None:
    connection.feed(b"\x00\x01 nonsense\r\n\r\n")
    assert connection.answer().startswith("HTTP/1.1 400 ") and connection.transport.closed
    assert "Invalid HTTP request" in connection.answer()
