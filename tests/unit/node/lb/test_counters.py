"""A worker's counters from HAProxy's `show info;show stat`, and how the row moves sample by
sample: sums that follow the process, and a restart (a reload's new process) starting over."""

from __future__ import annotations

import pytest

from mallee.node.lb.counters import START_SLACK, Counters, Raw, advance, parse

HEADER = (
    "# pxname,svname,qcur,qmax,scur,smax,slim,stot,bin,bout,dreq,dresp,ereq,econ,eresp,wretr,"
    "wredis,status,weight,act,bck,chkfail,chkdown,lastchg,downtime,qlimit,pid,iid,sid,throttle,"
    "lbtot,tracked,type,rate,rate_lim,rate_max,check_status,check_code,check_duration,hrsp_1xx,"
    "hrsp_2xx,hrsp_3xx,hrsp_4xx,hrsp_5xx,hrsp_other,hanafail,req_rate,req_rate_max,req_tot,"
    "cli_abrt,srv_abrt,comp_in,comp_out,comp_byp,comp_rsp,lastsess,last_chk,last_agt,qtime,"
    "ctime,rtime,ttime"
)
COLUMNS = HEADER[2:].split(",")


def line(**values: object) -> str:
    return ",".join(str(values.get(c, "")) for c in COLUMNS)


def stat_text(*, requests: int, served: int, answered_503: int, queued: int = 0) -> str:
    """One HTTP listener on 80 whose back end `i-1` answered `served` 200s and whose HAProxy
    answered `answered_503` 503s itself; `hc` checks i-1 (up) and i-2 (down); a TCP listener
    on 22 took 3 connections."""
    info = "Name: HAProxy\nVersion: 2.6.12\nPid: 4242\nUptime_sec: 100\nStart_time_sec: 1000\n"
    rows = [
        line(pxname="l80", svname="FRONTEND", stot=requests, req_tot=requests,
             hrsp_2xx=served, hrsp_5xx=answered_503),
        line(pxname="l22", svname="FRONTEND", stot=3),
        line(pxname="b80", svname="i-1", stot=served, hrsp_2xx=served, econ=0, rtime=20),
        line(pxname="b80", svname="BACKEND", stot=requests, econ=2, qcur=queued, rtime=20),
        line(pxname="b22", svname="BACKEND", stot=3, econ=1, rtime=0),
        line(pxname="hc", svname="i-1", status="UP", check_status="L7OK"),
        line(pxname="hc", svname="i-2", status="DOWN", check_status="L4CON"),
        line(pxname="hc", svname="BACKEND", status="UP"),
    ]  # fmt: skip
    return info + "\n" + HEADER + "\n" + "\n".join(rows) + "\n\n"


def raw(pid: int = 1, started: float = 1000.0, requests: float = 0, healthy: int = 2,
        rtime: float = 0.0, queued: float = 0.0, b2: float = 0.0) -> Raw:  # fmt: skip
    return Raw(pid=pid, started_at=started, requests=requests, frontend_4xx=0, frontend_5xx=0,
               backend_2xx=b2, backend_3xx=0, backend_4xx=0, backend_5xx=0, connection_errors=0,
               rtime=rtime, queued=queued, healthy=healthy, unhealthy=0)  # fmt: skip


def test_parse_reads_requests_codes_errors_latency_queue_and_health() -> None:
    got = parse(stat_text(requests=10, served=8, answered_503=2, queued=4))
    assert (got.pid, got.started_at) == (4242, 1000.0)
    # HTTP requests plus the TCP listener's connections.
    assert got.requests == 13
    assert (got.frontend_5xx, got.backend_2xx, got.backend_5xx) == (2, 8, 0)
    assert got.connection_errors == 3
    # 20 ms weighted by the back ends' sessions: (20 * 10 + 0 * 3) / 13.
    assert got.rtime == pytest.approx(0.020 * 10 / 13)
    assert got.queued == 4
    assert (got.healthy, got.unhealthy) == (1, 1)


def test_parse_refuses_what_is_not_stats() -> None:
    with pytest.raises(ValueError):
        parse("Unknown command.\n")


def test_elb_codes_are_the_answers_no_server_gave() -> None:
    row = advance(None, parse(stat_text(requests=10, served=8, answered_503=2)), 1_000_000.0)
    assert (row.elb_5xx, row.backend_2xx) == (2, 8)


def test_sums_follow_the_samples_of_one_process() -> None:
    now = 6000.0
    first = advance(None, raw(requests=10, rtime=0.1), now)
    # A process first seen counts its requests so far at the latency it reports now.
    assert (first.requests, first.latency, first.samples, first.healthy) == (10, 1.0, 1, 2)
    second = advance(first, raw(requests=30, rtime=0.2, healthy=1), now + 1)
    assert second.requests == 30
    assert second.latency == pytest.approx(1.0 + 20 * 0.2)
    assert (second.samples, second.healthy) == (2, 3)
    assert second.started_at == first.started_at


def test_a_new_process_starts_every_sum_over() -> None:
    now = 6000.0
    old = advance(advance(None, raw(requests=100, rtime=0.1), now), raw(requests=150), now + 1)
    # A reload: another pid, counters from zero.
    new = advance(old, raw(pid=2, started=1500.0, requests=5, rtime=0.5, b2=5), now + 2)
    assert (new.pid, new.started_at, new.requests, new.samples) == (2, 1500.0, 5, 1)
    assert new.latency == pytest.approx(2.5)
    assert new.backend_2xx == 5


def test_a_counter_going_back_is_a_restart_even_under_the_same_pid() -> None:
    now = 6000.0
    old = advance(None, raw(requests=100), now)
    new = advance(old, raw(requests=4, started=1000.5), now + 1)
    assert (new.requests, new.samples) == (4, 1)
    # Its start moved past the slack, so the controller tells the two processes apart.
    assert new.started_at - old.started_at > START_SLACK


def test_surge_keeps_this_minute_and_the_last_ones_maximum() -> None:
    t = 6000.0  # a minute boundary
    row: Counters | None = None
    for at, queued in ((t, 3), (t + 20, 7), (t + 40, 1)):
        row = advance(row, raw(queued=queued), at)
    assert row is not None and (row.surge_minute, row.surge_max) == (t, 7)
    row = advance(row, raw(queued=2), t + 61)
    assert (row.surge_minute, row.surge_max, row.surge_prev) == (t + 60, 2, 7)
    # A minute with no sample: the one before the current is not the one remembered.
    row = advance(row, raw(queued=0), t + 185)
    assert (row.surge_minute, row.surge_max, row.surge_prev) == (t + 180, 0, 0)
