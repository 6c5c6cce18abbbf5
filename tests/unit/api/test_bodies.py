"""Request bodies bounded in time: fed by a fake ASGI receive that stalls or trickles."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from mallee.api.bodies import MIN_RATE, Clock, ReceiveStream, read_body
from mallee.api.errors import ServiceError

pytestmark = pytest.mark.nodb

Receive = Callable[[], Awaitable[dict[str, Any]]]


def sender(pieces: list[bytes], pause: float = 0.0, stall_after: int | None = None) -> Receive:
    """An ASGI receive handing out `pieces` (`pause` seconds apart), that never returns
    again after `stall_after` of them."""
    sent = 0

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if stall_after is not None and sent >= stall_after:
            await asyncio.sleep(3600)
        await asyncio.sleep(pause)
        sent += 1
        return {"type": "http.request", "body": pieces[sent - 1], "more_body": sent < len(pieces)}

    return receive


def is_timeout(err: BaseException) -> bool:
    return isinstance(err, ServiceError) and (err.code, err.status) == ("RequestTimeout", 400)


def test_a_whole_body() -> None:
    body = asyncio.run(read_body(sender([b"ab", b"cd"]), 10, Clock(1, 1)))
    assert body == b"abcd"
    assert asyncio.run(read_body(sender([b"abcdef"]), 5, Clock(1, 1))) is None


def test_a_stalled_body_times_out() -> None:
    started = time.monotonic()
    with pytest.raises(ServiceError) as raised:
        asyncio.run(read_body(sender([b"<Del", b"ete>"], stall_after=1), 100, Clock(0.1, 10)))
    assert is_timeout(raised.value) and time.monotonic() - started < 1


def test_a_trickle_times_out_in_all() -> None:
    # Each piece well within the idle time, the whole far slower than MIN_RATE allows.
    trickle = sender([b"x"] * 100, pause=0.03)
    started = time.monotonic()
    with pytest.raises(ServiceError) as raised:
        asyncio.run(read_body(trickle, 1000, Clock(1, 0.3)))
    assert is_timeout(raised.value) and 0.25 < time.monotonic() - started < 1


def test_every_byte_buys_time() -> None:
    clock = Clock(60, 0.5)
    assert clock.allowance() <= 0.5
    asyncio.run(clock.next_piece(sender([b"x" * MIN_RATE * 2])))
    assert 2.3 < clock.allowance() <= 2.5
    assert Clock(0.2, 10).allowance() == 0.2  # and never more than the idle time


def _read_in_thread(stream: ReceiveStream) -> bytes:
    return stream.read()


def test_a_worker_reading_a_stalled_body_gets_request_timeout() -> None:
    async def scenario() -> BaseException | None:
        loop = asyncio.get_running_loop()
        receive = sender([b"a" * 10, b"b"], stall_after=1)
        stream = ReceiveStream(receive, loop, Clock(0.1, 10))
        try:
            await asyncio.to_thread(_read_in_thread, stream)
        except ServiceError as err:
            return err
        return None

    assert is_timeout(asyncio.run(scenario()))  # type: ignore[arg-type]


def test_a_prefetched_body_that_stalls_fails_the_reader() -> None:
    async def scenario() -> tuple[BaseException | None, bool]:
        loop = asyncio.get_running_loop()
        stream = ReceiveStream(sender([b"a", b"b"], stall_after=1), loop, Clock(0.1, 10))
        taking = stream.prefetch()
        await taking  # ends by itself: no thread waits for it
        try:
            await asyncio.to_thread(_read_in_thread, stream)
        except ServiceError as err:
            return err, stream.finished
        return None, stream.finished

    failure, finished = asyncio.run(scenario())
    assert failure is not None and is_timeout(failure) and not finished


def test_a_prefetched_body_is_read_whole() -> None:
    async def scenario() -> bytes:
        loop = asyncio.get_running_loop()
        stream = ReceiveStream(sender([b"<Delete>", b"</Delete>"]), loop, Clock(1, 10))
        stream.prefetch()
        return await asyncio.to_thread(_read_in_thread, stream)

    assert asyncio.run(scenario()) == b"<Delete></Delete>"


def test_a_timed_out_task_goes_on_and_outside_cancels_still_cancel() -> None:
    async def timed_out_then_sleeps() -> str:
        with pytest.raises(ServiceError):
            await Clock(0.05, 10).next_piece(sender([b"a"], stall_after=0))
        await asyncio.sleep(0.3)  # no cancellation left pending on the task
        return "went on"

    async def cancelled_from_outside() -> bool:
        waiting = asyncio.ensure_future(Clock(10, 10).next_piece(sender([b"a"], stall_after=0)))
        await asyncio.sleep(0.05)
        waiting.cancel()
        try:
            await waiting
        except asyncio.CancelledError:
            return True
        return False

    assert asyncio.run(timed_out_then_sleeps()) == "went on"
    assert asyncio.run(cancelled_from_outside())
