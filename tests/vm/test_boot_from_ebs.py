"""Boot from EBS on real VMs: a volume holding the default image's disk is snapshotted and
registered as an EBS-backed image; an instance of it boots from its root volume over NBD,
keeps what it wrote there across stop and start, shows its volumes in DescribeInstances, its
metadata and its guest; CreateImage of it boots again with the same data; terminating deletes
the DeleteOnTermination volumes and keeps the others. Bad mappings get AWS's errors and leave
nothing behind. A stopped instance's root volume is rescued: detached, mended on another
instance, attached back at its root, and booted with its data.

One cloud for the module and seven boots in all (TCG boots take seconds each)."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from mallee.images.default import default_image_paths
from mallee.storage.daemon import StorageDaemon
from tests.e2e.conftest import shared_image_dir
from tests.vm.cloud import VmCloud, start_vm_cloud, wait_until
from tests.vm.test_ec2_vms import ssh

pytestmark = [pytest.mark.vm, pytest.mark.timeout(900)]

ZONE = "one"


@pytest.fixture(scope="module")
def vmcloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[VmCloud]:
    made = start_vm_cloud(tmp_path_factory.mktemp("ebsboot"))
    cloud = next(made)
    cloud.start("storage")
    try:
        yield cloud
    finally:
        cloud.stop("storage")
        with contextlib.suppress(StopIteration):
            next(made)
        StorageDaemon(cloud.data_dir / "volumes" / "run").stop()


@dataclass(frozen=True)
class Guest:
    """How the tests reach instances: the node's namespace and the key they were given."""

    netns: str
    key: Path
    key_name: str


@pytest.fixture(scope="module")
def guest(vmcloud: VmCloud, tmp_path_factory: pytest.TempPathFactory) -> Guest:
    ec2 = vmcloud.client("ec2")
    name = f"key-{uuid.uuid4().hex[:6]}"
    key = tmp_path_factory.mktemp("keys") / "key.pem"
    key.write_text(ec2.create_key_pair(KeyName=name)["KeyMaterial"])
    key.chmod(0o600)
    return Guest(vmcloud.netns(), key, name)


def _volume_state(ec2: Any, volume_id: str) -> str:
    return str(ec2.describe_volumes(VolumeIds=[volume_id])["Volumes"][0]["State"])


def _snapshot_state(ec2: Any, snapshot_id: str) -> str:
    return str(ec2.describe_snapshots(SnapshotIds=[snapshot_id])["Snapshots"][0]["State"])


def _instance(ec2: Any, instance_id: str) -> dict[str, Any]:
    found: dict[str, Any] = ec2.describe_instances(InstanceIds=[instance_id])["Reservations"][0][
        "Instances"
    ][0]
    return found


def _reach(vmcloud: VmCloud, guest: Guest, instance_id: str, state: str = "running") -> str:
    """Wait for the instance to be `state` and answer SSH; its private address."""
    ec2 = vmcloud.client("ec2")
    found = wait_until(
        lambda: (i := _instance(ec2, instance_id))["State"]["Name"] == state and i, 180
    )
    ip = str(found["PrivateIpAddress"])
    wait_until(lambda: ssh(guest.netns, guest.key, ip, "true").returncode == 0 or None, 180)
    return ip


def _run(guest: Guest, ip: str, script: str) -> str:
    done = ssh(guest.netns, guest.key, ip, script)
    assert done.returncode == 0, f"rc {done.returncode}: {done.stdout} {done.stderr}"
    return done.stdout


def _euca_create_image(vmcloud: VmCloud, *args: str) -> str:
    """euca-create-image as a user runs it, with a eucarc's environment; the image's id."""
    env = {
        **os.environ,
        "EC2_URL": f"{vmcloud.endpoint}/services/compute",
        "EC2_ACCESS_KEY": vmcloud.keys[0],
        "EC2_SECRET_KEY": vmcloud.keys[1],
    }
    done = subprocess.run(
        [sys.executable, "-m", "mallee.euca", "euca-create-image", *args],
        env=env, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 0 and not done.stderr, done.stderr
    kind, image_id = done.stdout.strip().split("\t")
    assert kind == "IMAGE" and image_id.startswith("emi-"), done.stdout
    return image_id


@pytest.fixture(scope="module")
def ebs_image(vmcloud: VmCloud) -> str:
    """An EBS-backed image of the default image's disk: a volume made to hold its bytes (as
    its storage host keeps them: a raw file), snapshotted, and registered from the snapshot."""
    ec2 = vmcloud.client("ec2")
    image = default_image_paths(shared_image_dir())
    assert image is not None, "mallee up builds the default image"
    volume_id = ec2.create_volume(Size=1, AvailabilityZone=ZONE)["VolumeId"]
    wait_until(lambda: _volume_state(ec2, volume_id) == "available" or None, 60)
    data = vmcloud.data_dir / "volumes" / f"{volume_id}.raw"
    subprocess.run(
        ["qemu-img", "convert", "-n", "-f", "qcow2", "-O", "raw", str(image.root), str(data)],
        check=True,
    )
    snapshot_id = ec2.create_snapshot(VolumeId=volume_id, Description="root")["SnapshotId"]
    wait_until(lambda: _snapshot_state(ec2, snapshot_id) == "completed" or None, 120)
    ec2.delete_volume(VolumeId=volume_id)
    made = ec2.register_image(
        Name=f"ebs-{uuid.uuid4().hex[:6]}",
        RootDeviceName="/dev/sda",
        BlockDeviceMappings=[{"DeviceName": "/dev/sda", "Ebs": {"SnapshotId": snapshot_id}}],
    )
    return str(made["ImageId"])


def test_the_image_is_ebs_backed_with_its_snapshot(vmcloud: VmCloud, ebs_image: str) -> None:
    ec2 = vmcloud.client("ec2")
    image = ec2.describe_images(ImageIds=[ebs_image])["Images"][0]
    assert (image["RootDeviceType"], image["RootDeviceName"], image["State"]) == (
        "ebs",
        "/dev/sda",
        "available",
    )
    [root] = image["BlockDeviceMappings"]
    assert root["DeviceName"] == "/dev/sda"
    assert (root["Ebs"]["VolumeSize"], root["Ebs"]["DeleteOnTermination"]) == (1, True)
    assert image["KernelId"].startswith("eki-")
    attribute = ec2.describe_image_attribute(ImageId=ebs_image, Attribute="blockDeviceMapping")
    assert attribute["BlockDeviceMappings"] == image["BlockDeviceMappings"]
    # Its snapshot is the image's while it is registered.
    with pytest.raises(ClientError) as err:
        ec2.delete_snapshot(SnapshotId=root["Ebs"]["SnapshotId"])
    assert err.value.response["Error"]["Code"] == "InvalidSnapshot.InUse"


def _error(call: Any, **params: Any) -> str:
    with pytest.raises(ClientError) as err:
        call(**params)
    return str(err.value.response["Error"]["Code"])


def test_bad_mappings_get_aws_errors_and_leave_nothing(vmcloud: VmCloud, ebs_image: str) -> None:
    ec2 = vmcloud.client("ec2")
    before = len(ec2.describe_volumes()["Volumes"]), len(ec2.describe_instances()["Reservations"])
    run = ec2.run_instances
    cases = {
        "InvalidBlockDeviceMapping": [{"DeviceName": "/dev/hdz", "Ebs": {"VolumeSize": 1}}],
        "InvalidSnapshot.NotFound": [
            {"DeviceName": "/dev/sdf", "Ebs": {"SnapshotId": "snap-0123456789abcdef0"}}
        ],
        "InvalidParameterValue": [{"DeviceName": "/dev/sdf", "Ebs": {"VolumeSize": 20000}}],
    }
    for code, mappings in cases.items():
        assert (
            _error(run, ImageId=ebs_image, MinCount=1, MaxCount=1, BlockDeviceMappings=mappings)
            == code
        )
    dropped = [{"DeviceName": "/dev/sda", "NoDevice": ""}]
    assert (
        _error(run, ImageId=ebs_image, MinCount=1, MaxCount=1, BlockDeviceMappings=dropped)
        == "InvalidBlockDeviceMapping"
    )
    snapshot = ec2.describe_images(ImageIds=[ebs_image])["Images"][0]["BlockDeviceMappings"][0]
    too_small = [{"DeviceName": "/dev/sda", "Ebs": {"SnapshotId": snapshot["Ebs"]["SnapshotId"]}}]
    assert (
        _error(ec2.register_image, Name="no-root-device", BlockDeviceMappings=too_small)
        == "MissingParameter"
    )
    no_snapshot = [{"DeviceName": "/dev/sda", "Ebs": {"VolumeSize": 1}}]
    assert (
        _error(
            ec2.register_image,
            Name="no-root-snapshot",
            RootDeviceName="/dev/sda",
            BlockDeviceMappings=no_snapshot,
        )
        == "InvalidBlockDeviceMapping"
    )
    after = len(ec2.describe_volumes()["Volumes"]), len(ec2.describe_instances()["Reservations"])
    assert after == before


def test_boot_stop_start_create_image_terminate(
    vmcloud: VmCloud, guest: Guest, ebs_image: str
) -> None:
    ec2 = vmcloud.client("ec2")
    run = ec2.run_instances(
        ImageId=ebs_image,
        MinCount=1,
        MaxCount=1,
        KeyName=guest.key_name,
        BlockDeviceMappings=[{"DeviceName": "/dev/sdf", "Ebs": {"VolumeSize": 1}}],
    )
    iid = run["Instances"][0]["InstanceId"]
    ip = _reach(vmcloud, guest, iid)

    shown = _instance(ec2, iid)
    assert (shown["RootDeviceType"], shown["RootDeviceName"]) == ("ebs", "/dev/sda")
    devices = {m["DeviceName"]: m["Ebs"] for m in shown["BlockDeviceMappings"]}
    assert set(devices) == {"/dev/sda", "/dev/sdf"}
    wait_until(
        lambda: (
            all(
                m["Ebs"]["Status"] == "attached" for m in _instance(ec2, iid)["BlockDeviceMappings"]
            )
            or None
        ),
        30,
    )
    root, data = devices["/dev/sda"]["VolumeId"], devices["/dev/sdf"]["VolumeId"]
    assert devices["/dev/sda"]["DeleteOnTermination"] and devices["/dev/sdf"]["DeleteOnTermination"]
    # The guest sees its data volume by its serial, and its metadata lists both.
    seen = _run(guest, ip, "cat /sys/block/vd*/serial; echo; mount | grep ' / '")
    assert data.replace("-", "") in seen and root.replace("-", "") in seen
    listed = _run(
        guest, ip, "wget -q -O - http://169.254.169.254/latest/meta-data/block-device-mapping/"
    )
    assert listed.split() == ["ami", "ebs1", "root"]

    proof = f"written on the root volume {uuid.uuid4().hex}"
    _run(guest, ip, f"echo '{proof}' > /root/proof.txt && sync")

    # Kept by a stop and a start: the same volume, booted again.
    ec2.modify_instance_attribute(
        InstanceId=iid,
        BlockDeviceMappings=[{"DeviceName": "/dev/sdf", "Ebs": {"DeleteOnTermination": False}}],
    )
    attribute = ec2.describe_instance_attribute(InstanceId=iid, Attribute="blockDeviceMapping")
    kept = {
        m["DeviceName"]: m["Ebs"]["DeleteOnTermination"] for m in attribute["BlockDeviceMappings"]
    }
    assert kept == {"/dev/sda": True, "/dev/sdf": False}
    ec2.stop_instances(InstanceIds=[iid])
    wait_until(lambda: _instance(ec2, iid)["State"]["Name"] == "stopped" or None, 120)
    assert _volume_state(ec2, root) == "in-use"
    ec2.start_instances(InstanceIds=[iid])
    ip = _reach(vmcloud, guest, iid)
    assert proof in _run(guest, ip, "cat /root/proof.txt")

    # CreateImage (stopping the instance for it, then starting it again), and its image boots
    # with the same root file system.
    image_id = _euca_create_image(
        vmcloud, iid, "-n", f"made-{uuid.uuid4().hex[:6]}", "-d", "by euca"
    )
    wait_until(
        lambda: (
            ec2.describe_images(ImageIds=[image_id])["Images"][0]["State"] == "available" or None
        ),
        240,
    )
    made = ec2.describe_images(ImageIds=[image_id])["Images"][0]
    assert made["Description"] == "by euca"
    assert {m["DeviceName"] for m in made["BlockDeviceMappings"]} == {"/dev/sda", "/dev/sdf"}
    ip = _reach(vmcloud, guest, iid)
    second = ec2.run_instances(ImageId=image_id, MinCount=1, MaxCount=1, KeyName=guest.key_name)
    other = second["Instances"][0]["InstanceId"]
    other_ip = _reach(vmcloud, guest, other)
    assert proof in _run(guest, other_ip, "cat /root/proof.txt")
    # A guest that powers itself off is stopped (its shutdown behaviour is `stop`).
    ssh(guest.netns, guest.key, other_ip, "poweroff")
    wait_until(lambda: _instance(ec2, other)["State"]["Name"] == "stopped" or None, 120)

    ec2.terminate_instances(InstanceIds=[iid, other])
    wait_until(lambda: _volume_state(ec2, data) == "available" or None, 120)

    def gone(volume_id: str) -> bool:
        return not ec2.describe_volumes(Filters=[{"Name": "volume-id", "Values": [volume_id]}])[
            "Volumes"
        ]

    wait_until(lambda: gone(root) or None, 120)
    ec2.delete_volume(VolumeId=data)


def test_the_rescue_of_a_root_volume(vmcloud: VmCloud, guest: Guest, ebs_image: str) -> None:
    """AWS's rescue of a root volume: the instance stopped, its root detached, mended on
    another instance, attached back at its root; it boots with the data and the mend."""
    ec2 = vmcloud.client("ec2")
    run = ec2.run_instances(ImageId=ebs_image, MinCount=2, MaxCount=2, KeyName=guest.key_name)
    iid, helper = (i["InstanceId"] for i in run["Instances"])
    ip, helper_ip = _reach(vmcloud, guest, iid), _reach(vmcloud, guest, helper)
    proof = f"written before the rescue {uuid.uuid4().hex}"
    _run(guest, ip, f"echo '{proof}' > /root/proof.txt && sync")
    root = {m["DeviceName"]: m["Ebs"] for m in _instance(ec2, iid)["BlockDeviceMappings"]}[
        "/dev/sda"
    ]["VolumeId"]
    ec2.stop_instances(InstanceIds=[iid])
    wait_until(lambda: _instance(ec2, iid)["State"]["Name"] == "stopped" or None, 120)
    assert ec2.detach_volume(VolumeId=root)["State"] == "detached"
    assert _volume_state(ec2, root) == "available"
    assert _error(ec2.start_instances, InstanceIds=[iid]) == "IncorrectInstanceState"

    ec2.attach_volume(VolumeId=root, InstanceId=helper, Device="/dev/sdf")
    serial = root.replace("-", "")
    find = (
        "D=; for i in $(seq 500); do for s in /sys/block/vd*/serial; do "
        f'[ "$(cat $s 2>/dev/null)" = "{serial}" ] && D=/dev/$(basename $(dirname $s)); done; '
        '[ -n "$D" ] && [ -e "${D}1" ] && break; sleep 0.02; done; [ -n "$D" ] || exit 7; '
    )
    mend = f"mended on {helper} {uuid.uuid4().hex}"
    seen = _run(
        guest, helper_ip,
        find + "mkdir -p /mnt/r && mount ${D}1 /mnt/r && cat /mnt/r/root/proof.txt && "
        f"echo '{mend}' > /mnt/r/root/mend.txt && sync && umount /mnt/r",
    )  # fmt: skip
    assert proof in seen
    ec2.detach_volume(VolumeId=root)
    wait_until(lambda: _volume_state(ec2, root) == "available" or None, 60)

    answer = ec2.attach_volume(VolumeId=root, InstanceId=iid, Device="/dev/sda")
    assert answer["State"] == "attached"
    ec2.start_instances(InstanceIds=[iid])
    ip = _reach(vmcloud, guest, iid)
    back = _run(guest, ip, "cat /root/proof.txt /root/mend.txt")
    assert proof in back and mend in back
    # Attached by AttachVolume, it is no longer deleted with the instance (as AWS).
    ec2.terminate_instances(InstanceIds=[iid, helper])
    wait_until(lambda: _volume_state(ec2, root) == "available" or None, 120)
    ec2.delete_volume(VolumeId=root)
