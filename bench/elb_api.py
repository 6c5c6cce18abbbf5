"""Classic ELB's DescribeLoadBalancers over 200 load balancers: mallee (`mallee api` alone,
fresh database) against moto server.

    .venv/bin/python bench/elb_api.py [--seconds 5] [--count 200]

Both servers on CPU 0, the load generator on CPU 1. The load balancers (one HTTP listener,
two tags each) are made through boto3; then one signed DescribeLoadBalancers (the query
protocol, as euca2ools sends it) is replayed by wrk over one keep-alive connection, so the
figures are the servers', not botocore's.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import urllib.parse
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config

import replay
from servers import Server, start_mallee_api, start_moto, stop


def region_of(server: Server) -> str:
    return "eucalyptus" if server.name == "mallee" else "us-east-1"


def client(server: Server, service: str) -> Any:
    return boto3.client(
        service,
        endpoint_url=server.url,
        region_name=region_of(server),
        aws_access_key_id=server.access_key,
        aws_secret_access_key=server.secret_key,
        config=Config(retries={"max_attempts": 1}),
    )


def allow_many(tmp: Path, count: int) -> None:
    """Raise the per-account quota (20, AWS's default) of the bench's cloud."""
    from mallee.registry import properties
    from mallee.store import Store

    store = Store(f"sqlite:///{tmp / 'mallee' / 'mallee.db'}")
    properties.set_value(store, "services.loadbalancing.max_loadbalancers_per_account", str(count))
    store.dispose()


def make(server: Server, count: int) -> None:
    elb = client(server, "elb")
    if server.name == "mallee":
        zone = client(server, "ec2").describe_availability_zones()["AvailabilityZones"][0]
        zones = [zone["ZoneName"]]
    else:
        zones = ["us-east-1a"]
    listener = {"Protocol": "HTTP", "LoadBalancerPort": 80, "InstanceProtocol": "HTTP",
                "InstancePort": 80}  # fmt: skip
    for n in range(count):
        elb.create_load_balancer(
            LoadBalancerName=f"lb-{n:04d}",
            Listeners=[listener],
            AvailabilityZones=zones,
            Tags=[{"Key": "team", "Value": "bench"}, {"Key": "n", "Value": str(n)}],
        )
    found = elb.describe_load_balancers(PageSize=400)["LoadBalancerDescriptions"]
    assert len(found) == count, len(found)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--count", type=int, default=200)
    args = parser.parse_args()
    os.sched_setaffinity(0, {1})
    body = urllib.parse.urlencode(
        {"Action": "DescribeLoadBalancers", "Version": "2012-06-01", "PageSize": "400"}
    )
    results: dict[str, tuple[float, float, int]] = {}
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        for name in ("mallee", "moto"):
            server = start_mallee_api(tmp) if name == "mallee" else start_moto()
            try:
                if name == "mallee":
                    allow_many(tmp, args.count)
                make(server, args.count)
                script = replay.wrk_script(
                    server, "elasticloadbalancing", body, tmp / f"{name}.lua", region_of(server)
                )
                replay.wrk(server.url, script, 1, 1)  # warm-up
                results[name] = replay.wrk(server.url, script, 1, args.seconds)
            finally:
                stop(server)
    m, o = results["mallee"], results["moto"]
    print(f"{'':48}{'mallee':>10}{'moto':>10}{'ratio':>8}")
    print(f"{f'DescribeLoadBalancers ({args.count} LBs), calls/s':48}"
          f"{m[0]:10.1f}{o[0]:10.1f}{m[0] / o[0]:7.1f}x")  # fmt: skip
    print(f"{'  median latency, ms':48}{m[1] * 1e3:10.1f}{o[1] * 1e3:10.1f}")


if __name__ == "__main__":
    main()
