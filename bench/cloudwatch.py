"""CloudWatch metrics: mallee (`mallee api` alone, fresh database) against moto server.

    .venv/bin/python bench/cloudwatch.py [--seconds 5]

Both servers on CPU 0, the load generator on CPU 1. Every call is the query protocol (as
euca2ools and the AWS CLI v1 send it), signed once and replayed by wrk over keep-alive
connections, so the figures are the servers', not botocore's:

- PutMetricData with 20 datapoints of one metric a call: calls per second at 1 connection and
  at 8 (concurrent puts may share a commit), and the server's CPU per call;
- GetMetricStatistics over 14 days of one-minute data of one metric (20,160 points, loaded
  first in calls of 1000): the five statistics at a 15-minute period (1344 datapoints, under
  the 1440 a call may ask), wrk's median latency at 1 connection; mallee also with p50/p99.

The client's ceiling: the same wrk against a canned server (asyncio, CPU 0) answering every
request at once with a body of the size mallee answered: what wrk and the loopback take.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import http.client
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
from pathlib import Path

import replay
from servers import Server, free_port, signed, start_mallee_api, start_moto, stop

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


def wrk_script(server: Server, body: str, path: Path) -> Path:
    return replay.wrk_script(server, "monitoring", body, path, region_of(server))


def put_rate(server: Server, seconds: float, conns: int, tmp: Path) -> tuple[float, float]:
    """(calls/s, server CPU seconds per call)."""
    now = time.time()
    body = put_body(f"Load{conns}", [(now - 600 + i * 30, float(i)) for i in range(20)])
    script = wrk_script(server, body, tmp / f"{server.name}-put.lua")
    replay.wrk(server.url, script, conns, 1)  # warm-up: the model's first load, the first rows
    cpu = cpu_seconds(server.proc.pid)
    run = replay.wrk(server.url, script, conns, seconds)
    rps, done = run.rps, run.requests
    return rps, (cpu_seconds(server.proc.pid) - cpu) / done


def load_two_weeks(server: Server) -> float:
    """20,160 one-minute points ending now; returns the first point's time."""
    now = time.time()
    first = now - now % 60 - 20160 * 60 + 120
    r = Replayer(server)
    for chunk in range(0, 20160, 1000):
        points = [(first + i * 60, float(i % 100)) for i in range(chunk, min(chunk + 1000, 20160))]
        r.send(put_body("TwoWeeks", points))
    return first


def stats_form(first: float, extended: bool) -> str:
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
    return urllib.parse.urlencode(form)


def stats_time(
    server: Server, first: float, seconds: float, tmp: Path, extended: bool = False
) -> tuple[float, int, int]:
    """(median seconds at 1 connection, datapoints, answer's bytes)."""
    body = stats_form(first, extended)
    data, _ = Replayer(server).send(body)
    script = wrk_script(server, body, tmp / f"{server.name}-stats.lua")
    replay.wrk(server.url, script, 1, 1)  # warm-up
    p50 = replay.wrk(server.url, script, 1, seconds).p50
    return p50, data.count(b"<Timestamp>"), len(data)


def canned(port: int, size: int) -> None:
    """A server answering each request at once with `size` bytes (the client's ceiling)."""
    head = f"HTTP/1.1 200 OK\r\ncontent-length: {size}\r\n\r\n".encode()
    answer = head + b"x" * size

    class Answer(asyncio.Protocol):
        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            self.transport = transport
            self.buffer = b""

        def data_received(self, data: bytes) -> None:
            self.buffer += data
            while b"\r\n\r\n" in self.buffer:
                head, _, rest = self.buffer.partition(b"\r\n\r\n")
                length = re.search(rb"(?i)content-length:\s*(\d+)", head)
                need = int(length.group(1)) if length else 0
                if len(rest) < need:
                    return
                self.buffer = rest[need:]
                self.transport.write(answer)  # type: ignore[attr-defined]

    async def serve() -> None:
        server = await asyncio.get_running_loop().create_server(Answer, "127.0.0.1", port)
        await server.serve_forever()

    asyncio.run(serve())


def ceiling(body: str, size: int, conns: int, seconds: float, tmp: Path) -> tuple[float, float]:
    """(requests/s, median latency) of wrk against the canned server."""
    port = free_port()
    proc = subprocess.Popen(
        ["taskset", "-c", "0", sys.executable, __file__, "--canned", f"{port}:{size}"]
    )
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.time() + 30
        while time.time() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.05)
        fake = Server("canned", proc, url, "AKIAIOSFODNN7EXAMPLE", "x" * 40)
        run = replay.wrk(url, wrk_script(fake, body, tmp / "canned.lua"), conns, seconds)
        return run.rps, run.p50
    finally:
        proc.terminate()
        proc.wait()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--canned", default="")
    args = parser.parse_args()
    if args.canned:
        port, size = args.canned.split(":")
        canned(int(port), int(size))
        return
    os.sched_setaffinity(0, {1})
    results: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        for make in (lambda: start_mallee_api(tmp), start_moto):
            server = make()
            try:
                row: dict[str, float] = {}
                row["put1"], row["cpu1"] = put_rate(server, args.seconds, 1, tmp)
                row["put8"], row["cpu8"] = put_rate(server, args.seconds, 8, tmp)
                first = load_two_weeks(server)
                row["stats"], points, size = stats_time(server, first, args.seconds, tmp)
                row["points"], row["bytes"] = points, size
                if server.name == "mallee":
                    row["pct"], _, _ = stats_time(server, first, args.seconds, tmp, True)
                results[server.name] = row
            finally:
                stop(server)
        m, o = results["mallee"], results["moto"]
        put = put_body("Load", [(time.time() - 600 + i * 30, float(i)) for i in range(20)])
        c_put1 = ceiling(put, 0, 1, args.seconds, tmp)
        c_put8 = ceiling(put, 0, 8, args.seconds, tmp)
        c_stats = ceiling(stats_form(time.time() - 14 * DAY, False), int(m["bytes"]), 1, 2, tmp)
    print(f"{'':46}{'mallee':>10}{'moto':>10}{'ratio':>8}{'client':>10}")

    def line(label: str, a: float, b: float, ratio: float, ceil: float, fmt: str) -> None:
        print(f"{label:46}{a:10{fmt}}{b:10{fmt}}{ratio:7.1f}x{ceil:10{fmt}}")

    for n in (1, 8):
        c = c_put1 if n == 1 else c_put8
        line(f"PutMetricData (20 points) calls/s, {n} conn", m[f"put{n}"], o[f"put{n}"],
             m[f"put{n}"] / o[f"put{n}"], c[0], ".0f")  # fmt: skip
        cpu_m, cpu_o = m[f"cpu{n}"] * 1e3, o[f"cpu{n}"] * 1e3
        print(f"{'  server CPU per call, ms':46}{cpu_m:10.2f}{cpu_o:10.2f}")
    line("GetMetricStatistics 14 d of 1-min data, ms", m["stats"] * 1e3, o["stats"] * 1e3,
         o["stats"] / m["stats"], c_stats[1] * 1e3, ".1f")  # fmt: skip
    print(f"{'  datapoints returned':46}{m['points']:10.0f}{o['points']:10.0f}")
    print(f"{'  answer, KiB':46}{m['bytes'] / 1024:10.0f}{o['bytes'] / 1024:10.0f}")
    print(f"{'  the same with p50,p99 (mallee), ms':46}{m['pct'] * 1e3:10.1f}")
    print("(client: wrk against a canned server answering at once, the figures' ceiling)")


if __name__ == "__main__":
    main()
