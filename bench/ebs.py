"""EBS: volume and snapshot timings on mallee, and DescribeVolumes at 1000 volumes vs moto.

mallee runs `mallee up` with the fake hypervisor (its storage agent and qemu-storage-daemon are
real; the guest is not, so AttachVolume is timed to `attached`, the node's hot-plug done: the
time until the disk is visible inside a real guest is printed by tests/vm/test_volumes.py).
The snapshot's 100 MiB are written straight into the volume's file, as a guest's writes land.
DescribeVolumes is measured server-side with wrk replaying one signed request (client on CPU 1,
servers on CPU 0), as bench/api_throughput.py does.

Usage: python bench/ebs.py [--volumes 1000] [--seconds 5]
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

from api_throughput import Result, wrk
from ec2_control_plane import FAKE_NODE
from servers import Server, signed, start_mallee, start_moto, stop

MiB = 1 << 20


def client(server: Server, region: str) -> Any:
    return boto3.client(
        "ec2",
        endpoint_url=server.url,
        region_name=region,
        aws_access_key_id=server.access_key,
        aws_secret_access_key=server.secret_key,
        config=Config(retries={"max_attempts": 0}),
    )


def wait(check: Callable[[], bool], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise SystemExit("timed out")
        time.sleep(0.005)


def state(ec2: Any, volume_id: str) -> tuple[str, list[str]]:
    v = ec2.describe_volumes(VolumeIds=[volume_id])["Volumes"][0]
    return v["State"], [a["State"] for a in v["Attachments"]]


def snapshot_state(ec2: Any, snapshot_id: str) -> str:
    return str(ec2.describe_snapshots(SnapshotIds=[snapshot_id])["Snapshots"][0]["State"])


def timed(action: Callable[[], Any], done: Callable[[Any], bool]) -> float:
    started = time.monotonic()
    made = action()
    wait(lambda: done(made))
    return time.monotonic() - started


def volume_timings(ec2: Any, zone: str, data: Path, repeat: int) -> dict[str, list[float]]:
    out: dict[str, list[float]] = {"create": [], "attach": [], "snap": [], "snap_live": []}
    instance = launch(ec2)
    wait(
        lambda: (
            ec2.describe_instances(InstanceIds=[instance])["Reservations"][0]["Instances"][0][
                "State"
            ]["Name"]
            == "running"
        )
    )
    payload = os.urandom(MiB)
    for i in range(repeat):
        one_round(ec2, zone, data, instance, f"/dev/sd{'fghijklmnop'[i]}", payload, out)
    return out


def one_round(
    ec2: Any,
    zone: str,
    data: Path,
    instance: str,
    device: str,
    payload: bytes,
    out: dict[str, list[float]],
) -> None:
    made: dict[str, str] = {}

    def create() -> str:
        made["id"] = ec2.create_volume(Size=1, AvailabilityZone=zone)["VolumeId"]
        return made["id"]

    out["create"].append(timed(create, lambda v: state(ec2, v)[0] == "available"))
    volume_id = made["id"]
    # 100 MiB of data in ten runs spread over the volume, as a file system would lay it out.
    with open(data / "volumes" / f"{volume_id}.raw", "r+b") as f:
        for run_no in range(10):
            f.seek(run_no * 97 * MiB)
            for _ in range(10):
                f.write(payload)
        f.flush()
        os.fsync(f.fileno())

    def snap() -> str:
        return str(ec2.create_snapshot(VolumeId=volume_id)["SnapshotId"])

    def completed(snapshot_id: str) -> bool:
        return snapshot_state(ec2, snapshot_id) == "completed"

    out["snap"].append(timed(snap, completed))
    out["attach"].append(
        timed(
            lambda: ec2.attach_volume(VolumeId=volume_id, InstanceId=instance, Device=device),
            lambda _: state(ec2, volume_id) == ("in-use", ["attached"]),
        )
    )
    out["snap_live"].append(timed(snap, completed))
    ec2.detach_volume(VolumeId=volume_id)
    wait(lambda: state(ec2, volume_id) == ("available", []))


def launch(ec2: Any) -> str:
    """One instance, once the node agent has registered its capacity."""
    deadline = time.monotonic() + 60
    while True:
        try:
            run = ec2.run_instances(ImageId=default_image(ec2), MinCount=1, MaxCount=1)
            return str(run["Instances"][0]["InstanceId"])
        except ClientError as err:
            if err.response["Error"]["Code"] != "InsufficientInstanceCapacity":
                raise
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def default_image(ec2: Any) -> str:
    images = ec2.describe_images(Filters=[{"Name": "image-type", "Values": ["machine"]}])
    return str(images["Images"][0]["ImageId"])


def describe_volumes(
    server: Server, ec2: Any, zone: str, region: str, count: int, seconds: int, tmp: Path
) -> tuple[Result, Result]:
    have = len(ec2.describe_volumes()["Volumes"])
    for _ in range(count - have):
        ec2.create_volume(Size=1, AvailabilityZone=zone)
    body = "Action=DescribeVolumes&Version=2016-11-15"
    req = signed(server, "ec2", body, region)
    script = tmp / f"{server.name}-volumes.lua"
    lines = ['wrk.method = "POST"', f'wrk.body = "{body}"']
    lines += [f'wrk.headers["{k}"] = "{v}"' for k, v in req.headers.items()]
    script.write_text("\n".join(lines) + "\n")
    assert len(ec2.describe_volumes()["Volumes"]) == count
    wrk(server.url, script, 2, 2)  # warm-up
    return wrk(server.url, script, 4, seconds), wrk(server.url, script, 1, seconds)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--volumes", type=int, default=1000)
    ap.add_argument("--seconds", type=int, default=5)
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    described: dict[str, tuple[Result, Result]] = {}
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        mallee = start_mallee(tmp, **FAKE_NODE)
        try:
            ec2 = client(mallee, "eucalyptus")
            zone = ec2.describe_availability_zones()["AvailabilityZones"][0]["ZoneName"]
            times = volume_timings(ec2, zone, tmp / "mallee", args.repeat)
            described["mallee"] = describe_volumes(
                mallee, ec2, zone, "eucalyptus", args.volumes, args.seconds, tmp
            )
        finally:
            stop(mallee)
        moto = start_moto()
        try:
            ec2 = client(moto, "us-east-1")
            described["moto"] = describe_volumes(
                moto, ec2, "us-east-1a", "us-east-1", args.volumes, args.seconds, tmp
            )
        finally:
            stop(moto)

    def med(values: list[float]) -> str:
        return f"{statistics.median(values):.3f} s (max {max(values):.3f})"

    print(f"median of {args.repeat}, mallee (fake hypervisor, real storage agent and daemon):")
    print(f"  CreateVolume 1 GiB -> available:                     {med(times['create'])}")
    print(f"  AttachVolume -> attached (node hot-plug done):       {med(times['attach'])}")
    print(f"  CreateSnapshot 1 GiB, 100 MiB written -> completed:  {med(times['snap'])}")
    print(f"  the same, attached (live backup) -> completed:       {med(times['snap_live'])}")
    m, t = described["mallee"], described["moto"]
    print(f"\nDescribeVolumes with {args.volumes} volumes{'mallee':>14}{'moto':>12}{'ratio':>10}")
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
