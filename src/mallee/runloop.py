"""Long-running components (controller, node agent) stop cleanly on SIGTERM and SIGINT."""

from __future__ import annotations

import logging
import signal
import threading
import time
from collections.abc import Callable
from types import FrameType

log = logging.getLogger(__name__)

# How often a waiting loop asks whether work has come in (a cheap indexed read).
PROBE_EVERY = 0.05


def stop_on_signals() -> threading.Event:
    """An event set by SIGTERM or SIGINT; the caller's loop waits on it between ticks."""
    stop = threading.Event()

    def _stop(_sig: int, _frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    return stop


def wait_for_work(stop: threading.Event, timeout: float, probe: Callable[[], bool]) -> None:
    """Wait up to `timeout` (or until `stop`), returning early once `probe()` says there is
    work: a launch is picked up within ~50 ms instead of waiting out the loop's tick."""
    deadline = time.monotonic() + timeout
    while not stop.is_set():
        left = deadline - time.monotonic()
        if left <= 0:
            return
        stop.wait(min(PROBE_EVERY, left))
        try:
            if probe():
                return
        except Exception:  # the database is busy or away: the full tick will say why
            log.debug("work probe failed", exc_info=True)
