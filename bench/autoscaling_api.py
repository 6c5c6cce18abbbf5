"""Auto Scaling's DescribeAutoScalingGroups over 100 groups of 10 instances each: mallee
(`mallee api` alone, fresh database) against moto server.

    .venv/bin/python bench/autoscaling_api.py [--seconds 5] [--groups 100] [--size 10]

Both servers on CPU 0, the load generator on CPU 1. The launch configuration and the groups
are made through boto3. moto starts each group's instances itself; `mallee api` runs no group
engine, so the bench writes the 1,000 `as_instances` rows the engine would have written (a
scale simulation: the figure is the API's reading and writing of them). Then one signed
DescribeAutoScalingGroups (the query protocol, as euca2ools sends it; MaxRecords 100) is
replayed by wrk over one keep-alive connection, so the figures are the servers', not
botocore's. The botocore ceiling (one boto3 call parsing the same answer) is printed too.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
import urllib.parse
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config

import replay
from servers import Server, start_mallee_api, start_moto, stop

IMAGE = "emi-0bec0001"


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


def store_of(tmp: Path) -> Any:
    from mallee.store import Store

    return Store(f"sqlite:///{tmp / 'mallee' / 'mallee.db'}")


def seed_image(tmp: Path, account: str) -> None:
    """An available machine image of the admin's account, as RegisterImage would leave it,
    and the instance types `mallee up` writes."""
    from mallee.services.ec2.instance_types import ensure_instance_types
    from mallee.store.tables.ec2 import Ec2Image

    store = store_of(tmp)
    ensure_instance_types(store)
    with store.session() as s:
        s.add(
            Ec2Image(
                id=IMAGE, account_id=account, name="bench", image_type="machine",
                location="bench/bench.manifest.xml", created_at=datetime.now(UTC),
            )
        )  # fmt: skip
    store.dispose()


def seed_instances(tmp: Path, size: int) -> None:
    """The rows the group engine writes for the instances it launched, all InService."""
    from sqlalchemy import select

    from mallee.store.tables.autoscaling import AsGroup, AsInstance

    store = store_of(tmp)
    with store.session() as s:
        for n, (gid, account, zones) in enumerate(
            s.execute(select(AsGroup.id, AsGroup.account_id, AsGroup.availability_zones))
        ):
            zone = zones.strip('[]"').split('"')[0]
            for k in range(size):
                s.add(
                    AsInstance(
                        instance_id=f"i-{n:08x}{k:09x}", group_id=gid, account_id=account,
                        zone=zone, lifecycle_state="InService", launch_configuration_name="lc",
                        instance_type="m1.small", launched_at=time.time(),
                    )
                )  # fmt: skip
    store.dispose()


def make(server: Server, tmp: Path, groups: int, size: int) -> None:
    auto = client(server, "autoscaling")
    if server.name == "mallee":
        account = client(server, "sts").get_caller_identity()["Account"]
        seed_image(tmp, account)
        image = IMAGE
        zone = client(server, "ec2").describe_availability_zones()["AvailabilityZones"][0]
        zone = zone["ZoneName"]
    else:
        image = client(server, "ec2").describe_images(Owners=["amazon"])["Images"][0]["ImageId"]
        zone = "us-east-1a"
    auto.create_launch_configuration(
        LaunchConfigurationName="lc", ImageId=image, InstanceType="m1.small"
    )
    # mallee's groups start empty (no engine here; their instances are written below).
    desired = 0 if server.name == "mallee" else size
    for n in range(groups):
        auto.create_auto_scaling_group(
            AutoScalingGroupName=f"group-{n:04d}", LaunchConfigurationName="lc",
            MinSize=0, MaxSize=size, DesiredCapacity=desired, AvailabilityZones=[zone],
            Tags=[{"Key": "team", "Value": "bench", "PropagateAtLaunch": True}],
        )  # fmt: skip
    if server.name == "mallee":
        seed_instances(tmp, size)
    found = auto.describe_auto_scaling_groups(MaxRecords=100)["AutoScalingGroups"]
    assert len(found) == min(groups, 100), len(found)
    assert all(len(g["Instances"]) == size for g in found), [len(g["Instances"]) for g in found]


def botocore_ceiling(server: Server) -> float:
    """Seconds one boto3 call takes end to end (botocore's parsing included)."""
    auto = client(server, "autoscaling")
    auto.describe_auto_scaling_groups(MaxRecords=100)
    start = time.perf_counter()
    for _ in range(3):
        auto.describe_auto_scaling_groups(MaxRecords=100)
    return (time.perf_counter() - start) / 3


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--groups", type=int, default=100)
    parser.add_argument("--size", type=int, default=10)
    args = parser.parse_args()
    os.sched_setaffinity(0, {1})
    body = urllib.parse.urlencode(
        {"Action": "DescribeAutoScalingGroups", "Version": "2011-01-01", "MaxRecords": "100"}
    )
    results: dict[str, tuple[replay.Run, float]] = {}
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        for name in ("mallee", "moto"):
            server = start_mallee_api(tmp) if name == "mallee" else start_moto()
            try:
                make(server, tmp, args.groups, args.size)
                script = replay.wrk_script(
                    server, "autoscaling", body, tmp / f"{name}.lua", region_of(server)
                )
                replay.wrk(server.url, script, 1, 1)  # warm-up
                run = replay.wrk(server.url, script, 1, args.seconds)
                results[name] = (run, botocore_ceiling(server))
            finally:
                stop(server)
    (m, m_boto), (o, o_boto) = results["mallee"], results["moto"]
    label = f"DescribeAutoScalingGroups ({args.groups} x {args.size}), calls/s"
    print(f"{'':52}{'mallee':>10}{'moto':>10}{'ratio':>8}")
    print(f"{label:52}{m.rps:10.1f}{o.rps:10.1f}{m.rps / o.rps:7.1f}x")
    print(f"{'  median latency, ms':52}{m.p50 * 1e3:10.1f}{o.p50 * 1e3:10.1f}")
    print(f"{'  one boto3 call (client ceiling), ms':52}{m_boto * 1e3:10.1f}{o_boto * 1e3:10.1f}")


if __name__ == "__main__":
    main()
