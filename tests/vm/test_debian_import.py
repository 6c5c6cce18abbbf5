"""The Debian 12 image imported the seed's ways, on real VMs (issue 17's "Done when"):

- its raw disk with `euca-import-volume`, a snapshot of the volume and RegisterImage from the
  snapshot with the Debian image's own kernel and initramfs (`--kernel/--ramdisk`, as
  Eucalyptus users registered paravirtual imports); an instance of it boots, cloud-init applies
  its user-data and installs the key pair, a file written on the root volume survives a stop and
  a start, and CreateImage of it makes an image of its snapshots;
- its qcow2 disk with `euca-import-instance`, which makes the image and a stopped instance;
  started, it boots with the cloud's default kernel and busybox initramfs (the same Debian
  cloud kernel: its /init mounts the disk's ext4 root and hands over to systemd), and cloud-init
  applies the user-data given to the import.

The image is `mallee image build-debian`'s (cached in the shared image directory). One cloud
for the module, three Debian boots in all.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from mallee.images.debian import DebianImage, debian_image_paths
from mallee.storage.daemon import StorageDaemon
from tests.e2e.conftest import shared_image_dir
from tests.vm.cloud import VmCloud, start_vm_cloud, wait_until
from tests.vm.test_debian_image import BOOT_TIMEOUT, build_and_register, finished, ssh, user_data

pytestmark = [pytest.mark.vm, pytest.mark.timeout(3600)]

ZONE = "one"
BUCKET = "debian-import"
# Fetching, converting and snapshotting 2 GiB on a busy machine.
IMPORT_TIMEOUT = 1800


@pytest.fixture(scope="module")
def vmcloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[VmCloud]:
    made = start_vm_cloud(tmp_path_factory.mktemp("debianimport"))
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
class Debian:
    files: DebianImage
    kernel: str  # its eki and eri, as build-debian --register made them
    ramdisk: str
    key: Path
    key_name: str


@pytest.fixture(scope="module")
def debian(vmcloud: VmCloud, tmp_path_factory: pytest.TempPathFactory) -> Debian:
    emi, took = build_and_register(vmcloud)
    print(f"\nbuild-debian --register took {took:.1f}s")
    ec2 = vmcloud.client("ec2")
    image = ec2.describe_images(ImageIds=[emi])["Images"][0]
    files = debian_image_paths(shared_image_dir() / "debian-12")
    assert files is not None, "build-debian builds into the shared image directory"
    name = f"key-{uuid.uuid4().hex[:6]}"
    key = tmp_path_factory.mktemp("keys") / "key.pem"
    key.write_text(ec2.create_key_pair(KeyName=name)["KeyMaterial"])
    key.chmod(0o600)
    return Debian(files, image["KernelId"], image["RamdiskId"], key, name)


def euca(vmcloud: VmCloud, *argv: str) -> list[str]:
    """A euca2ools command as a user runs it, with a eucarc's environment; its lines."""
    env = {
        **os.environ,
        "EC2_URL": f"{vmcloud.endpoint}/services/compute",
        "S3_URL": f"{vmcloud.endpoint}/services/objectstorage",
        "EC2_ACCESS_KEY": vmcloud.keys[0],
        "EC2_SECRET_KEY": vmcloud.keys[1],
    }
    done = subprocess.run(
        [sys.executable, "-m", "mallee.euca", *argv],
        env=env, capture_output=True, text=True, timeout=IMPORT_TIMEOUT, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout.splitlines()


def conversion(ec2: Any, task_id: str) -> dict[str, Any]:
    found: dict[str, Any] = ec2.describe_conversion_tasks(ConversionTaskIds=[task_id])[
        "ConversionTasks"
    ][0]
    return found


def converted(ec2: Any, task_id: str) -> dict[str, Any]:
    done: dict[str, Any] = wait_until(
        lambda: (t := conversion(ec2, task_id))["State"] in ("completed", "cancelled") and t,
        IMPORT_TIMEOUT,
        interval=2,
    )
    assert done["State"] == "completed", done
    return done


def instance(ec2: Any, iid: str) -> dict[str, Any]:
    found: dict[str, Any] = ec2.describe_instances(InstanceIds=[iid])["Reservations"][0][
        "Instances"
    ][0]
    return found


def reach(vmcloud: VmCloud, debian: Debian, iid: str) -> str:
    """Wait for the instance to run, answer SSH with the key pair and finish cloud-init; its
    private address."""
    ec2 = vmcloud.client("ec2")
    wait_until(lambda: instance(ec2, iid)["State"]["Name"] == "running", 300)
    ip = str(instance(ec2, iid)["PrivateIpAddress"])
    netns = vmcloud.netns()
    wait_until(lambda: ssh(netns, debian.key, ip, "true").returncode == 0, BOOT_TIMEOUT, interval=1)
    status = wait_until(
        lambda: finished(ssh(netns, debian.key, ip, "cloud-init status").stdout),
        BOOT_TIMEOUT,
        interval=2,
    )
    assert status == "status: done", status
    return ip


def run(vmcloud: VmCloud, debian: Debian, ip: str, command: str) -> str:
    done = ssh(vmcloud.netns(), debian.key, ip, command)
    assert done.returncode == 0, f"rc {done.returncode}: {done.stdout} {done.stderr}"
    return done.stdout


def applied(vmcloud: VmCloud, debian: Debian, ip: str) -> dict[str, str]:
    """What cloud-init did with the user-data and the root disk, as the guest shows it."""
    probe = (
        "echo host $(hostname); echo config $(cat /var/tmp/from-cloud-config);"
        "echo script $(cat /var/tmp/from-script); echo size $(df -B1 --output=size / | tail -1)"
    )
    out = run(vmcloud, debian, ip, probe)
    return dict(line.split(" ", 1) for line in out.splitlines() if " " in line)


def stopped(ec2: Any, iid: str) -> None:
    wait_until(lambda: instance(ec2, iid)["State"]["Name"] == "stopped", 300)


def test_raw_import_volume_registered_boots_keeps_its_root_and_images(
    vmcloud: VmCloud, debian: Debian
) -> None:
    ec2 = vmcloud.client("ec2")
    started = time.monotonic()
    lines = euca(
        vmcloud, "euca-import-volume", str(debian.files.raw), "--format", "raw",
        "--availability-zone", ZONE, "--bucket", BUCKET, "--prefix", "raw",
        "-d", "debian raw",
    )  # fmt: skip
    uploaded = time.monotonic()
    assert lines[0].startswith("TaskType\tIMPORTVOLUME\tTaskId\timport-vol-"), lines
    task_id = lines[0].split("\t")[3]
    done = converted(ec2, task_id)
    print(
        f"\neuca-import-volume of the 2 GiB raw disk ({debian.files.raw.stat().st_size} bytes, "
        f"205 parts of 10 MiB): upload {uploaded - started:.1f}s, "
        f"conversion {time.monotonic() - uploaded:.1f}s"
    )
    volume_id = done["ImportVolume"]["Volume"]["Id"]
    assert done["ImportVolume"]["Volume"]["Size"] == 2
    # The README's commands: a snapshot of the volume, registered with the image's own kernel
    # and initramfs (as `euca-register --kernel --ramdisk` for a paravirtual import).
    snapshot = euca(vmcloud, "euca-create-snapshot", volume_id, "-d", "debian")
    assert snapshot[0].startswith("SNAPSHOT\tsnap-"), snapshot
    snapshot_id = snapshot[0].split("\t")[1]
    wait_until(
        lambda: (
            ec2.describe_snapshots(SnapshotIds=[snapshot_id])["Snapshots"][0]["State"]
            == "completed"
        ),
        600,
        interval=1,
    )
    ec2.delete_volume(VolumeId=volume_id)
    registered = euca(
        vmcloud, "euca-register", "-n", f"debian-ebs-{uuid.uuid4().hex[:6]}",
        "--root-device-name", "/dev/sda", "-s", snapshot_id,
        "--kernel", debian.kernel, "--ramdisk", debian.ramdisk,
    )  # fmt: skip
    assert registered[0].startswith("IMAGE\temi-"), registered
    image_id = registered[0].split("\t")[1]
    token = uuid.uuid4().hex
    iid = ec2.run_instances(
        ImageId=image_id, MinCount=1, MaxCount=1, InstanceType="m1.small",
        KeyName=debian.key_name, UserData=user_data(token),
    )["Instances"][0]["InstanceId"]  # fmt: skip
    ip = reach(vmcloud, debian, iid)
    found = applied(vmcloud, debian, ip)
    assert found.get("host") == f"euca-{ip.replace('.', '-')}", found
    assert found.get("config") == found.get("script") == token, found
    # The root volume is the image's 2 GiB (an EBS root is its volume's size), grown into.
    assert 0.9 * (2 << 30) < int(found.get("size", 0)) <= 2 << 30, found
    proof = f"kept on the root volume {uuid.uuid4().hex}"
    run(vmcloud, debian, ip, f"echo '{proof}' | sudo tee /var/tmp/proof.txt && sync")

    ec2.stop_instances(InstanceIds=[iid])
    stopped(ec2, iid)
    ec2.start_instances(InstanceIds=[iid])
    ip = reach(vmcloud, debian, iid)
    assert proof in run(vmcloud, debian, ip, "cat /var/tmp/proof.txt")

    made = ec2.create_image(InstanceId=iid, Name=f"debian-made-{uuid.uuid4().hex[:6]}",
                            NoReboot=True)["ImageId"]  # fmt: skip
    wait_until(
        lambda: ec2.describe_images(ImageIds=[made])["Images"][0]["State"] == "available",
        600,
        interval=1,
    )
    image = ec2.describe_images(ImageIds=[made])["Images"][0]
    assert (image["RootDeviceType"], image["KernelId"]) == ("ebs", debian.kernel)
    root = image["BlockDeviceMappings"][0]["Ebs"]
    assert root["VolumeSize"] == 2
    state = ec2.describe_snapshots(SnapshotIds=[root["SnapshotId"]])["Snapshots"][0]["State"]
    assert state == "completed"
    ec2.terminate_instances(InstanceIds=[iid])


def test_qcow2_import_instance_starts_with_the_default_kernel(
    vmcloud: VmCloud, debian: Debian, tmp_path: Path
) -> None:
    ec2 = vmcloud.client("ec2")
    token = uuid.uuid4().hex
    data = tmp_path / "user-data"
    data.write_text(user_data(token))
    started = time.monotonic()
    lines = euca(
        vmcloud, "euca-import-instance", str(debian.files.root), "--format", "qcow2",
        "--architecture", "x86_64", "--availability-zone", ZONE, "--bucket", BUCKET,
        "--prefix", "qcow2", "-t", "m1.small", "--platform", "Linux", "-s", "3",
        "--key", debian.key_name, "--user-data-file", str(data), "-d", "debian qcow2",
    )  # fmt: skip
    uploaded = time.monotonic()
    assert lines[0].startswith("TaskType\tIMPORTINSTANCE\tTaskId\timport-i-"), lines
    assert lines[1].startswith("DISKIMAGE\tDiskImageFormat\tQCOW2\t"), lines
    task_id = lines[0].split("\t")[3]
    done = converted(ec2, task_id)
    print(
        f"\neuca-import-instance of the qcow2 disk ({debian.files.root.stat().st_size} bytes): "
        f"upload {uploaded - started:.1f}s, conversion {time.monotonic() - uploaded:.1f}s"
    )
    iid = done["ImportInstance"]["InstanceId"]
    shown = instance(ec2, iid)
    assert (shown["State"]["Name"], shown["RootDeviceType"]) == ("stopped", "ebs")
    image = ec2.describe_images(ImageIds=[shown["ImageId"]])["Images"][0]
    default_kernel = image["KernelId"]
    assert default_kernel != debian.kernel  # the cloud's default eki, as RegisterImage's
    ec2.start_instances(InstanceIds=[iid])
    ip = reach(vmcloud, debian, iid)
    found = applied(vmcloud, debian, ip)
    assert found.get("config") == found.get("script") == token, found
    # The volume is 3 GiB (-s 3): cloud-init grew the 2 GiB image's file system into it.
    assert 0.9 * (3 << 30) < int(found.get("size", 0)) <= 3 << 30, found
    assert run(vmcloud, debian, ip, "uname -r").strip().endswith("-cloud-amd64")
    made = ec2.create_image(InstanceId=iid, Name=f"debian-imported-{uuid.uuid4().hex[:6]}",
                            NoReboot=True)["ImageId"]  # fmt: skip
    wait_until(
        lambda: ec2.describe_images(ImageIds=[made])["Images"][0]["State"] == "available",
        600,
        interval=1,
    )
    ec2.terminate_instances(InstanceIds=[iid])
    volume_id = done["ImportInstance"]["Volumes"][0]["Volume"]["Id"]
    # An imported volume outlives its instance (DeleteOnTermination false, as AWS).
    wait_until(
        lambda: ec2.describe_volumes(VolumeIds=[volume_id])["Volumes"][0]["State"] == "available",
        300,
    )
    ec2.delete_volume(VolumeId=volume_id)
