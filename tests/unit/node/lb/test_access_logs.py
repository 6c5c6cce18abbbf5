"""ELB access logs: HAProxy's lines in ELB's format, the objects' names and intervals, and a
spool on disk delivered by a new agent (as after a restart) into the bucket, once."""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import undefer

from mallee.cloud_identity import system_account_id
from mallee.node.lb import access_logs
from mallee.node.lb.access_logs import AccessLogs, due_groups, object_key
from mallee.node.lb.log_format import elb_line
from mallee.objectstore.backends.fs import FsBackend
from mallee.services.iam.bootstrap import ensure_system_account
from mallee.store import Store
from mallee.store.tables.elb import ElbListener, ElbLoadBalancer, ElbWorker
from mallee.store.tables.s3 import S3Bucket, S3Object

HTTP = ('H 1796665200.042 198.51.100.7 50123 10.0.0.2 8080 80 1 0 2 15 0 200 120 345 - - '
        '"GET /a/b?c=1 HTTP/1.1" "curl/8.0" "lb.example.com"')  # fmt: skip


def test_an_http_request_as_elb_logs_it() -> None:
    assert elb_line(HTTP, "web", "http") == (
        "2026-12-07T17:40:00.042000Z web 198.51.100.7:50123 10.0.0.2:8080 0.003000 0.015000 "
        '0.000000 200 200 120 345 "GET http://lb.example.com:80/a/b?c=1 HTTP/1.1" "curl/8.0" - -'
    )


def test_a_request_no_instance_answered_has_minus_one_times_and_no_backend_code() -> None:
    raw = ('H 1796665200.000 198.51.100.7 50123 - - 443 0 -1 -1 -1 0 503 80 217 '
           'ECDHE-RSA-AES128-GCM-SHA256 TLSv1.2 "GET / HTTP/1.1" "" "lb:443"')  # fmt: skip
    line = elb_line(raw, "web", "https")
    assert line is not None
    assert " - -1.000000 -1.000000 -1.000000 503 - 80 217 " in line
    assert line.endswith('"GET https://lb:443/ HTTP/1.1" "-" ECDHE-RSA-AES128-GCM-SHA256 TLSv1.2')


def test_a_tcp_connection_as_elb_logs_it() -> None:
    raw = 'T 1796665200.5 198.51.100.7 50123 10.0.0.2 22 22 0 0 3 0 900 0 10 20 - - "-" "-" "-"'
    assert elb_line(raw, "ssh", "http") == (
        "2026-12-07T17:40:00.500000Z ssh 198.51.100.7:50123 10.0.0.2:22 0.000000 0.003000 "
        '0.900000 - - 10 20 "- - - " "-" - -'
    )


def test_what_is_not_a_log_line_is_none() -> None:
    assert elb_line("<134>Dec  7 haproxy started", "web", "http") is None


def test_object_key_is_named_as_elb_names_it() -> None:
    end = dt.datetime(2026, 12, 7, 18, 5, tzinfo=dt.UTC).timestamp()
    key = object_key("logs/", "123456789012", "eucalyptus", "web", end, "203.0.113.9", "elbw-1")
    assert key.startswith(
        "logs/AWSLogs/123456789012/elasticloadbalancing/eucalyptus/2026/12/07/"
        "123456789012_elasticloadbalancing_eucalyptus_web_20261207T1805Z_203.0.113.9_"
    )
    # The same worker and interval name the same object (a delivery repeated overwrites it).
    assert key == object_key("logs", "123456789012", "eucalyptus", "web", end, "203.0.113.9",
                             "elbw-1")  # fmt: skip
    assert object_key("", "1", "r", "w", end, "ip", "elbw-1").startswith("AWSLogs/1/")


def test_due_groups_are_whole_intervals_past_their_end() -> None:
    minute = access_logs.MINUTE
    now = 120 * minute + access_logs.GRACE
    # 5-minute intervals: 110..114 ended at 115, 115..119 at 120, 120 is still open.
    assert due_groups([110, 114, 115, 119, 120], 5, now) == {115: [110, 114], 120: [115, 119]}
    # A 60-minute interval: 60..119 ended at 120; 125 is in the one ending at 180.
    assert due_groups([110, 119, 125], 60, now) == {120: [110, 119]}


def seed(store: Store, tmp: Path) -> tuple[str, Path]:
    ensure_system_account(store)
    account = system_account_id(store)
    now = dt.datetime.now(dt.UTC)
    with store.session() as s:
        s.add(S3Bucket(name="logs", account_id=account, region="eucalyptus", created_at=now))
        s.add(ElbLoadBalancer(id="abc", account_id=account, name="web", created_at=now,
                              dns_name="web.example", access_log_enabled=True,
                              access_log_bucket="logs", access_log_interval=5))  # fmt: skip
        s.flush()
        s.add(ElbListener(lb_id="abc", lb_port=80, protocol="HTTP", instance_port=80,
                          instance_protocol="HTTP"))  # fmt: skip
        s.add(ElbWorker(id="elbw-1", lb_id="abc", zone="one", node="n1",
                        public_ip="203.0.113.9", created_at=now))  # fmt: skip
    return account, tmp / "run" / "elbw-1"


def objects(store: Store) -> list[S3Object]:
    with store.read() as s:
        query = select(S3Object).where(S3Object.bucket == "logs")
        return list(s.scalars(query.options(undefer(S3Object.data))))


def test_a_spool_left_on_disk_is_delivered_once_by_a_new_agent(
    store: Store, tmp_path: Path
) -> None:
    account, run_dir = seed(store, tmp_path)
    spool = run_dir / access_logs.SPOOL
    spool.mkdir(parents=True)
    # Two minutes of one ended interval, written by an agent since gone; big enough for a blob.
    many = 400
    for m in (100, 101):
        (spool / f"{m}.log").write_text((HTTP + "\n") * many)
    data_dir = tmp_path / "data"
    assert AccessLogs(store, data_dir).deliver_due("elbw-1", run_dir) == 1
    (row,) = objects(store)
    assert row.account_id == account and row.is_latest
    assert row.data is None and row.blob_id is not None
    body = b"".join(FsBackend(data_dir / "objects").read(row.blob_id)).decode()
    lines = body.splitlines()
    assert len(lines) == 2 * many and lines[0] == elb_line(HTTP, "web", "http")
    assert row.size == len(body)
    assert list(spool.iterdir()) == []
    # Nothing left to deliver: no second object.
    assert AccessLogs(store, data_dir).deliver_due("elbw-1", run_dir) == 0
    assert len(objects(store)) == 1


def test_a_repeated_delivery_replaces_the_same_object(store: Store, tmp_path: Path) -> None:
    _, run_dir = seed(store, tmp_path)
    spool = run_dir / access_logs.SPOOL
    spool.mkdir(parents=True)
    logs = AccessLogs(store, tmp_path / "data")
    for _ in range(2):
        # As if the agent died after the object was written and before its files went.
        (spool / "100.log").write_text(HTTP + "\n")
        assert logs.deliver_due("elbw-1", run_dir) == 1
    (row,) = objects(store)
    assert row.data is not None and row.data.decode().count("\n") == 1


@pytest.mark.parametrize("bucket", ["", "missing"])
def test_without_a_bucket_nothing_is_written_and_the_spool_waits(
    store: Store, tmp_path: Path, bucket: str
) -> None:
    _, run_dir = seed(store, tmp_path)
    with store.session() as s:
        lb = s.get(ElbLoadBalancer, "abc")
        assert lb is not None
        lb.access_log_bucket = bucket
    spool = run_dir / access_logs.SPOOL
    spool.mkdir(parents=True)
    # Ten minutes ago: kept for a bucket to appear (a day, KEEP_UNDELIVERED).
    minute = int(time.time() // access_logs.MINUTE) - 10
    (spool / f"{minute}.log").write_text(HTTP + "\n")
    assert AccessLogs(store, tmp_path / "data").deliver_due("elbw-1", run_dir) == 0
    assert objects(store) == [] and (spool / f"{minute}.log").exists()
