"""A worker's HAProxy counters, as the node writes them into `elb_counters` for the
controller's AWS/ELB metrics.

HAProxy's own counters (requests, responses by class, connection errors) count from its
worker process's start, and a reload starts a new process whose counters begin at zero (a
state file keeps servers' states, not counters). What HAProxy has no counter for is added up
here, sample by sample, into the same row: latency (its `rtime`, the average over the last
requests, times the requests since the last sample), the back ends seen in and out of service,
and the longest queue of each minute. Those sums start over with the process too, so every
column of the row counts from the same start and a reader can tell a restart by the process's
start time or a counter going back. The row is the only state: an agent restarted while the
same HAProxy runs continues from it.
"""

from __future__ import annotations

import csv
import io
import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, fields, replace

from mallee.node.lb.config import HEALTH_BACKEND
from mallee.node.lb.health import IN_SERVICE, health_of
from mallee.store.db import Store
from mallee.store.tables.elb import ElbCounters
from mallee.store.upsert import upsert

log = logging.getLogger(__name__)

# `show info` and `show stat` in one connection, answered one after the other.
COMMAND = "show info;show stat"
MINUTE = 60
# Two starts closer than this look like one process to the controller (btime-like slack):
# a new process's start is moved past it.
START_SLACK = 2.0


@dataclass(frozen=True, slots=True)
class Raw:
    """One reading of `show info` and `show stat`."""

    pid: int
    started_at: float
    requests: float
    frontend_4xx: float
    frontend_5xx: float
    backend_2xx: float
    backend_3xx: float
    backend_4xx: float
    backend_5xx: float
    connection_errors: float
    # Average response time of the last requests (seconds), weighted by the back ends'.
    rtime: float
    queued: float
    healthy: int
    unhealthy: int


@dataclass(frozen=True, slots=True)
class Counters:
    """One `elb_counters` row's values."""

    pid: int
    started_at: float
    sampled_at: float
    requests: float = 0.0
    latency: float = 0.0
    elb_4xx: float = 0.0
    elb_5xx: float = 0.0
    backend_2xx: float = 0.0
    backend_3xx: float = 0.0
    backend_4xx: float = 0.0
    backend_5xx: float = 0.0
    connection_errors: float = 0.0
    healthy: float = 0.0
    unhealthy: float = 0.0
    samples: float = 0.0
    surge_minute: float = 0.0
    surge_max: float = 0.0
    surge_prev: float = 0.0

    def row(self) -> dict[str, float | int]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


def _num(value: str | None) -> float:
    try:
        return float(value) if value else 0.0
    except ValueError:
        return 0.0


def parse(text: str) -> Raw:
    """`show info;show stat`'s answer: the info's `Name: value` lines, then the CSV."""
    info: dict[str, str] = {}
    head, marker, tail = text.partition("\n# ")
    if not marker:
        raise ValueError("not the output of `show info;show stat`")
    for line in head.splitlines():
        name, sep, value = line.partition(":")
        if sep:
            info[name.strip()] = value.strip()
    if "Pid" not in info:
        raise ValueError("no Pid in `show info`")
    rows = list(csv.DictReader(io.StringIO(tail)))
    frontends = [r for r in rows if r.get("svname") == "FRONTEND"]
    listeners = [r for r in rows if str(r.get("pxname", "")).startswith("b")]
    servers = [r for r in listeners if r.get("svname") not in ("BACKEND", "FRONTEND")]
    backends = [r for r in listeners if r.get("svname") == "BACKEND"]
    checked = [
        r for r in rows if r.get("pxname") == HEALTH_BACKEND and r.get("svname") != "BACKEND"
    ]

    def total(rs: list[dict[str, str]], column: str) -> float:
        return sum(_num(r.get(column)) for r in rs)

    # HTTP frontends count requests; a TCP one's requests are its connections.
    requests = sum(_num(r.get("req_tot")) or _num(r.get("stot")) for r in frontends)
    weight = total(backends, "stot")
    rtime = (
        sum(_num(r.get("rtime")) * _num(r.get("stot")) for r in backends) / weight / 1000.0
        if weight
        else 0.0
    )
    up = sum(
        1
        for r in checked
        if health_of(r.get("status") or "", r.get("check_status") or "").state == IN_SERVICE
    )
    started = _num(info.get("Start_time_sec")) or _num(info.get("Uptime_sec"))
    return Raw(
        pid=int(info["Pid"]),
        started_at=started,
        requests=requests,
        frontend_4xx=total(frontends, "hrsp_4xx"),
        frontend_5xx=total(frontends, "hrsp_5xx"),
        backend_2xx=total(servers, "hrsp_2xx"),
        backend_3xx=total(servers, "hrsp_3xx"),
        backend_4xx=total(servers, "hrsp_4xx"),
        backend_5xx=total(servers, "hrsp_5xx"),
        connection_errors=total(backends, "econ"),
        rtime=rtime,
        queued=total(backends, "qcur"),
        healthy=up,
        unhealthy=len(checked) - up,
    )


def advance(before: Counters | None, raw: Raw, now: float) -> Counters:
    """The row after one more sample `raw` at `now`, from the row `before` (None: none yet)."""
    minute = math.floor(now / MINUTE) * MINUTE
    same = (
        before is not None
        and before.pid == raw.pid
        and abs(before.started_at - raw.started_at) <= START_SLACK
        and raw.requests >= before.requests
    )
    if not same or before is None:
        started = raw.started_at
        if before is not None and abs(started - before.started_at) <= START_SLACK:
            started = before.started_at + START_SLACK + 1.0
        base = Counters(pid=raw.pid, started_at=started, sampled_at=now, surge_minute=minute)
        new_requests = raw.requests
    else:
        base = before
        new_requests = raw.requests - before.requests
    if base.surge_minute == minute:
        surge_max, surge_prev = max(base.surge_max, raw.queued), base.surge_prev
    else:
        # The minute just before keeps its maximum for the publisher, which reads it after
        # the minute closed; an older one is of no more use.
        surge_prev = base.surge_max if base.surge_minute == minute - MINUTE else 0.0
        surge_max = raw.queued
    return replace(
        base,
        sampled_at=now,
        requests=raw.requests,
        latency=base.latency + new_requests * raw.rtime,
        # What HAProxy answered itself: the frontends' answers the servers did not give.
        # Never less than before, though the two are read a moment apart.
        elb_4xx=max(base.elb_4xx, raw.frontend_4xx - raw.backend_4xx),
        elb_5xx=max(base.elb_5xx, raw.frontend_5xx - raw.backend_5xx),
        backend_2xx=raw.backend_2xx,
        backend_3xx=raw.backend_3xx,
        backend_4xx=raw.backend_4xx,
        backend_5xx=raw.backend_5xx,
        connection_errors=raw.connection_errors,
        healthy=base.healthy + raw.healthy,
        unhealthy=base.unhealthy + raw.unhealthy,
        samples=base.samples + 1,
        surge_minute=minute,
        surge_max=surge_max,
        surge_prev=surge_prev,
    )


class CounterRows:
    """Each worker's `elb_counters` row, moved by one sample at a time."""

    def __init__(self, store: Store) -> None:
        self.store = store
        # worker id -> the row as written (read back once after an agent restart).
        self._rows: dict[str, Counters] = {}

    def sample(self, worker_id: str, lb_id: str, ask: Callable[[str], str]) -> None:
        """`ask` sends a command to the worker's stats socket and returns the answer."""
        try:
            raw = parse(ask(COMMAND))
        except (OSError, ValueError, RuntimeError) as err:
            log.debug("ELB worker %s: no counters (%s)", worker_id, err)
            return
        before = self._rows.get(worker_id)
        if before is None:
            with self.store.read() as s:
                row = s.get(ElbCounters, worker_id)
                if row is not None:
                    before = Counters(**{f.name: getattr(row, f.name) for f in fields(Counters)})
        after = advance(before, raw, time.time())
        try:
            with self.store.session() as s:
                upsert(s, ElbCounters, [{"worker_id": worker_id, "lb_id": lb_id, **after.row()}])
        except Exception:
            # The next sample writes it (its sums go on from the last row written).
            log.exception("ELB worker %s: counters not written", worker_id)
            self._rows.pop(worker_id, None)
            return
        self._rows[worker_id] = after

    def forget(self, worker_id: str) -> None:
        self._rows.pop(worker_id, None)
