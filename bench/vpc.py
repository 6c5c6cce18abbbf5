"""VPC: DescribeSubnets with 1,000 subnets on mallee and on moto's server, side by side.

Issue #18 asks DescribeSubnets with 1,000 entries to be at least 10x faster than moto. Each
server gets one VPC holding `--subnets` /28 subnets; one signed DescribeSubnets request is
replayed with wrk (client on CPU 1, servers on CPU 0), as bench/ebs.py does for
DescribeVolumes. mallee runs `mallee up` with the fake hypervisor.

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


def describe_subnets(
    server: Server, ec2: Any, region: str, count: int, seconds: int, tmp: Path
) -> tuple[Result, Result, int]:
    vpc = ec2.create_vpc(CidrBlock="10.200.0.0/16")["Vpc"]["VpcId"]
    blocks = ipaddress.IPv4Network("10.200.0.0/16").subnets(new_prefix=28)
    for _, block in zip(range(count), blocks, strict=False):
        ec2.create_subnet(VpcId=vpc, CidrBlock=str(block))
    body = "Action=DescribeSubnets&Version=2016-11-15"
    req = signed(server, "ec2", body, region)
    script = tmp / f"{server.name}-subnets.lua"
    lines = ['wrk.method = "POST"', f'wrk.body = "{body}"']
    lines += [f'wrk.headers["{k}"] = "{v}"' for k, v in req.headers.items()]
    script.write_text("\n".join(lines) + "\n")
    listed = len(ec2.describe_subnets()["Subnets"])
    assert listed >= count, listed
    wrk(server.url, script, 2, 2)  # warm-up
    return wrk(server.url, script, 4, seconds), wrk(server.url, script, 1, seconds), listed


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--subnets", type=int, default=1000)
    ap.add_argument("--seconds", type=int, default=5)
    args = ap.parse_args()
    found: dict[str, tuple[Result, Result, int]] = {}
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        mallee = start_mallee(tmp, **FAKE_NODE)
        try:
            ec2 = client(mallee, "eucalyptus")
            found["mallee"] = describe_subnets(
                mallee, ec2, "eucalyptus", args.subnets, args.seconds, tmp
            )
        finally:
            stop(mallee)
        moto = start_moto()
        try:
            ec2 = client(moto, "us-east-1")
            found["moto"] = describe_subnets(
                moto, ec2, "us-east-1", args.subnets, args.seconds, tmp
            )
        finally:
            stop(moto)
    m, t = found["mallee"], found["moto"]
    print(f"DescribeSubnets ({m[2]} subnets on mallee, {t[2]} on moto)")
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
