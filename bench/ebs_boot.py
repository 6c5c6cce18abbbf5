"""Boot from EBS on real VMs: RunInstances -> HTTP 200 from the guest, an EBS-backed image
beside the instance-store default image in the same cloud, alternating; then StopInstances ->
stopped and StartInstances -> HTTP 200 of the EBS-backed instance.

The EBS-backed image is made as tests/vm/test_boot_from_ebs.py makes one: the default image's
root disk written into a new volume's file (as its storage host keeps it, raw), snapshotted,
the volume deleted, and the snapshot registered with root device /dev/sda. Its instances boot
from a root volume created from that snapshot and served over NBD by the storage host's
qemu-storage-daemon. The guests are 128 MiB t1.micro instances, as in bench/vm_boot.py; each
is terminated, and its root volume gone, before the next boot, so the boots do not overlap.

moto boots nothing: the figures stand against the issue's target, EBS within 1 s of the
instance-store figure.

Usage: python bench/ebs_boot.py [--runs 5]   (as root: the node uses network namespaces)
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import dataplanes
from servers import start_mallee, stop
from vm_boot import GUEST_TYPE, REAL_NODE, ec2_client, in_ns, until, wait_for_node


def _instance(ec2: Any, instance_id: str) -> dict[str, Any]:
    found: dict[str, Any] = ec2.describe_instances(InstanceIds=[instance_id])["Reservations"][0][
        "Instances"
    ][0]
    return found


def _volume_state(ec2: Any, volume_id: str) -> str:
    found = ec2.describe_volumes(Filters=[{"Name": "volume-id", "Values": [volume_id]}])
    return str(found["Volumes"][0]["State"]) if found["Volumes"] else "gone"


def ebs_image(ec2: Any, data: Path) -> str:
    """An EBS-backed image of the default image's root disk (see the module's docstring)."""
    from mallee.images.default import default_image_paths

    image = default_image_paths(data / "images")
    if image is None:
        raise SystemExit(f"no default image in {data / 'images'}")
    zone = ec2.describe_availability_zones()["AvailabilityZones"][0]["ZoneName"]
    volume_id = ec2.create_volume(Size=1, AvailabilityZone=zone)["VolumeId"]
    until(lambda: _volume_state(ec2, volume_id) == "available", time.monotonic(), 60, "volume")
    raw = data / "volumes" / f"{volume_id}.raw"
    subprocess.run(
        ["qemu-img", "convert", "-n", "-f", "qcow2", "-O", "raw", str(image.root), str(raw)],
        check=True,
    )
    snapshot_id = ec2.create_snapshot(VolumeId=volume_id)["SnapshotId"]

    def completed() -> bool:
        found = ec2.describe_snapshots(SnapshotIds=[snapshot_id])["Snapshots"][0]
        return bool(found["State"] == "completed")

    until(completed, time.monotonic(), 120, "snapshot")
    ec2.delete_volume(VolumeId=volume_id)
    made = ec2.register_image(
        Name="bench-ebs",
        RootDeviceName="/dev/sda",
        BlockDeviceMappings=[{"DeviceName": "/dev/sda", "Ebs": {"SnapshotId": snapshot_id}}],
    )
    return str(made["ImageId"])


def _http(netns: str, ip: str) -> bool:
    return in_ns(netns, "curl", "-sf", "-m", "1", f"http://{ip}/")


def boot(ec2: Any, image: str, netns: str) -> tuple[str, str, float, float]:
    """Instance id, address, seconds RunInstances -> running and -> HTTP 200."""
    start = time.monotonic()
    iid = str(
        ec2.run_instances(ImageId=image, MinCount=1, MaxCount=1, InstanceType=GUEST_TYPE)[
            "Instances"
        ][0]["InstanceId"]
    )
    info: dict[str, Any] = {}

    def running() -> bool:
        info.update(_instance(ec2, iid))
        return bool(info["State"]["Name"] == "running")

    to_running = until(running, start, 180, "running")
    ip = str(info["PrivateIpAddress"])
    return iid, ip, to_running, until(lambda: _http(netns, ip), start, 180, "http")


def stop_start(ec2: Any, iid: str, netns: str) -> tuple[float, float]:
    """Seconds StopInstances -> stopped, then StartInstances -> HTTP 200 (at the address the
    started instance has, which a stop may have given back)."""
    start = time.monotonic()
    ec2.stop_instances(InstanceIds=[iid])
    to_stopped = until(
        lambda: _instance(ec2, iid)["State"]["Name"] == "stopped", start, 180, "stopped"
    )
    start = time.monotonic()
    ec2.start_instances(InstanceIds=[iid])
    info: dict[str, Any] = {}

    def running() -> bool:
        info.update(_instance(ec2, iid))
        return bool(info["State"]["Name"] == "running")

    until(running, start, 180, "running after start")
    ip = str(info["PrivateIpAddress"])
    return to_stopped, until(lambda: _http(netns, ip), start, 180, "http after start")


def terminate(ec2: Any, iid: str) -> None:
    """Terminate and wait until the instance and its root volume (if any) are gone."""
    volumes = [m["Ebs"]["VolumeId"] for m in _instance(ec2, iid).get("BlockDeviceMappings", [])]
    ec2.terminate_instances(InstanceIds=[iid])
    start = time.monotonic()
    until(lambda: _instance(ec2, iid)["State"]["Name"] == "terminated", start, 120, "terminated")
    for volume_id in volumes:
        until(lambda v=volume_id: _volume_state(ec2, v) in ("gone", "deleted"), start, 120)


def stats(values: list[float]) -> tuple[float, float]:
    """Median and p90 (nearest rank)."""
    ranked = sorted(values)
    return statistics.median(ranked), ranked[max(0, -(-9 * len(ranked) // 10) - 1)]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args()
    os.sched_setaffinity(0, {1})
    rows: dict[str, list[float]] = {k: [] for k in ("store", "ebs", "ebs_run", "stop", "start")}
    with tempfile.TemporaryDirectory() as d:
        data = Path(d) / "mallee"
        server = start_mallee(Path(d), **REAL_NODE)
        try:
            ec2 = ec2_client(server)
            wait_for_node(ec2)
            found = ec2.describe_images(Filters=[{"Name": "name", "Values": ["mallee-default"]}])
            store_image = found["Images"][0]["ImageId"]
            ec2.modify_instance_type_attribute(Name=GUEST_TYPE, Memory=128)
            image = ebs_image(ec2, data)
            netns = dataplanes.node_netns(data, REAL_NODE["MALLEE_NODE_NAME"])
            for _ in range(args.runs):
                iid, _ip, _, to_http = boot(ec2, store_image, netns)
                rows["store"].append(to_http)
                terminate(ec2, iid)
                iid, _ip, to_running, to_http = boot(ec2, image, netns)
                rows["ebs_run"].append(to_running)
                rows["ebs"].append(to_http)
                to_stopped, to_started = stop_start(ec2, iid, netns)
                rows["stop"].append(to_stopped)
                rows["start"].append(to_started)
                terminate(ec2, iid)
        finally:
            stop(server)
            dataplanes.remove(data, REAL_NODE["MALLEE_NODE_NAME"])
    print(f"{args.runs} runs, alternating, one 128 MiB TCG guest at a time (seconds)")
    print(f"{'':40}{'median':>9}{'p90':>9}")
    for key, label in (
        ("store", "instance-store: RunInstances -> HTTP 200"),
        ("ebs_run", "EBS-backed: RunInstances -> running"),
        ("ebs", "EBS-backed: RunInstances -> HTTP 200"),
        ("stop", "EBS-backed: StopInstances -> stopped"),
        ("start", "EBS-backed: StartInstances -> HTTP 200"),
    ):
        med, p90 = stats(rows[key])
        print(f"{label:40}{med:9.2f}{p90:9.2f}")
    diff = [e - s for e, s in zip(rows["ebs"], rows["store"], strict=True)]
    med, p90 = stats(diff)
    print(f"{'EBS minus instance-store, same run':40}{med:9.2f}{p90:9.2f}   target <= 1.00")
    print("runs:", {k: [round(v, 2) for v in vals] for k, vals in rows.items()})


if __name__ == "__main__":
    main()
