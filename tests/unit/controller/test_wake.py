"""Loops wake early for new work: the controller's unplaced-launch probe and wait_for_work."""

from __future__ import annotations

import threading
import time

from mallee.controller.scheduler import has_unplaced
from mallee.runloop import wait_for_work
from mallee.store import Store
from tests.unit.services.ec2.test_capacity import ZONE, add_instance


def test_unplaced_launches_are_seen(store: Store) -> None:
    assert not has_unplaced(store, ZONE)
    add_instance(store, "node-1", "pending", (1, 256, 5))  # placed: not the controller's
    assert not has_unplaced(store, ZONE)
    add_instance(store, None, "pending", (1, 256, 5))
    assert has_unplaced(store, ZONE)
    assert not has_unplaced(store, "another-zone")


def test_wait_returns_once_the_probe_sees_work() -> None:
    stop = threading.Event()
    asked: list[float] = []

    def probe() -> bool:
        asked.append(time.monotonic())
        return len(asked) >= 3

    start = time.monotonic()
    wait_for_work(stop, 10.0, probe)
    assert len(asked) == 3 and time.monotonic() - start < 5.0


def test_wait_lasts_its_timeout_without_work_and_survives_a_failing_probe() -> None:
    def probe() -> bool:
        raise RuntimeError("database is locked")

    start = time.monotonic()
    wait_for_work(threading.Event(), 0.2, probe)
    assert time.monotonic() - start >= 0.2


def test_stop_ends_the_wait() -> None:
    stop = threading.Event()
    stop.set()
    start = time.monotonic()
    wait_for_work(stop, 10.0, lambda: False)
    assert time.monotonic() - start < 1.0
