"""EBS: volume and snapshot timings on mallee, and DescribeVolumes at 1000 volumes vs moto.

mallee runs `mallee up` with the fake hypervisor (its storage agent and qemu-storage-daemon are
real; the guest is not, so AttachVolume is timed to `attached`, the node's hot-plug done: the
time until the disk is visible inside a real guest is printed by tests/vm/test_volumes.py).
The snapshot's 100 MiB are written straight into the volume's file, as a guest's writes land.
DescribeVolumes is measured server-side with wrk replaying one signed request (client on CPU 1,
servers on CPU 0), as bench/api_throughput.py does.

Guest sequential I/O runs on a second cloud with a real node (as root: namespaces): one TCG
guest writes then reads 256 MiB with dd and direct I/O on an overlay volume (NBD from the
storage host's qemu-storage-daemon) and on a local qcow2 disk its own QEMU opens (plugged over
its QMP socket), the two alternating; the volume's figure is compared with the local one.

Usage: python bench/ebs.py [--volumes 1000] [--seconds 5] [--guest-runs 3] [--no-guest]
       [--guest-only] [--daemon-cpu N]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import signal
import statistics
import subprocess
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
    ap.add_argument("--guest-runs", type=int, default=3)
    ap.add_argument("--no-guest", action="store_true", help="skip the guest I/O comparison")
    ap.add_argument("--guest-only", action="store_true", help="only the guest I/O comparison")
    # The storage host's daemon on a CPU of its own, as on a host apart from the node's.
    ap.add_argument("--daemon-cpu", type=int, default=None)
    args = ap.parse_args()
    if args.guest_only:
        print_guest_io(guest_io(args.guest_runs, args.daemon_cpu), args.guest_runs)
        return
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
    if not args.no_guest:
        print_guest_io(guest_io(args.guest_runs, args.daemon_cpu), args.guest_runs)


# --- guest sequential I/O: an overlay volume over NBD vs a local qcow2 disk -------------------

REAL_NODE = {"MALLEE_HYPERVISOR": "auto", "MALLEE_NODE_NAME": "bench-node"}
GUEST_MIB = 256
# The guest finds a disk by its serial (a volume's: its id without the dash).
FIND = (
    "D=; for i in $(seq 500); do for s in /sys/block/vd*/serial; do "
    '[ "$(cat $s 2>/dev/null)" = "{serial}" ] && D=/dev/$(basename $(dirname $s)); done; '
    '[ -n "$D" ] && break; sleep 0.02; done; [ -n "$D" ] || exit 7; '
)
LOCAL_SERIAL = "benchlocalqcow2"
# The guest's busybox dd prints no rate: the pass is timed by the guest's clock around it,
# the monotonic nanoseconds of /proc/timer_list read by shell builtins (~0.5 ms under TCG; a
# `cut` of /proc/uptime forked a process inside the pass and ticked in 10 ms, a tenth of a
# 256 MiB read from the page cache).
_CLOCK = (
    'ns() { while read -r n1 n2 n3 n4; do [ "$n1 $n2" = "now at" ] && { T=$n3; return; }; '
    "done < /proc/timer_list; }; "
)
_TIMED = re.compile(r"T (\d+) (\d+)")


def guest_run(netns: str, key: Path, ip: str, script: str, timeout: float = 300) -> str:
    argv = ["ip", "netns", "exec", netns, "ssh", "-i", str(key), "-o", "BatchMode=yes",
            "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
            "-o", "ConnectTimeout=3", "-o", "LogLevel=ERROR", f"root@{ip}", script]  # fmt: skip
    done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"guest said rc {done.returncode}: {done.stdout} {done.stderr}")
    return done.stdout + done.stderr


def dd_mb_s(netns: str, key: Path, ip: str, serial: str, write: bool) -> float:
    """MB/s (10^6 bytes) of one direct-I/O sequential pass over GUEST_MIB of the disk."""
    dd = (
        f"dd if=/dev/zero of=$D bs=1M count={GUEST_MIB} oflag=direct"
        if write
        else f"dd if=$D of=/dev/null bs=1M count={GUEST_MIB} iflag=direct"
    )
    timed = f"{_CLOCK}ns; a=$T; {dd} 2>/dev/null; ns; echo T $a $T"
    script = FIND.replace("{serial}", serial) + timed
    found = _TIMED.search(guest_run(netns, key, ip, script))
    if found is None:
        raise RuntimeError("the guest did not time its dd")
    return GUEST_MIB * MiB / ((int(found.group(2)) - int(found.group(1))) / 1e9) / 1e6


def plug_local_qcow2(qmp_path: Path, image: Path) -> None:
    """A second disk for the guest, a qcow2 file on the node opened by its own QEMU: the
    local disk the overlay volume is compared with (same bus, same host page cache)."""
    from mallee.qmp import Qmp

    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", str(image), "1G"], check=True)
    node: dict[str, Any] = {"node-name": "bench-local", "driver": "qcow2",
                            "file": {"driver": "file", "filename": str(image)}}  # fmt: skip
    with Qmp(qmp_path, timeout=15.0) as q:
        q.execute("blockdev-add", **node)
        q.execute("device_add", driver="virtio-blk-pci", id="bench-local-disk",
                  drive="bench-local", serial=LOCAL_SERIAL)  # fmt: skip


def guest_io(runs: int, daemon_cpu: int | None) -> dict[str, list[float]]:
    """Sequential write then read, direct I/O inside one guest, alternating the two disks."""
    import dataplanes
    from vm_boot import ec2_client, wait_for_node

    out: dict[str, list[float]] = {"nbd_write": [], "nbd_read": [], "local_write": [],
                                   "local_read": []}  # fmt: skip
    with tempfile.TemporaryDirectory() as d:
        data = Path(d) / "mallee"
        server = start_mallee(Path(d), **REAL_NODE)
        try:
            ec2 = ec2_client(server)
            wait_for_node(ec2)
            key = Path(d) / "key.pem"
            key.write_text(ec2.create_key_pair(KeyName="bench")["KeyMaterial"])
            key.chmod(0o600)
            run = ec2.run_instances(ImageId=default_image(ec2), MinCount=1, MaxCount=1,
                                    KeyName="bench")  # fmt: skip
            iid = run["Instances"][0]["InstanceId"]
            found: dict[str, Any] = {}

            def running() -> bool:
                i = ec2.describe_instances(InstanceIds=[iid])["Reservations"][0]["Instances"][0]
                found.update(i)
                return bool(i["State"]["Name"] == "running")

            wait(running, 180)
            ip = found["PrivateIpAddress"]
            netns = dataplanes.node_netns(data, REAL_NODE["MALLEE_NODE_NAME"])
            deadline = time.monotonic() + 180
            while True:
                try:
                    guest_run(netns, key, ip, "true", timeout=10)
                    break
                except (RuntimeError, subprocess.TimeoutExpired):
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(1)
            zone = ec2.describe_availability_zones()["AvailabilityZones"][0]["ZoneName"]
            volume_id = ec2.create_volume(Size=1, AvailabilityZone=zone)["VolumeId"]
            wait(lambda: state(ec2, volume_id)[0] == "available")
            ec2.attach_volume(VolumeId=volume_id, InstanceId=iid, Device="/dev/sdf")
            wait(lambda: state(ec2, volume_id) == ("in-use", ["attached"]), 60)
            if daemon_cpu is not None:
                pid = int((data / "volumes" / "run" / "qsd.pid").read_text())
                os.sched_setaffinity(pid, {daemon_cpu})
            qmp = data / "nodes" / REAL_NODE["MALLEE_NODE_NAME"] / "instances" / iid / "qmp.sock"
            plug_local_qcow2(qmp, data / "bench-local.qcow2")
            disks = {"nbd": volume_id.replace("-", ""), "local": LOCAL_SERIAL}
            for serial in disks.values():  # allocate every block once: the runs rewrite
                dd_mb_s(netns, key, ip, serial, write=True)
            for _ in range(runs):
                for name, serial in disks.items():
                    out[f"{name}_write"].append(dd_mb_s(netns, key, ip, serial, write=True))
                    out[f"{name}_read"].append(dd_mb_s(netns, key, ip, serial, write=False))
            out["sampled"] = volume_sample(data, volume_id)
        finally:
            stop(server)
            dataplanes.remove(data, REAL_NODE["MALLEE_NODE_NAME"])
            _end_vms(data)
            from mallee.storage.daemon import StorageDaemon

            StorageDaemon(data / "volumes" / "run").stop()
    return out


def _end_vms(data: Path, grace: float = 10.0) -> None:
    """The VMs of this data dir that outlived the SIGTERM dataplanes.remove sent them (a QEMU
    waiting on its NBD disk can take a while to exit) are killed before the dir goes."""
    deadline = time.monotonic() + grace
    while True:
        left = [
            int(proc.name)
            for proc in Path("/proc").iterdir()
            if proc.name.isdigit() and _cmdline(proc).startswith(b"qemu-system")
            and str(data).encode() in _cmdline(proc)
        ]  # fmt: skip
        if not left:
            return
        if time.monotonic() > deadline:
            for pid in left:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            deadline = time.monotonic() + grace
        time.sleep(0.2)


def _cmdline(proc: Path) -> bytes:
    try:
        return (proc / "cmdline").read_bytes()
    except OSError:
        return b""


def volume_sample(data: Path, volume_id: str) -> list[float]:
    """What the node last reported for the volume (VolumeCounters): MiB read and written."""
    from mallee.store import Store
    from mallee.store.tables.compute import VolumeCounters

    store = Store(f"sqlite:///{data / 'mallee.db'}")
    try:
        deadline = time.monotonic() + 15
        while True:
            with store.read() as s:
                row = s.get(VolumeCounters, volume_id)
                if row is not None and row.write_bytes > 0:
                    return [row.read_bytes / MiB, row.write_bytes / MiB,
                            float(row.read_ops), float(row.write_ops)]  # fmt: skip
            if time.monotonic() > deadline:
                return []
            time.sleep(0.5)
    finally:
        store.dispose()


def print_guest_io(io: dict[str, list[float]], runs: int) -> None:
    def med(key: str) -> float:
        return statistics.median(io[key])

    print(f"\nguest sequential I/O, dd bs=1M count={GUEST_MIB} direct, median of {runs} "
          f"(one TCG guest, MB/s):")  # fmt: skip
    print(f"{'':24}{'overlay over NBD':>18}{'local qcow2':>14}{'ratio':>8}{'target':>8}")
    for what in ("write", "read"):
        nbd, local = med(f"nbd_{what}"), med(f"local_{what}")
        print(f"{'sequential ' + what:24}{nbd:18.1f}{local:14.1f}{nbd / local:7.0%}{'>=70%':>9}")
    if io.get("sampled"):
        r, w, ro, wo = io["sampled"]
        print(f"  the volume as its node sampled it (VolumeCounters): read {r:.0f} MiB in "
              f"{ro:.0f} ops, wrote {w:.0f} MiB in {wo:.0f} ops")  # fmt: skip


if __name__ == "__main__":
    main()
