"""mallee vs moto server: EC2 control plane (RunInstances rate, DescribeInstances at 1000).

mallee runs with the fake hypervisor (no VMs: this measures the api, controller and node agent
bookkeeping) and a node big enough for every instance. Both servers on CPU 0, client on CPU 1.
RunInstances is measured twice for mallee: with its controller and node agent on CPU 0 beside the
api (everything on the peer's one core), and with them on CPU 1 (as in a deployment, where the
node agent runs on the node host and the controller beside the database).

Usage: python bench/ec2_control_plane.py [--instances 1000] [--runs 1500]
"""

from __future__ import annotations

import argparse
import http.client
import os
import statistics
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config

from servers import Server, signed, start_mallee, start_moto, stop

FAKE_NODE = {
    "MALLEE_HYPERVISOR": "fake",
    "MALLEE_NODE_CORES": "100000",
    "MALLEE_NODE_MEMORY_MB": "100000000",
    "MALLEE_NODE_DISK_GB": "10000000",
    # Room for every instance the run makes: each needs an address of the node subnet.
    "MALLEE_NODE_SUBNET": "10.112.0.0/16",
}


def client(server: Server) -> Any:
    return boto3.client(
        "ec2",
        endpoint_url=server.url,
        region_name="eucalyptus" if server.name == "mallee" else "us-east-1",
        aws_access_key_id=server.access_key,
        aws_secret_access_key=server.secret_key,
        config=Config(retries={"max_attempts": 1}),
    )


def image_id(ec2: Any, server: Server) -> str:
    images = ec2.describe_images()["Images"] if server.name == "mallee" else []
    machine = [i for i in images if i["ImageId"].startswith("emi-")]
    if machine:
        return str(machine[0]["ImageId"])
    found = ec2.describe_images(Owners=["amazon"])["Images"]
    return str(found[0]["ImageId"])


def run_rate(server: Server, image: str, runs: int) -> tuple[float, float]:
    """Instances per second, one client sending RunInstances for one instance at a time: as
    acknowledged, and until every one of them is running (mallee's controller and node agent
    place and start them after the answer; moto's are running at once).

    The request is signed once and replayed over one keep-alive connection, so the figure is
    the server's, not boto3's (which spends a few ms per call on its own side).
    """
    body = (
        f"Action=RunInstances&Version=2016-11-15&ImageId={image}"
        "&MinCount=1&MaxCount=1&InstanceType=m1.small"
    )
    req = signed(server, "ec2", body, region_of(server))
    conn = http.client.HTTPConnection(server.url.removeprefix("http://"), timeout=60)
    start = time.perf_counter()
    for _ in range(runs):
        conn.request("POST", "/", body=req.body, headers=dict(req.headers.items()))
        resp = conn.getresponse()
        data = resp.read()
        if resp.status != 200:
            raise SystemExit(f"{server.name}: RunInstances answered {resp.status}: {data[:300]!r}")
    elapsed = time.perf_counter() - start
    conn.close()
    if server.name != "mallee":
        return runs / elapsed, runs / elapsed
    pending = [{"Name": "instance-state-name", "Values": ["pending"]}]
    ec2 = client(server)
    while ec2.describe_instances(Filters=pending, MaxResults=5)["Reservations"]:
        time.sleep(0.02)
    return runs / elapsed, runs / (time.perf_counter() - start)


def region_of(server: Server) -> str:
    return "eucalyptus" if server.name == "mallee" else "us-east-1"


def fill(ec2: Any, image: str, total: int) -> None:
    have = sum(len(r["Instances"]) for r in ec2.describe_instances()["Reservations"])
    while have < total:
        n = min(100, total - have)
        ec2.run_instances(ImageId=image, MinCount=n, MaxCount=n, InstanceType="m1.small")
        have += n


def settle(ec2: Any, timeout: float = 300) -> None:
    """Until no instance is pending: Describe is measured at rest, not against the node agent
    and the controller still writing 1000 launches (moto's are running at once)."""
    pending = [{"Name": "instance-state-name", "Values": ["pending"]}]
    deadline = time.monotonic() + timeout
    while ec2.describe_instances(Filters=pending, MaxResults=5)["Reservations"]:
        if time.monotonic() > deadline:
            raise SystemExit("instances still pending")
        time.sleep(1)
    # The node agent writes new instances' consoles every 5 s: let that pass too.
    time.sleep(6)


def describe_seconds(server: Server, repeats: int = 9) -> tuple[float, int]:
    """Server-side time of DescribeInstances: signed raw HTTP, response read, not parsed."""
    region = region_of(server)
    times = []
    size = 0
    for _ in range(repeats):
        req = signed(server, "ec2", "Action=DescribeInstances&Version=2016-11-15", region)
        http = urllib.request.Request(
            req.url, data=req.body, headers=dict(req.headers.items()), method="POST"
        )
        start = time.perf_counter()
        with urllib.request.urlopen(http, timeout=120) as resp:
            size = len(resp.read())
        times.append(time.perf_counter() - start)
    return statistics.median(times), size


def helpers_to_cpu(server: Server, cpu: int) -> None:
    """Pin mallee's controller and node agent processes (all their threads) to one CPU."""
    kids = subprocess.run(
        ["pgrep", "-P", str(server.proc.pid)], capture_output=True, text=True
    ).stdout.split()
    for pid in kids:
        subprocess.run(["taskset", "-a", "-p", "-c", str(cpu), pid], check=True,
                       capture_output=True)  # fmt: skip


def measure_launches(server: Server, runs: int) -> dict[str, float]:
    """On an empty cloud: RunInstances, everything on one core, then (mallee) spread."""
    ec2 = client(server)
    image = image_id(ec2, server)
    rate, running = run_rate(server, image, runs)
    spread = spread_running = 0.0
    if server.name == "mallee":
        helpers_to_cpu(server, 1)
        settle(ec2)
        spread, spread_running = run_rate(server, image, runs)
        helpers_to_cpu(server, 0)
    return {
        "run_rate": rate,
        "run_running": running,
        "run_rate_spread": spread,
        "run_running_spread": spread_running,
    }


def measure_describe(server: Server, instances: int, runs: int) -> dict[str, float]:
    """On a second server: DescribeInstances at exactly `instances` (in reservations of 100:
    moto answers at most 100 reservations a call), then RunInstances beside them."""
    ec2 = client(server)
    image = image_id(ec2, server)
    fill(ec2, image, instances)
    settle(ec2)
    seconds, size = describe_seconds(server)
    rate, running = run_rate(server, image, runs)
    return {
        "describe_s": seconds,
        "describe_kib": size / 1024,
        "run_rate_full": rate,
        "run_running_full": running,
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--instances", type=int, default=1000)
    # Long enough for the controller and node agent to keep pace or fall behind (a short burst
    # is answered before they start on it).
    ap.add_argument("--runs", type=int, default=1500)
    args = ap.parse_args()
    os.sched_setaffinity(0, {1})
    results: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory() as d:
        for n, name in enumerate(("mallee", "moto", "mallee", "moto")):
            here = Path(d) / str(n)
            server = start_mallee(here, **FAKE_NODE) if name == "mallee" else start_moto()
            try:
                time.sleep(2)
                got = (
                    measure_launches(server, args.runs)
                    if n < 2
                    else measure_describe(server, args.instances, args.runs)
                )
                results.setdefault(name, {}).update(got)
            finally:
                stop(server)
    m, t = results["mallee"], results["moto"]
    print(f"{'':40}{'mallee':>10}{'moto':>10}{'ratio':>9}")
    print(
        f"{'RunInstances, instances/s (1 conn)':40}{m['run_rate']:10.1f}{t['run_rate']:10.1f}"
        f"{m['run_rate'] / t['run_rate']:8.1f}x"
    )
    rows = [
        ("  until all running", m["run_running"], t["run_rate"]),
        ("  controller + node agent on CPU 1", m["run_rate_spread"], t["run_rate"]),
        ("    until all running", m["run_running_spread"], t["run_rate"]),
        (f"  beside {args.instances} instances", m["run_rate_full"], t["run_rate_full"]),
        ("    until all running", m["run_running_full"], t["run_rate_full"]),
    ]
    for label, value, peer in rows:
        print(f"{label:40}{value:10.1f}{peer:10.1f}{value / peer:8.1f}x")
    label = f"DescribeInstances, {args.instances} inst. (s)"
    print(
        f"{label:40}{m['describe_s']:10.3f}{t['describe_s']:10.3f}"
        f"{t['describe_s'] / m['describe_s']:8.1f}x"
    )
    print(f"{'  response size (KiB)':40}{m['describe_kib']:10.0f}{t['describe_kib']:10.0f}")


if __name__ == "__main__":
    main()
