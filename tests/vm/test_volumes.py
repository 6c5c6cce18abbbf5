"""EBS volumes on real VMs: a volume made by the storage agent, exported over NBD by its
qemu-storage-daemon, hot-plugged into a running guest, written there (a file system and a
file), detached, attached to a second instance, and read back; snapshotted while attached
(also with the storage agent killed mid-snapshot), and a volume made from the snapshot read in
the other instance."""

from __future__ import annotations

import contextlib
import re
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from mallee.storage.daemon import StorageDaemon
from tests.vm.cloud import VmCloud, start_vm_cloud, wait_until
from tests.vm.test_ec2_vms import all_in, default_image, ssh

pytestmark = [pytest.mark.vm, pytest.mark.timeout(900)]

# The guest finds a volume by its disk's serial: the volume id without its dash.
FIND = (
    "D=; for i in $(seq 100); do for s in /sys/block/vd*/serial; do "
    '[ "$(cat $s 2>/dev/null)" = "{serial}" ] && D=/dev/$(basename $(dirname $s)); done; '
    '[ -n "$D" ] && break; sleep 0.02; done; [ -n "$D" ] || exit 7; '
)


@pytest.fixture(scope="module")
def vmcloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[VmCloud]:
    made = start_vm_cloud(tmp_path_factory.mktemp("volcloud"))
    cloud = next(made)
    cloud.start("storage")
    try:
        yield cloud
    finally:
        cloud.stop("storage")
        with contextlib.suppress(StopIteration):
            next(made)
        StorageDaemon(cloud.data_dir / "volumes" / "run").stop()


def _serial(volume_id: str) -> str:
    return volume_id.replace("-", "")


def _state(ec2: Any, volume_id: str) -> tuple[str, list[str]]:
    v = ec2.describe_volumes(VolumeIds=[volume_id])["Volumes"][0]
    return v["State"], [a["State"] for a in v["Attachments"]]


def _guest(netns: str, key: Path, ip: str, script: str) -> str:
    done = ssh(netns, key, ip, script)
    assert done.returncode == 0, f"rc {done.returncode}: {done.stdout} {done.stderr}"
    return done.stdout


@dataclass(frozen=True)
class Pair:
    """Two running instances the tests reach over SSH."""

    ids: list[str]
    ips: dict[str, str]
    key: Path
    netns: str


@pytest.fixture(scope="module")
def pair(vmcloud: VmCloud, tmp_path_factory: pytest.TempPathFactory) -> Pair:
    ec2 = vmcloud.client("ec2")
    name = f"key-{uuid.uuid4().hex[:6]}"
    key = tmp_path_factory.mktemp("keys") / "key.pem"
    key.write_text(ec2.create_key_pair(KeyName=name)["KeyMaterial"])
    key.chmod(0o600)
    run = ec2.run_instances(ImageId=default_image(ec2), MinCount=2, MaxCount=2, KeyName=name)
    ids = [i["InstanceId"] for i in run["Instances"]]
    found = wait_until(lambda: all_in(ec2, ids, "running"), 120)
    ips = {i["InstanceId"]: i["PrivateIpAddress"] for i in found}
    netns = vmcloud.netns()
    for iid in ids:
        wait_until(lambda i=iid: ssh(netns, key, ips[i], "true").returncode == 0 or None, 180)
    return Pair(ids, ips, key, netns)


def test_volume_moves_between_instances_with_its_data(vmcloud: VmCloud, pair: Pair) -> None:
    ec2 = vmcloud.client("ec2")
    ids, ips, key, netns = pair.ids, pair.ips, pair.key, pair.netns

    started = time.monotonic()
    volume_id = ec2.create_volume(Size=1, AvailabilityZone="one")["VolumeId"]
    wait_until(lambda: _state(ec2, volume_id)[0] == "available" or None, 30, interval=0.02)
    created = time.monotonic() - started
    find = FIND.replace("{serial}", _serial(volume_id))

    first, second = ids
    started = time.monotonic()
    ec2.attach_volume(VolumeId=volume_id, InstanceId=first, Device="/dev/sdf")
    # Seen from inside the guest: the loop there polls sysfs every 20 ms.
    _guest(netns, key, ips[first], find + "echo $D")
    visible = time.monotonic() - started
    wait_until(lambda: _state(ec2, volume_id) == ("in-use", ["attached"]) or None, 30)
    proof = f"written by {first} {uuid.uuid4().hex}"
    out = _guest(
        netns, key, ips[first],
        find + f"mke2fs -q $D && mkdir -p /mnt/v && mount $D /mnt/v && "
        f"echo '{proof}' > /mnt/v/proof.txt && sync && umount /mnt/v && echo written",
    )  # fmt: skip
    assert "written" in out

    # Both agents killed and started again: the storage agent adopts its NBD server, the node
    # reads from the VM what it has plugged; neither does anything twice.
    for component in ("storage", "node"):
        vmcloud.kill(component)
        vmcloud.start(component)
    time.sleep(2)
    assert _state(ec2, volume_id) == ("in-use", ["attached"])
    _guest(netns, key, ips[first], find + f"dd if=$D of=/dev/null bs=4k count=1 && echo {first}")

    ec2.detach_volume(VolumeId=volume_id)
    wait_until(lambda: _state(ec2, volume_id) == ("available", []) or None, 60)
    gone = _guest(netns, key, ips[first], f"cat /sys/block/vd*/serial; echo; echo {first}")
    assert _serial(volume_id) not in gone

    ec2.attach_volume(VolumeId=volume_id, InstanceId=second, Device="/dev/sdg")
    read = _guest(
        netns, key, ips[second],
        find + "mkdir -p /mnt/v && mount $D /mnt/v && cat /mnt/v/proof.txt && umount /mnt/v",
    )  # fmt: skip
    assert proof in read
    print(f"\nCreateVolume 1 GiB -> available: {created:.3f} s; "
          f"AttachVolume -> visible in the guest: {visible:.3f} s")  # fmt: skip

    ec2.detach_volume(VolumeId=volume_id)
    wait_until(lambda: _state(ec2, volume_id) == ("available", []) or None, 60)
    ec2.delete_volume(VolumeId=volume_id)
    assert not (vmcloud.data_dir / "volumes" / f"{volume_id}.raw").exists() or wait_until(
        lambda: not (vmcloud.data_dir / "volumes" / f"{volume_id}.raw").exists() or None, 30
    )


def _md5(output: str) -> str:
    """The checksum md5sum printed (mke2fs may print before it)."""
    found = re.search(r"^([0-9a-f]{32})\s", output, re.M)
    assert found, output
    return found.group(1)


def _snapshot_state(ec2: Any, snapshot_id: str) -> tuple[str, str]:
    s = ec2.describe_snapshots(SnapshotIds=[snapshot_id])["Snapshots"][0]
    return s["State"], s["Progress"]


def _attached(ec2: Any, volume_id: str, instance: str, device: str) -> None:
    ec2.attach_volume(VolumeId=volume_id, InstanceId=instance, Device=device)
    wait_until(lambda: _state(ec2, volume_id) == ("in-use", ["attached"]) or None, 30)


def _from_snapshot(ec2: Any, snapshot_id: str) -> str:
    volume_id = str(ec2.create_volume(SnapshotId=snapshot_id, AvailabilityZone="one")["VolumeId"])
    wait_until(lambda: _state(ec2, volume_id)[0] == "available" or None, 60)
    return volume_id


def test_a_snapshot_of_an_attached_volume_restores_in_the_other_instance(
    vmcloud: VmCloud, pair: Pair
) -> None:
    ec2 = vmcloud.client("ec2")
    (first, second), ips = pair.ids, pair.ips

    def guest(instance: str, script: str) -> str:
        return _guest(pair.netns, pair.key, ips[instance], script)

    volume_id = ec2.create_volume(Size=1, AvailabilityZone="one")["VolumeId"]
    wait_until(lambda: _state(ec2, volume_id)[0] == "available" or None, 30)
    _attached(ec2, volume_id, first, "/dev/sdh")
    find = FIND.replace("{serial}", _serial(volume_id))
    # 48 MiB of random bytes in a file: its checksum is what the other instance must read.
    written = guest(
        first,
        find + "mke2fs -q $D && mkdir -p /mnt/s && mount $D /mnt/s && "
        "dd if=/dev/urandom of=/mnt/s/data bs=1M count=48 2>/dev/null && sync && "
        "md5sum /mnt/s/data && umount /mnt/s",
    )
    digest = _md5(written)

    # Taken while attached (the storage daemon's live backup), the guest still running.
    started = time.monotonic()
    snapshot_id = ec2.create_snapshot(VolumeId=volume_id, Description="vm")["SnapshotId"]
    wait_until(lambda: _snapshot_state(ec2, snapshot_id)[0] == "completed" or None, 60, 0.02)
    took = time.monotonic() - started
    # The storage agent killed mid-snapshot (or about to start it): started again, it takes
    # the snapshot over, and the result reads the same.
    killed_id = ec2.create_snapshot(VolumeId=volume_id, Description="killed")["SnapshotId"]
    # Killed as soon as the first chunks are recorded (or, if the copy beat the poll, after).
    wait_until(lambda: _snapshot_state(ec2, killed_id) != ("pending", "0%") or None, 30, 0.002)
    vmcloud.kill("storage")
    seen = _snapshot_state(ec2, killed_id)
    vmcloud.start("storage")
    wait_until(lambda: _snapshot_state(ec2, killed_id)[0] == "completed" or None, 60)

    for snap, device in ((snapshot_id, "/dev/sdi"), (killed_id, "/dev/sdj")):
        restored = _from_snapshot(ec2, snap)
        _attached(ec2, restored, second, device)
        found = FIND.replace("{serial}", _serial(restored))
        read = guest(
            second,
            found + "mkdir -p /mnt/r && mount $D /mnt/r && md5sum /mnt/r/data && umount /mnt/r",
        )
        assert _md5(read) == digest, (snap, read)
        ec2.detach_volume(VolumeId=restored)
        wait_until(lambda v=restored: _state(ec2, v) == ("available", []) or None, 60)
        ec2.delete_volume(VolumeId=restored)
    print(f"\nCreateSnapshot of an attached volume (48 MiB written) -> completed: {took:.3f} s; "
          f"killed at {seen}")  # fmt: skip
    ec2.detach_volume(VolumeId=volume_id)
    wait_until(lambda: _state(ec2, volume_id) == ("available", []) or None, 60)
    for snap in (snapshot_id, killed_id):
        ec2.delete_snapshot(SnapshotId=snap)
    ec2.delete_volume(VolumeId=volume_id)
