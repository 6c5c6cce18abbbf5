"""The heartbeat thread non-async components (controller, node) run."""

from __future__ import annotations

import time
from collections.abc import Callable

from mallee.registry import components
from mallee.registry.heartbeat import Heartbeat, interval_for
from mallee.store import Store


def _wait_for(condition: Callable[[], bool], timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return False


def _register(store: Store, now: float | None = None) -> str:
    return components.register_self(
        store, type="controller", name="clc-1", host="10.0.0.2", port=8773, now=now
    )


def test_interval_is_a_third_of_the_timeout() -> None:
    assert interval_for(30) == 10
    assert interval_for(1) == 1.0


def test_beats_keep_the_service_alive(store: Store) -> None:
    sid = _register(store, now=time.time() - 3600)
    assert not components.is_enabled(store, sid, timeout=30)
    beat = Heartbeat(store, sid, interval=0.02)
    beat.start()
    try:
        assert _wait_for(lambda: components.is_enabled(store, sid, timeout=30))
    finally:
        beat.stop()
    assert not beat.running


def test_a_failing_health_check_shows_broken(store: Store) -> None:
    sid = _register(store)
    problems: list[str | None] = ["disk full"]
    beat = Heartbeat(store, sid, interval=0.02, health=lambda: problems[0])
    assert beat.beat_once()
    record = components.get_service(store, sid, timeout=30)
    assert record is not None and (record.state, record.details) == ("BROKEN", ("disk full",))
    problems[0] = None
    beat.beat_once()
    assert components.is_enabled(store, sid, timeout=30)


def test_a_crashing_health_check_is_the_fault(store: Store) -> None:
    sid = _register(store)

    def check() -> str | None:
        raise OSError("no such device")

    Heartbeat(store, sid, interval=1, health=check).beat_once()
    record = components.get_service(store, sid, timeout=30)
    assert record is not None and record.state == "BROKEN"
    assert "no such device" in record.details[0]


def test_heartbeats_stop_once_deregistered(store: Store) -> None:
    sid = _register(store)
    beat = Heartbeat(store, sid, interval=0.02)
    beat.start()
    try:
        components.deregister_service(store, "clc-1")
        assert _wait_for(lambda: not beat.running)
        assert beat.deregistered
    finally:
        beat.stop()
