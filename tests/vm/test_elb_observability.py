"""A real worker's requests become AWS/ELB metrics and access logs: HAProxy in its namespace
in front of two back ends (built as in test_elb_workers), the node's counters written from its
stats socket and the controller's publisher storing them as one-minute statistics; its access
log lines delivered into the load balancer's bucket as ELB writes them."""

from __future__ import annotations

import datetime as dt
import re
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import select

from mallee.cloud_identity import system_account_id
from mallee.controller.elb_metrics import ElbMetricsPublisher
from mallee.metrics import store as metric_store
from mallee.metrics.points import Bucket
from mallee.node.lb import access_logs
from mallee.node.lb.workers import ElbWorkers
from mallee.store import Store
from mallee.store.tables.elb import ElbCounters, ElbLoadBalancer, ElbWorker, bump_elb
from mallee.store.tables.s3 import S3Bucket, S3Object
from tests.vm.test_elb_workers import (
    CLOUD,
    GATEWAY,
    PREFIX,
    WORKER_IP,
    ZONE,
    FakeNode,
    cloud,
    get,
    health,
    seed,
    sh,
    wait_for,
)

pytestmark = pytest.mark.vm

__all__ = ["cloud"]  # the fixture, used by name
REQUESTS = 7
BY_LB = [("LoadBalancerName", "web")]


def counted(store: Store, worker_id: str) -> float:
    with store.read() as s:
        row = s.scalar(select(ElbCounters.requests).where(ElbCounters.worker_id == worker_id))
    return float(row or 0.0)


def buckets(store: Store, name: str, dims: list[tuple[str, str]]) -> list[Bucket]:
    now = time.time()
    with store.read() as s:
        return metric_store.statistics(
            s, system_account_id(store), "AWS/ELB", name, dims, now - 900, now + 60, 60
        )


def test_requests_through_a_worker_are_published_as_request_count(
    store: Store, tmp_path: Path, cloud: tuple[str, list[FakeNode]]
) -> None:
    pub, nodes = cloud
    me = f"{PREFIX}me"
    _, worker_id, _ = seed(store, nodes, me)
    workers = ElbWorkers(store, cloud_id=CLOUD, node_name=me, data_dir=tmp_path / "data",
                         pem_source=lambda s, arn: None)  # fmt: skip
    publisher = ElbMetricsPublisher()
    stop = threading.Event()
    thread = threading.Thread(target=workers.run, args=(stop,), daemon=True)
    thread.start()
    try:
        wait_for(
            "the worker to run with both back ends in service",
            lambda: (
                _state(store, worker_id) == "running"
                and {v[0] for v in health(store, worker_id).values()} == {"InService"}
                and len(health(store, worker_id)) == 2
            ),
        )
        # The publisher sees the worker's process before any request: it counts from there.
        wait_for("the worker's first counters", lambda: _sampled(store, worker_id))
        publisher.run(store, time.time())
        answers = [get(pub) for _ in range(REQUESTS)]
        assert set(answers) == {n.name for n in nodes}
        wait_for("the node to count the requests", lambda: counted(store, worker_id) == REQUESTS)

        def published() -> bool:
            publisher.run(store, time.time())
            return sum(b.sum for b in buckets(store, "RequestCount", BY_LB)) >= REQUESTS

        # The minute the requests fell in closes, and a sample after its end publishes it.
        wait_for("RequestCount published", published, timeout=150.0)
        by_lb = buckets(store, "RequestCount", BY_LB)
        by_zone = buckets(store, "RequestCount", [("AvailabilityZone", ZONE), *BY_LB])
        assert sum(b.sum for b in by_lb) == REQUESTS
        assert [(b.timestamp, b.sum) for b in by_zone] == [(b.timestamp, b.sum) for b in by_lb]
        assert sum(b.sum for b in buckets(store, "HTTPCode_Backend_2XX", BY_LB)) == REQUESTS
        latency = buckets(store, "Latency", BY_LB)
        assert latency and all(b.unit == "Seconds" and b.minimum >= 0 for b in latency)
        # Each sample sees both back ends, in service or not yet: the averages add up to 2.
        healthy = buckets(store, "HealthyHostCount", BY_LB)
        unhealthy = {b.timestamp: b.average for b in buckets(store, "UnHealthyHostCount", BY_LB)}
        assert healthy and all(0 < b.average <= 2 for b in healthy)
        assert [b.average + unhealthy[b.timestamp] for b in healthy] == [pytest.approx(2)] * len(
            healthy
        )
    finally:
        stop.set()
        thread.join(10)
        workers.stop(worker_id)


def _state(store: Store, worker_id: str) -> str | None:
    with store.read() as s:
        return s.scalar(select(ElbWorker.state).where(ElbWorker.id == worker_id))


def _sampled(store: Store, worker_id: str) -> bool:
    with store.read() as s:
        return s.get(ElbCounters, worker_id) is not None


def test_access_logs_reach_the_bucket_in_elb_format(
    store: Store, tmp_path: Path, cloud: tuple[str, list[FakeNode]], monkeypatch: pytest.MonkeyPatch
) -> None:
    pub, nodes = cloud
    # Intervals of five 1-second "minutes": an object every 5 s.
    monkeypatch.setattr(access_logs, "MINUTE", 1.0)
    me = f"{PREFIX}me"
    lb_id, worker_id, _ = seed(store, nodes, me)
    account = system_account_id(store)
    with store.session() as s:
        s.add(S3Bucket(name="elb-logs", account_id=account, region="eucalyptus",
                       created_at=dt.datetime.now(dt.UTC)))  # fmt: skip
        lb = s.get(ElbLoadBalancer, lb_id)
        assert lb is not None
        lb.access_log_enabled, lb.access_log_bucket = True, "elb-logs"
        lb.access_log_prefix, lb.access_log_interval = "web/", 5
        bump_elb(s)
    workers = ElbWorkers(store, cloud_id=CLOUD, node_name=me, data_dir=tmp_path / "data",
                         pem_source=lambda s, arn: None)  # fmt: skip
    stop = threading.Event()
    thread = threading.Thread(target=workers.run, args=(stop,), daemon=True)
    thread.start()
    try:
        wait_for(
            "the worker to run with both back ends in service",
            lambda: (
                _state(store, worker_id) == "running"
                and {v[0] for v in health(store, worker_id).values()} == {"InService"}
                and len(health(store, worker_id)) == 2
            ),
        )
        for _ in range(3):
            sh(pub, "curl", "-s", "-m", "5", "-A", "probe/1.0", f"http://{WORKER_IP}/x?y=1")
        wait_for("three lines delivered", lambda: len(_logged(store)) >= 3)
        keys = _keys(store)
        assert keys and all(
            re.fullmatch(
                rf"web/AWSLogs/{account}/elasticloadbalancing/eucalyptus/\d{{4}}/\d\d/\d\d/"
                rf"{account}_elasticloadbalancing_eucalyptus_web_\d{{8}}T\d{{4}}Z_"
                rf"{re.escape(WORKER_IP)}_[0-9a-f]{{8}}\.log",
                k,
            )
            for k in keys
        ), keys
        lines = _logged(store)
        assert len(lines) == 3
        backends = {f"{n.instance_ip}:8080" for n in nodes}
        for line in lines:
            found = re.fullmatch(
                r"(\S+Z) web (\S+):\d+ (\S+) ([\d.]+) ([\d.]+) ([\d.]+) 200 200 \d+ \d+ "
                r'"GET http://203\.0\.113\.150:80/x\?y=1 HTTP/1\.1" "probe/1\.0" - -',
                line,
            )
            assert found, line
            assert found.group(2) == GATEWAY and found.group(3) in backends
            dt.datetime.strptime(found.group(1), "%Y-%m-%dT%H:%M:%S.%fZ")
        with store.read() as s:
            owners = set(
                s.scalars(select(S3Object.account_id).where(S3Object.bucket == "elb-logs"))
            )
        assert owners == {account}
    finally:
        stop.set()
        thread.join(10)
        workers.stop(worker_id)
        workers.access_logs.close()


def _keys(store: Store) -> list[str]:
    with store.read() as s:
        return list(s.scalars(select(S3Object.key).where(S3Object.bucket == "elb-logs")))


def _logged(store: Store) -> list[str]:
    with store.read() as s:
        bodies = s.scalars(select(S3Object.data).where(S3Object.bucket == "elb-logs")).all()
    return [line for body in bodies for line in (body or b"").decode().splitlines()]
