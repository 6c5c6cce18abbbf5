"""`mallee controller`: the active controller's loop, and standby while another holds the lease."""

from __future__ import annotations

import logging
import os
import socket
import time
import uuid

from mallee.config import Settings
from mallee.controller import addresses, ebs_launches, images, lease, lifecycle, vmstate
from mallee.controller.alarm_actions import AccountCalls
from mallee.controller.alarms import AlarmEngine, MathReader
from mallee.controller.autoscaling import GroupEngine
from mallee.controller.elb import ElbManager
from mallee.controller.elb_metrics import ElbMetricsPublisher, publish
from mallee.controller.metrics_publisher import PublisherThread
from mallee.controller.scheduler import Scheduler, has_unplaced
from mallee.metrics import store as metrics_store
from mallee.registry import components, properties
from mallee.registry.heartbeat import Heartbeat, interval_for
from mallee.runloop import stop_on_signals, wait_for_work
from mallee.store import Store

log = logging.getLogger(__name__)

LEASE = "controller"
LEASE_TTL = 10.0
TICK = 0.5
# Housekeeping that need not run on every tick.
SLOW_EVERY = 10.0


class Controller:
    """One tick places pending instances and settles those of silent nodes."""

    def __init__(
        self,
        store: Store,
        settings: Settings,
        alarms: AlarmEngine | None = None,
        calls: AccountCalls | None = None,
    ) -> None:
        self.store = store
        self.settings = settings
        self.scheduler = Scheduler()
        self._slow_at = 0.0
        self._lifecycle_at = 0.0
        # Publishes on a thread of its own (started by run_controller): see PublisherThread.
        self.metrics = PublisherThread(store, lambda s, now: vmstate.silent_nodes(s, now=now))
        self.alarms = alarms or AlarmEngine(store, metrics_store.statistics, region=settings.region)
        self.elb = ElbManager(heartbeat_timeout=float(settings.heartbeat_timeout))
        self.elb_metrics = ElbMetricsPublisher()
        self.autoscaling = GroupEngine(store, calls)

    def tick(self, now: float | None = None) -> int:
        """One pass; returns how many instances it placed."""
        now = time.time() if now is None else now
        self.scheduler.policy = properties.get_str(self.store, "cloud.compute.scheduling_policy")
        placed = self.scheduler.place_pending(
            self.store,
            zone=self.settings.zone,
            heartbeat_timeout=float(self.settings.heartbeat_timeout),
        )
        vmstate.handle_silent_nodes(self.store, now=now)
        # CreateImage's pending images: snapshots once their instance stopped, then available.
        images.settle(self.store)
        # After the state changes above, so an instance they terminated frees its address now.
        addresses.reclaim(self.store)
        if now - self._slow_at >= SLOW_EVERY:
            self._slow_at = now
            vmstate.purge_terminated(self.store, now=now)
            # Launches whose volumes are never made (they wait minutes: SLOW_EVERY is no delay).
            ebs_launches.fail_stuck(self.store, now=now)
            # Datapoints past their tier's retention (3 hours of 1-second data, ...).
            with self.store.session() as s:
                metrics_store.purge(s, now=now)
        if now - self._lifecycle_at >= lifecycle.INTERVAL:
            self._lifecycle_at = now
            lifecycle.run(self.store, self.settings)
        # Alarms due, their transitions and the actions they owe (on the datapoints the
        # publisher's thread has committed by now).
        self.alarms.tick(now)
        # Auto Scaling groups, right after the alarms: a policy an alarm just executed
        # launches in this same tick.
        self.autoscaling.tick(now)
        # Load balancers' workers: placed, moved off silent nodes, retired, and their addresses.
        self.elb.tick(self.store, now)
        publish(self.elb_metrics, self.store, now)
        return placed


def run_controller(
    settings: Settings,
    calls: AccountCalls | None = None,
    math_reader: MathReader | None = None,
) -> int:
    """`calls` (alarm actions) and `math_reader` (metric math alarms) reach the services
    through the gateway's internal call; the cli builds them, as the controller imports no
    service."""
    store = Store(settings.database_url)
    store.migrate()
    host = socket.gethostname()
    name = settings.service_name or f"controller-{host}"
    service_id = components.register_self(
        store, type="controller", name=name, host=host, port=settings.port, partition=settings.zone
    )
    beat = Heartbeat(store, service_id, interval=interval_for(settings.heartbeat_timeout))
    beat.start()
    holder = f"{name}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
    stop = stop_on_signals()
    engine = AlarmEngine(
        store,
        metrics_store.statistics,
        calls,
        math_reader=math_reader,
        region=settings.region,
        batch_reads=True,
    )
    controller = Controller(store, settings, engine, calls)
    active = False
    controller.metrics.start()
    try:
        while not stop.is_set():
            epoch = lease.acquire(store, LEASE, holder, ttl=LEASE_TTL, now=time.time())
            if (epoch is not None) != active:
                active = epoch is not None
                log.info("controller %s is %s", name, "active" if active else "standby")
            controller.metrics.set_active(active)
            idle = False
            if active:
                try:
                    idle = controller.tick() == 0
                except Exception:
                    # One bad tick must not stop the cloud's control loop; the next retries.
                    log.exception("controller tick failed")
            # Under load a tick waits out its interval and places a whole batch; an idle
            # controller places a new launch as soon as it is committed.
            if idle:
                wait_for_work(stop, TICK, lambda: has_unplaced(store, settings.zone))
            else:
                stop.wait(TICK)
    finally:
        controller.metrics.stop()
        lease.release(store, LEASE, holder)
        beat.stop()
        store.dispose()
    return 0
