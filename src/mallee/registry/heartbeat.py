"""Keeping a registered component alive in the registry, for processes that are not async.

The api server beats from its event loop; the controller and node agents use `Heartbeat`, a
daemon thread that calls `components.heartbeat` every `interval` seconds. A health check may
report a fault (the component shows BROKEN while it lasts). When an administrator deregisters
the service, the thread stops and `deregistered` tells the owner.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from mallee.registry import components
from mallee.store import Store

log = logging.getLogger(__name__)

# Returns None when healthy, else what is wrong (shown in DescribeServices details).
HealthCheck = Callable[[], str | None]


def interval_for(timeout: float) -> float:
    """Beat three times per timeout, so one lost beat never shows the component NOTREADY."""
    return max(1.0, timeout / 3)


class Heartbeat:
    def __init__(
        self,
        store: Store,
        service_id: str,
        *,
        interval: float,
        health: HealthCheck | None = None,
    ) -> None:
        self.store = store
        self.service_id = service_id
        self.interval = interval
        self.health = health
        self.deregistered = False
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _fault(self) -> str | None:
        if self.health is None:
            return None
        try:
            return self.health()
        except Exception as err:
            # A health check that crashes is itself the fault worth showing.
            log.exception("health check of %s failed", self.service_id)
            return f"health check failed: {err}"

    def beat_once(self) -> bool:
        """One heartbeat; False once the service is no longer registered."""
        alive = components.heartbeat(self.store, self.service_id, fault=self._fault())
        if not alive:
            self.deregistered = True
        return alive

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                if not self.beat_once():
                    log.warning("service %s was deregistered; heartbeats stop", self.service_id)
                    return
            except Exception:
                # The database may be briefly unreachable; the next beat tries again.
                log.exception("heartbeat of %s failed", self.service_id)

    def start(self) -> None:
        if self._thread is not None:
            raise RuntimeError("heartbeat already started")
        self._thread = threading.Thread(
            target=self._run, name=f"heartbeat-{self.service_id}", daemon=True
        )
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()
