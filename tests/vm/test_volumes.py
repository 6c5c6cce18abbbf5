"""EBS volumes on real VMs: a volume made by the storage agent, exported over NBD by its
qemu-storage-daemon, hot-plugged into a running guest, written there (a file system and a
file), detached, attached to a second instance, and read back."""

from __future__ import annotations

import contextlib
import time
import uuid
from collections.abc import Iterator
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


def test_volume_moves_between_instances_with_its_data(vmcloud: VmCloud, tmp_path: Path) -> None:
    ec2 = vmcloud.client("ec2")
    name = f"key-{uuid.uuid4().hex[:6]}"
    key = tmp_path / "key.pem"
    key.write_text(ec2.create_key_pair(KeyName=name)["KeyMaterial"])
    key.chmod(0o600)
    run = ec2.run_instances(ImageId=default_image(ec2), MinCount=2, MaxCount=2, KeyName=name)
    ids = [i["InstanceId"] for i in run["Instances"]]
    found = wait_until(lambda: all_in(ec2, ids, "running"), 120)
    ips = {i["InstanceId"]: i["PrivateIpAddress"] for i in found}
    netns = vmcloud.netns()
    for iid in ids:
        wait_until(lambda i=iid: ssh(netns, key, ips[i], "true").returncode == 0 or None, 180)

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
