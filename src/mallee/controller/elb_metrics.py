"""The controller's step that publishes AWS/ELB metrics from the workers' counters.

Each worker's node rewrites its `elb_counters` row every second or so (node/lb/counters.py);
this step cuts the counters into ELB's one-minute periods with the arithmetic the AWS/EC2
publisher uses (`metric_intervals.advance`: a boundary's reading interpolated between the
samples around it, a counter going back or a new process start read as HAProxy starting over
from zero, never as a negative figure) and stores each closed minute's datapoints under the
load balancer's account in the transaction that moves the worker's `elb_metric_sources` row to
the boundary reached, by a conditional UPDATE from the row it read. A controller killed at any
moment resumes from the last minute it stored; one racing it loses its transaction.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from sqlalchemy import CursorResult, delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from mallee.controller.builtin_metrics import combine
from mallee.controller.metric_intervals import Interval, Reading, advance
from mallee.metrics import store as metric_store
from mallee.metrics.points import Datum
from mallee.store import Store
from mallee.store.tables.elb import (
    ELB_COUNTERS,
    ElbCounters,
    ElbLoadBalancer,
    ElbMetricSource,
    ElbWorker,
)

log = logging.getLogger(__name__)

NAMESPACE = "AWS/ELB"
PERIOD = 60
PUBLISH_EVERY = 5.0
# Counted per minute, published when not zero (as ELB does: no requests, no RequestCount).
_SUMS = {
    "elb_4xx": "HTTPCode_ELB_4XX",
    "elb_5xx": "HTTPCode_ELB_5XX",
    "backend_2xx": "HTTPCode_Backend_2XX",
    "backend_3xx": "HTTPCode_Backend_3XX",
    "backend_4xx": "HTTPCode_Backend_4XX",
    "backend_5xx": "HTTPCode_Backend_5XX",
    "connection_errors": "BackendConnectionErrors",
}


@dataclass(frozen=True, slots=True)
class Worker:
    """What a worker's datapoints are filed under."""

    account_id: str
    lb_name: str
    zone: str


class RaceLost(Exception):
    """Another controller moved a source row since this one read it."""


def dimension_sets(w: Worker) -> list[tuple[tuple[str, str], ...]]:
    return [
        (("LoadBalancerName", w.lb_name),),
        (("AvailabilityZone", w.zone), ("LoadBalancerName", w.lb_name)),
    ]


def _set(w: Worker, name: str, start: float, unit: str, count: float, total: float,
         low: float, high: float) -> list[Datum]:  # fmt: skip
    return [
        Datum(w.account_id, NAMESPACE, name, dims, start, unit, count, total, low, high)
        for dims in dimension_sets(w)
    ]


def interval_data(w: Worker, interval: Interval, surge: float | None) -> list[Datum]:
    """One minute's datapoints of one worker; `surge` is its longest queue (None: unknown)."""
    grown = dict(zip(ELB_COUNTERS, interval.deltas, strict=True))
    start = interval.start
    out: list[Datum] = []
    requests = float(round(grown["requests"]))
    if requests > 0:
        out += _set(w, "RequestCount", start, "Count", 1, requests, requests, requests)
        # A statistic set of the minute's requests: its Average is the mean response time.
        mean = grown["latency"] / requests
        out += _set(w, "Latency", start, "Seconds", requests, grown["latency"], mean, mean)
    for key, name in _SUMS.items():
        value = float(round(grown[key]))
        if value > 0:
            out += _set(w, name, start, "Count", 1, value, value, value)
    samples = grown["samples"]
    if samples >= 1:
        for key, name in (("healthy", "HealthyHostCount"), ("unhealthy", "UnHealthyHostCount")):
            mean = grown[key] / samples
            out += _set(w, name, start, "Count", samples, grown[key], mean, mean)
    if surge is not None:
        out += _set(w, "SurgeQueueLength", start, "Count", 1, surge, surge, surge)
    return out


def surge_of(row: Any, start: float) -> float | None:
    """The longest queue of the minute at `start`, if the row still holds it."""
    minute = float(row.surge_minute or 0.0)
    if minute == start:
        return float(row.surge_max)
    if minute == start + PERIOD:
        return float(row.surge_prev)
    return None


@dataclass(frozen=True, slots=True)
class _Step:
    worker_id: str
    data: list[Datum]
    row: dict[str, float]
    expected: float | None


class ElbMetricsPublisher:
    def __init__(self) -> None:
        # The last reading seen per worker (refines interpolation; a restart does without).
        self._seen: dict[str, Reading] = {}
        self._at = 0.0

    def due(self, now: float) -> bool:
        return now - self._at >= PUBLISH_EVERY

    def run(self, store: Store, now: float) -> int:
        """One pass; returns how many datapoints it stored."""
        self._at = now
        steps = self._steps(store)
        stored = 0
        for step in steps:
            stored += self._store(store, step)
        self._forget(store)
        return stored

    def _steps(self, store: Store) -> list[_Step]:
        c, src = ElbCounters, ElbMetricSource
        with store.read() as s:
            rows = s.execute(
                select(
                    c.worker_id,
                    c.sampled_at,
                    c.started_at,
                    c.surge_minute,
                    c.surge_max,
                    c.surge_prev,
                    *[getattr(c, n).label("c_" + n) for n in ELB_COUNTERS],
                    src.at,
                    src.started_at.label("anchor_start"),
                    *[getattr(src, n).label("a_" + n) for n in ELB_COUNTERS],
                    ElbWorker.zone,
                    ElbLoadBalancer.account_id,
                    ElbLoadBalancer.name,
                )
                .join(ElbWorker, ElbWorker.id == c.worker_id)
                .join(ElbLoadBalancer, ElbLoadBalancer.id == c.lb_id)
                .outerjoin(src, src.worker_id == c.worker_id)
            ).all()
        steps = []
        for r in rows:
            sample = Reading(
                float(r.sampled_at),
                float(r.started_at),
                tuple(float(getattr(r, "c_" + n)) for n in ELB_COUNTERS),
            )
            anchor = None
            if r.at is not None:
                anchor = Reading(
                    float(r.at),
                    float(r.anchor_start),
                    tuple(float(getattr(r, "a_" + n)) for n in ELB_COUNTERS),
                )
            new_anchor, intervals = advance(
                anchor, sample, PERIOD, before=self._seen.get(r.worker_id)
            )
            self._seen[r.worker_id] = sample
            if anchor is not None and new_anchor == anchor:
                continue
            worker = Worker(r.account_id, r.name, r.zone)
            data = [d for i in intervals for d in interval_data(worker, i, surge_of(r, i.start))]
            row = {
                "at": new_anchor.at,
                "started_at": new_anchor.booted_at,
                **dict(zip(ELB_COUNTERS, new_anchor.values, strict=True)),
            }
            expected = None if anchor is None else anchor.at
            steps.append(_Step(r.worker_id, data, row, expected))
        return steps

    def _store(self, store: Store, step: _Step) -> int:
        adds = metric_store.additions(combine(step.data))
        try:
            with store.session() as s:
                if step.expected is None:
                    s.execute(insert(ElbMetricSource).values(worker_id=step.worker_id, **step.row))
                else:
                    done = s.execute(
                        update(ElbMetricSource)
                        .where(
                            ElbMetricSource.worker_id == step.worker_id,
                            ElbMetricSource.at == step.expected,
                        )
                        .values(**step.row)
                    )
                    if _rowcount(done) != 1:
                        raise RaceLost(step.worker_id)
                metric_store.write(s, adds)
        except (RaceLost, IntegrityError):
            log.info("ELB metrics: another controller moved worker %s; retrying", step.worker_id)
            self._seen.pop(step.worker_id, None)
            return 0
        return len(step.data)

    def _forget(self, store: Store) -> None:
        """Counters and sources of workers gone (their load balancer or zone deleted)."""
        with store.session() as s:
            for table in (ElbCounters, ElbMetricSource):
                s.execute(
                    delete(table).where(
                        ~select(ElbWorker.id).where(ElbWorker.id == table.worker_id).exists()
                    )
                )
            live = set(s.scalars(select(ElbCounters.worker_id)))
        self._seen = {k: v for k, v in self._seen.items() if k in live}


def _rowcount(result: Any) -> int:
    done: CursorResult[Any] = result
    return int(done.rowcount)


def publish(publisher: ElbMetricsPublisher, store: Store, now: float) -> int:
    """The controller tick's call: a pass when one is due."""
    if not publisher.due(now):
        return 0
    return publisher.run(store, now)
