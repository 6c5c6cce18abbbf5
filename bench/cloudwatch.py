"""CloudWatch metrics: mallee (`mallee api` alone, fresh database) against moto server.

    .venv/bin/python bench/cloudwatch.py [--seconds 5]

Both servers on CPU 0, this client on CPU 1. Every call is the query protocol (as euca2ools
and the AWS CLI v1 send it), signed once and replayed over one keep-alive connection, so the
figures are the servers', not botocore's:

- PutMetricData with 20 datapoints of one metric a call: calls per second;
- GetMetricStatistics over 14 days of one-minute data of one metric (20,160 points, loaded
  first in calls of 1000): the five statistics at a 15-minute period (1344 datapoints, under
  the 1440 a call may ask), median time of 21 calls; mallee also with p50/p99.
"""

from __future__ import annotations

import argparse
import datetime as dt
import http.client
import os
import statistics
import tempfile
import time
import urllib.parse
from pathlib import Path

from servers import Server, signed, start_mallee_api, start_moto, stop

NAMESPACE = "Bench"
DAY = 86400


def region_of(server: Server) -> str:
    return "eucalyptus" if server.name == "mallee" else "us-east-1"


def iso(t: float) -> str:
    return dt.datetime.fromtimestamp(t, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def put_body(metric: str, points: list[tuple[float, float]]) -> str:
    form = {"Action": "PutMetricData", "Version": "2010-08-01", "Namespace": NAMESPACE}
    for i, (t, v) in enumerate(points, 1):
        form[f"MetricData.member.{i}.MetricName"] = metric
        form[f"MetricData.member.{i}.Timestamp"] = iso(t)
        form[f"MetricData.member.{i}.Value"] = repr(v)
        form[f"MetricData.member.{i}.Unit"] = "Percent"
        form[f"MetricData.member.{i}.Dimensions.member.1.Name"] = "InstanceId"
        form[f"MetricData.member.{i}.Dimensions.member.1.Value"] = "i-12345678"
    return urllib.parse.urlencode(form)


class Replayer:
    """One keep-alive connection sending signed form POSTs."""

    def __init__(self, server: Server) -> None:
        self.server = server
        self.conn = http.client.HTTPConnection(server.url.removeprefix("http://"), timeout=120)

    def send(self, body: str) -> tuple[bytes, float]:
        req = signed(self.server, "monitoring", body, region_of(self.server))
        headers = dict(req.headers.items())
        return self.replay(req.body, headers)

    def replay(self, body: bytes, headers: dict[str, str]) -> tuple[bytes, float]:
        start = time.perf_counter()
        self.conn.request("POST", "/", body=body, headers=headers)
        resp = self.conn.getresponse()
        data = resp.read()
        took = time.perf_counter() - start
        if resp.status != 200:
            raise SystemExit(f"{self.server.name}: answered {resp.status}: {data[:400]!r}")
        return data, took


def cpu_seconds(pid: int) -> float:
    """User + system CPU of the server process and its children (uvicorn may fork)."""
    total = 0.0
    tick = os.sysconf("SC_CLK_TCK")
    pids = [pid] + [int(p) for p in os.popen(f"pgrep -P {pid}").read().split()]
    for p in pids:
        fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
        total += (int(fields[11]) + int(fields[12])) / tick
    return total


def put_rate(server: Server, seconds: float) -> tuple[float, float]:
    now = time.time()
    body = put_body("Load", [(now - 600 + i * 30, float(i)) for i in range(20)])
    req = signed(server, "monitoring", body, region_of(server))
    headers = dict(req.headers.items())
    r = Replayer(server)
    calls = 0
    cpu = cpu_seconds(server.proc.pid)
    start = time.perf_counter()
    while time.perf_counter() - start < seconds:
        r.replay(req.body, headers)
        calls += 1
    used = cpu_seconds(server.proc.pid) - cpu
    return calls / (time.perf_counter() - start), used / calls


def load_two_weeks(server: Server) -> float:
    """20,160 one-minute points ending now; returns the first point's time."""
    now = time.time()
    first = now - now % 60 - 20160 * 60 + 120
    r = Replayer(server)
    for chunk in range(0, 20160, 1000):
        points = [(first + i * 60, float(i % 100)) for i in range(chunk, min(chunk + 1000, 20160))]
        r.send(put_body("TwoWeeks", points))
    return first


def stats_time(server: Server, first: float, extended: bool = False) -> tuple[float, int]:
    start = first - first % 900
    form = {
        "Action": "GetMetricStatistics",
        "Version": "2010-08-01",
        "Namespace": NAMESPACE,
        "MetricName": "TwoWeeks",
        "Dimensions.member.1.Name": "InstanceId",
        "Dimensions.member.1.Value": "i-12345678",
        "StartTime": iso(start),
        "EndTime": iso(start + 14 * DAY),
        "Period": "900",
    }
    if extended:
        form["ExtendedStatistics.member.1"] = "p50"
        form["ExtendedStatistics.member.2"] = "p99"
    else:
        for i, name in enumerate(("SampleCount", "Average", "Sum", "Minimum", "Maximum"), 1):
            form[f"Statistics.member.{i}"] = name
    req = signed(server, "monitoring", urllib.parse.urlencode(form), region_of(server))
    headers = dict(req.headers.items())
    r = Replayer(server)
    times = []
    data = b""
    for _ in range(21):
        data, took = r.replay(req.body, headers)
        times.append(took)
    return statistics.median(times), data.count(b"<Timestamp>")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=5.0)
    args = parser.parse_args()
    os.sched_setaffinity(0, {1})
    results: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for make in (lambda: start_mallee_api(Path(tmp)), start_moto):
            server = make()
            try:
                rate, cpu = put_rate(server, args.seconds)
                first = load_two_weeks(server)
                took, points = stats_time(server, first)
                row = {"put": rate, "cpu": cpu, "stats": took, "points": points}
                if server.name == "mallee":
                    row["pct"], _ = stats_time(server, first, extended=True)
                results[server.name] = row
            finally:
                stop(server)
    m, o = results["mallee"], results["moto"]
    print(f"{'':44}{'mallee':>12}{'moto':>12}{'ratio':>8}")
    print(
        f"{'PutMetricData (20 points) calls/s':44}{m['put']:12.0f}{o['put']:12.0f}"
        f"{m['put'] / o['put']:7.1f}x"
    )
    print(f"{'  server CPU per call, ms':44}{m['cpu'] * 1000:12.2f}{o['cpu'] * 1000:12.2f}")
    print(
        f"{'GetMetricStatistics 14 d of 1-min data, ms':44}{m['stats'] * 1000:12.1f}"
        f"{o['stats'] * 1000:12.1f}{o['stats'] / m['stats']:7.1f}x"
    )
    print(f"{'  datapoints returned':44}{m['points']:12.0f}{o['points']:12.0f}")
    print(f"{'  the same with p50,p99 (mallee), ms':44}{m['pct'] * 1000:12.1f}")


if __name__ == "__main__":
    main()
