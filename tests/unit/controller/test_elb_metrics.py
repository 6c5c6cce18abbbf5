"""The AWS/ELB publisher against a real store: workers' counters in, one minute's statistics
out under the load balancer's account, across HAProxy restarts and controller restarts."""

from __future__ import annotations

import datetime as dt
import math
import time

import pytest
from sqlalchemy import delete, select

from mallee.cloud_identity import system_account_id
from mallee.controller.elb_metrics import ElbMetricsPublisher, publish
from mallee.metrics import store as metric_store
from mallee.metrics.points import Bucket
from mallee.services.iam.bootstrap import ensure_system_account
from mallee.store import Store
from mallee.store.tables.elb import ElbCounters, ElbLoadBalancer, ElbMetricSource, ElbWorker
from mallee.store.upsert import upsert

# A minute boundary comfortably in the past, so every period the tests make has closed.
T0 = float(math.floor(time.time() / 300) * 300 - 1800)
LB = "web"
BY_LB = [("LoadBalancerName", LB)]


def seed(store: Store, zones: tuple[str, ...] = ("one",)) -> list[str]:
    ensure_system_account(store)
    account = system_account_id(store)
    now = dt.datetime.now(dt.UTC)
    workers = [f"elbw-{i:04x}" for i, _ in enumerate(zones)]
    with store.session() as s:
        s.add(ElbLoadBalancer(id="abc123", account_id=account, name=LB, created_at=now,
                              dns_name="web.example"))  # fmt: skip
        s.flush()
        for wid, zone in zip(workers, zones, strict=True):
            s.add(ElbWorker(id=wid, lb_id="abc123", zone=zone, node="n1", public_ip="203.0.113.9",
                            state="running", created_at=now))  # fmt: skip
    return workers


def sample(store: Store, wid: str, at: float, requests: float, *, started: float = T0 - 1000,
           pid: int = 1, samples: float = 0, healthy: float = 0) -> None:  # fmt: skip
    """Counters of a process started at `started` that answered every request in 50 ms."""
    with store.session() as s:
        upsert(s, ElbCounters, [{
            "worker_id": wid, "lb_id": "abc123", "pid": pid, "started_at": started,
            "sampled_at": at, "requests": requests, "latency": 0.05 * requests,
            "backend_2xx": requests, "samples": samples, "healthy": healthy,
            "surge_minute": math.floor(at / 60) * 60, "surge_max": 3.0, "surge_prev": 3.0,
        }])  # fmt: skip


def stats(store: Store, name: str, dims: list[tuple[str, str]]) -> list[Bucket]:
    with store.read() as s:
        return metric_store.statistics(
            s, system_account_id(store), "AWS/ELB", name, dims, T0 - 600, T0 + 3600, 60
        )


def test_a_minute_of_requests_under_the_load_balancer_and_its_zone(store: Store) -> None:
    (wid,) = seed(store)
    pub = ElbMetricsPublisher()
    # 2 requests a second, one health sample a second seeing 2 healthy back ends.
    for k in range(0, 37):
        at = T0 + 5 * k
        n = 5 * k
        sample(store, wid, at, 2.0 * n, samples=n, healthy=2.0 * n)
        pub.run(store, at + 1)
    for dims in (BY_LB, [("AvailabilityZone", "one"), *BY_LB]):
        got = stats(store, "RequestCount", dims)
        assert [(b.timestamp, b.sum) for b in got] == [(T0, 120), (T0 + 60, 120), (T0 + 120, 120)]
    latency = stats(store, "Latency", BY_LB)
    assert [b.average for b in latency] == [pytest.approx(0.05)] * 3
    assert all(b.unit == "Seconds" for b in latency)
    assert [b.sum for b in stats(store, "HTTPCode_Backend_2XX", BY_LB)] == [120, 120, 120]
    assert [b.average for b in stats(store, "HealthyHostCount", BY_LB)] == [pytest.approx(2)] * 3
    assert [b.maximum for b in stats(store, "SurgeQueueLength", BY_LB)] == [3, 3, 3]
    # Nothing HAProxy answered itself: no such datapoints, as ELB sends none.
    assert stats(store, "HTTPCode_ELB_5XX", BY_LB) == []


def test_a_counter_going_back_is_a_restart_not_a_negative_minute(store: Store) -> None:
    (wid,) = seed(store)
    pub = ElbMetricsPublisher()
    sample(store, wid, T0, 1000)
    pub.run(store, T0 + 1)
    sample(store, wid, T0 + 30, 1060)
    pub.run(store, T0 + 31)
    # HAProxy reloaded at T0 + 40 (a new process, counters from zero): 20 requests since.
    sample(store, wid, T0 + 50, 20, started=T0 + 40, pid=2)
    pub.run(store, T0 + 51)
    sample(store, wid, T0 + 70, 60, started=T0 + 40, pid=2)
    pub.run(store, T0 + 71)
    sample(store, wid, T0 + 125, 170, started=T0 + 40, pid=2)
    pub.run(store, T0 + 126)
    got = stats(store, "RequestCount", BY_LB)
    assert all(b.sum >= 0 for b in got)
    # The new process counts from its start: its requests up to T0 + 60 in the first minute
    # (with the old process's last 30 s lost with its counters), then 2 a second.
    assert [b.timestamp for b in got] == [T0, T0 + 60]
    assert got[0].sum == pytest.approx(40, abs=1)
    assert got[1].sum == pytest.approx(120, abs=1)


def test_a_restarted_controller_neither_repeats_nor_skips_a_minute(store: Store) -> None:
    (wid,) = seed(store)
    for k in range(0, 37):
        at = T0 + 5 * k
        sample(store, wid, at, 10.0 * k)
        # A new publisher (a controller restarted) on every pass: only the rows remember.
        assert publish(ElbMetricsPublisher(), store, at + 1) >= 0
    got = stats(store, "RequestCount", BY_LB)
    assert [(b.timestamp, b.count, b.sum) for b in got] == [
        (T0, 1, 120), (T0 + 60, 1, 120), (T0 + 120, 1, 120)
    ]  # fmt: skip


def test_two_zones_add_up_under_the_load_balancer(store: Store) -> None:
    workers = seed(store, ("one", "two"))
    pub = ElbMetricsPublisher()
    for k in range(0, 13):
        at = T0 + 5 * k
        for wid in workers:
            sample(store, wid, at, 1.0 * 5 * k)
        pub.run(store, at + 1)
    assert [b.sum for b in stats(store, "RequestCount", BY_LB)] == [120]
    assert [b.sum for b in stats(store, "RequestCount", [("AvailabilityZone", "two"), *BY_LB])] == [
        60
    ]


def test_a_gone_worker_is_forgotten(store: Store) -> None:
    (wid,) = seed(store)
    pub = ElbMetricsPublisher()
    sample(store, wid, T0, 10)
    pub.run(store, T0 + 1)
    with store.session() as s:
        s.execute(delete(ElbWorker).where(ElbWorker.id == wid))
    pub.run(store, T0 + 10)
    with store.read() as s:
        assert s.scalars(select(ElbCounters.worker_id)).all() == []
        assert s.scalars(select(ElbMetricSource.worker_id)).all() == []
