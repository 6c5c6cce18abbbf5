"""VPC: DescribeSubnets and DescribeNetworkInterfaces with 1,000 entries each, on mallee and on
moto's server, side by side.

Issue #18 asks both with 1,000 entries to be at least 10x faster than moto. Each server gets
one VPC holding `--subnets` /28 subnets and one /22 subnet holding `--subnets` interfaces;
one signed request of each is replayed with wrk (client on CPU 1, servers on CPU 0), as
bench/ebs.py does for DescribeVolumes. mallee runs `mallee up` with the fake hypervisor.

Usage: python bench/vpc.py [--subnets 1000] [--seconds 5]
"""

from __future__ import annotations

import argparse
import ipaddress
import tempfile
from pathlib import Path
from typing import Any

from api_throughput import Result, wrk
from ebs import client
from ec2_control_plane import FAKE_NODE
from servers import Server, signed, start_mallee, start_moto, stop

Found = tuple[Result, Result, int]


def replay(server: Server, region: str, action: str, seconds: int, tmp: Path) -> list[Result]:
    body = f"Action={action}&Version=2016-11-15"
    req = signed(server, "ec2", body, region)
    script = tmp / f"{server.name}-{action}.lua"
    lines = ['wrk.method = "POST"', f'wrk.body = "{body}"']
    lines += [f'wrk.headers["{k}"] = "{v}"' for k, v in req.headers.items()]
    script.write_text("\n".join(lines) + "\n")
    wrk(server.url, script, 2, 2)  # warm-up
    return [wrk(server.url, script, 4, seconds), wrk(server.url, script, 1, seconds)]


def measure(
    server: Server, ec2: Any, region: str, count: int, seconds: int, tmp: Path
) -> dict[str, Found]:
    vpc = ec2.create_vpc(CidrBlock="10.200.0.0/16")["Vpc"]["VpcId"]
    blocks = ipaddress.IPv4Network("10.200.0.0/17").subnets(new_prefix=28)
    for _, block in zip(range(count), blocks, strict=False):
        ec2.create_subnet(VpcId=vpc, CidrBlock=str(block))
    wide = ec2.create_subnet(VpcId=vpc, CidrBlock="10.200.128.0/22")["Subnet"]["SubnetId"]
    for _ in range(count):
        ec2.create_network_interface(SubnetId=wide)
    subnets = len(ec2.describe_subnets()["Subnets"])
    interfaces = len(ec2.describe_network_interfaces()["NetworkInterfaces"])
    assert subnets > count and interfaces >= count, (subnets, interfaces)
    found: dict[str, Found] = {}
    for action, listed in (("DescribeSubnets", subnets), ("DescribeNetworkInterfaces", interfaces)):
        many, one = replay(server, region, action, seconds, tmp)
        found[action] = (many, one, listed)
    return found


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--subnets", type=int, default=1000)
    ap.add_argument("--seconds", type=int, default=5)
    args = ap.parse_args()
    found: dict[str, dict[str, Found]] = {}
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        mallee = start_mallee(tmp, **FAKE_NODE)
        try:
            ec2 = client(mallee, "eucalyptus")
            found["mallee"] = measure(mallee, ec2, "eucalyptus", args.subnets, args.seconds, tmp)
        finally:
            stop(mallee)
        moto = start_moto()
        try:
            ec2 = client(moto, "us-east-1")
            found["moto"] = measure(moto, ec2, "us-east-1", args.subnets, args.seconds, tmp)
        finally:
            stop(moto)
    for action in ("DescribeSubnets", "DescribeNetworkInterfaces"):
        m, t = found["mallee"][action], found["moto"][action]
        print(f"{action} ({m[2]} on mallee, {t[2]} on moto)")
        print(f"{'':38}{'mallee':>12}{'moto':>12}{'ratio':>10}")
        print(f"{'req/s (4 conns)':38}{m[0].rps:12.1f}{t[0].rps:12.1f}{m[0].rps / t[0].rps:9.1f}x")
        print(
            f"{'p50 ms (1 conn)':38}{m[1].p50_ms:12.1f}{t[1].p50_ms:12.1f}"
            f"{t[1].p50_ms / m[1].p50_ms:9.1f}x"
        )
        print(
            f"{'p99 ms (1 conn)':38}{m[1].p99_ms:12.1f}{t[1].p99_ms:12.1f}"
            f"{t[1].p99_ms / m[1].p99_ms:9.1f}x"
        )


if __name__ == "__main__":
    main()
