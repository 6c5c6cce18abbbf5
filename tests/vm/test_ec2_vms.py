"""Real VMs through the EC2 API: run, console, SSH with the key pair, user-data, terminate,
and SIGKILL of the node agent and the controller mid-run."""

from __future__ import annotations

import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.vm.cloud import VmCloud, qemu_pids, start_vm_cloud, wait_until

pytestmark = [pytest.mark.vm, pytest.mark.timeout(900)]

USER_DATA = "#!/bin/sh\necho {token} > /root/user-data-ran\n"


@pytest.fixture(scope="module")
def vmcloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[VmCloud]:
    yield from start_vm_cloud(tmp_path_factory.mktemp("vmcloud"))


def default_image(ec2: Any) -> str:
    images = ec2.describe_images(Filters=[{"Name": "name", "Values": ["mallee-default"]}])
    return str(images["Images"][0]["ImageId"])


def instances(ec2: Any, ids: list[str]) -> list[dict[str, Any]]:
    reservations = ec2.describe_instances(InstanceIds=ids)["Reservations"]
    return [i for r in reservations for i in r["Instances"]]


def all_in(ec2: Any, ids: list[str], state: str) -> list[dict[str, Any]] | None:
    found = instances(ec2, ids)
    return found if all(i["State"]["Name"] == state for i in found) else None


def console(ec2: Any, iid: str) -> str:
    # botocore decodes EC2's base64 console output itself.
    return str(ec2.get_console_output(InstanceId=iid).get("Output", ""))


def in_ns(netns: str, *argv: str, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["ip", "netns", "exec", netns, *argv],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def ssh(netns: str, key: Path, ip: str, command: str) -> subprocess.CompletedProcess[str]:
    return in_ns(
        netns,
        "ssh",
        "-i",
        str(key),
        "-o",
        "StrictHostKeyChecking=no",
        "-o",
        "UserKnownHostsFile=/dev/null",
        "-o",
        "BatchMode=yes",
        "-o",
        "ConnectTimeout=5",
        f"root@{ip}",
        command,
    )


def test_run_ssh_user_data_console_terminate(vmcloud: VmCloud, tmp_path: Path) -> None:
    ec2 = vmcloud.client("ec2")
    name = f"key-{uuid.uuid4().hex[:6]}"
    key = tmp_path / "key.pem"
    key.write_text(ec2.create_key_pair(KeyName=name)["KeyMaterial"])
    key.chmod(0o600)
    token = uuid.uuid4().hex
    res = ec2.run_instances(
        ImageId=default_image(ec2),
        MinCount=3,
        MaxCount=3,
        KeyName=name,
        UserData=USER_DATA.format(token=token),
    )
    ids = [i["InstanceId"] for i in res["Instances"]]
    running = wait_until(lambda: all_in(ec2, ids, "running"), 180)
    for iid in ids:
        wait_until(lambda iid=iid: "EUCA-READY" in console(ec2, iid), 180, interval=1)
    netns = vmcloud.netns()
    first = running[0]
    page = in_ns(netns, "curl", "-s", "-m", "5", f"http://{first['PrivateIpAddress']}/")
    assert first["InstanceId"] in page.stdout
    ran = ssh(netns, key, first["PrivateIpAddress"], "cat /root/user-data-ran")
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout.strip() == token
    # The node reports what the VM used: CPU, disk and the traffic of this very test.
    counters = wait_until(
        lambda: (c := vmcloud.counters(first["InstanceId"])) and c["net_in_bytes"] > 0 and c,
        30,
    )
    assert counters["cpu_seconds"] > 0 and counters["disk_read_bytes"] > 0
    ec2.terminate_instances(InstanceIds=ids)
    done = wait_until(lambda: all_in(ec2, ids, "terminated"), 120)
    assert {i["StateReason"]["Code"] for i in done} == {"Client.UserInitiatedShutdown"}
    wait_until(lambda: not set(ids) & set(qemu_pids(vmcloud.data_dir)), 60)


def test_sigkill_node_and_controller_mid_run(vmcloud: VmCloud) -> None:
    ec2 = vmcloud.client("ec2")
    res = ec2.run_instances(ImageId=default_image(ec2), MinCount=2, MaxCount=2)
    ids = [i["InstanceId"] for i in res["Instances"]]
    # Killed while the request is in flight: placed or not, launched or not.
    vmcloud.kill("controller")
    vmcloud.kill("node")
    vmcloud.start("controller")
    vmcloud.start("node")
    vmcloud.wait_node_ready()
    wait_until(lambda: all_in(ec2, ids, "running"), 240)
    pids = wait_until(lambda: _vms_of(vmcloud, ids), 30)
    # Killed again while the VMs run: the new agent adopts them, same processes.
    vmcloud.kill("node")
    vmcloud.kill("controller")
    vmcloud.start("node")
    vmcloud.start("controller")
    for _ in range(10):
        assert all_in(ec2, ids, "running")
        assert _vms_of(vmcloud, ids) == pids
        subprocess.run(["sleep", "1"], check=True)
    ec2.terminate_instances(InstanceIds=ids)
    wait_until(lambda: all_in(ec2, ids, "terminated"), 120)


def _vms_of(vmcloud: VmCloud, ids: list[str]) -> dict[str, list[int]] | None:
    """The QEMU of each instance when every instance has exactly one, else None."""
    pids = {k: v for k, v in qemu_pids(vmcloud.data_dir).items() if k in ids}
    return pids if set(pids) == set(ids) and all(len(v) == 1 for v in pids.values()) else None


def test_reboot_keeps_the_disk_in_a_fresh_process(vmcloud: VmCloud, tmp_path: Path) -> None:
    ec2 = vmcloud.client("ec2")
    name = f"key-{uuid.uuid4().hex[:6]}"
    key = tmp_path / "key.pem"
    key.write_text(ec2.create_key_pair(KeyName=name)["KeyMaterial"])
    key.chmod(0o600)
    iid = ec2.run_instances(ImageId=default_image(ec2), MinCount=1, MaxCount=1, KeyName=name)[
        "Instances"
    ][0]["InstanceId"]
    ip = wait_until(lambda: all_in(ec2, [iid], "running"), 180)[0]["PrivateIpAddress"]
    wait_until(lambda: "EUCA-READY" in console(ec2, iid), 180, interval=1)
    netns = vmcloud.netns()
    wrote = wait_until(
        lambda: ssh(netns, key, ip, "echo kept > /root/kept && sync").returncode == 0 or None, 60
    )
    assert wrote
    before = qemu_pids(vmcloud.data_dir)[iid]
    ec2.reboot_instances(InstanceIds=[iid])
    # -no-reboot: the reset ends the QEMU process and the node starts a new one on the same disk.
    wait_until(lambda: qemu_pids(vmcloud.data_dir).get(iid, before) != before, 60)
    wait_until(lambda: console(ec2, iid).count("EUCA-READY") >= 2, 120, interval=1)
    kept = wait_until(lambda: ssh(netns, key, ip, "cat /root/kept").stdout.strip() or None, 60)
    assert kept == "kept"
    assert all_in(ec2, [iid], "running")
    ec2.terminate_instances(InstanceIds=[iid])
    wait_until(lambda: all_in(ec2, [iid], "terminated"), 120)


def test_boot_an_image_registered_from_the_object_store(vmcloud: VmCloud) -> None:
    from mallee.images.default import default_image_paths
    from tests.e2e.conftest import shared_image_dir

    image = default_image_paths(shared_image_dir())
    assert image is not None
    s3, ec2 = vmcloud.client("s3"), vmcloud.client("ec2")
    bucket = f"images-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=bucket)
    for path in (image.kernel, image.ramdisk, image.root):
        s3.upload_file(str(path), bucket, f"default/{path.name}")
    name = bucket
    eki = ec2.register_image(ImageLocation=f"{bucket}/default/{image.kernel.name}",
                             Name=f"{name}-kernel")["ImageId"]  # fmt: skip
    eri = ec2.register_image(ImageLocation=f"{bucket}/default/{image.ramdisk.name}",
                             Name=f"{name}-ramdisk")["ImageId"]  # fmt: skip
    emi = ec2.register_image(
        ImageLocation=f"{bucket}/default/{image.root.name}", Name=name, KernelId=eki, RamdiskId=eri
    )["ImageId"]
    iid = ec2.run_instances(ImageId=emi, MinCount=1, MaxCount=1)["Instances"][0]["InstanceId"]
    try:
        wait_until(lambda: all_in(ec2, [iid], "running"), 120)
        wait_until(lambda: "EUCA-READY" in console(ec2, iid), 120)
    finally:
        ec2.terminate_instances(InstanceIds=[iid])
