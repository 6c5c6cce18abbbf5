"""The Debian 12 cloud image: built with mmdebstrap, registered with `mallee image build-debian
--register`, booted through the EC2 API; cloud-init reads the node's metadata (hostname, key
pair, multi-part user-data) and grows the root file system to the instance type's disk.

The build downloads about 200 packages and is cached in the shared image directory by a stamp
of its inputs: it runs once per machine, and every later run (and this test's second call)
reuses it.
"""

from __future__ import annotations

import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from pathlib import Path
from typing import Any

import pytest

from mallee.images import build_cache, debian, debian_guest
from tests.vm.cloud import VmCloud, start_vm_cloud, wait_until

BUILD_TIMEOUT = 3600
BOOT_TIMEOUT = 900


@pytest.fixture(scope="module")
def vmcloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[VmCloud]:
    yield from start_vm_cloud(tmp_path_factory.mktemp("debiancloud"))


def build_and_register(cloud: VmCloud) -> tuple[str, float]:
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "mallee", "image", "build-debian", "--register"],
        env=cloud.env, capture_output=True, text=True, timeout=BUILD_TIMEOUT, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    emi = done.stdout.strip().splitlines()[-1].removeprefix("registered ")
    assert emi.startswith("emi-"), done.stdout
    return emi, time.monotonic() - started


def user_data(token: str) -> str:
    """Two parts, as cloud-init's make-mime writes them: a cloud-config and a shell script."""
    message = MIMEMultipart()
    config = "#cloud-config\nwrite_files:\n  - path: /var/tmp/from-cloud-config\n"
    config += f"    content: {token}\n"
    script = f"#!/bin/sh\necho {token} > /var/tmp/from-script\n"
    for text, subtype in ((config, "cloud-config"), (script, "x-shellscript")):
        message.attach(MIMEText(text, subtype, "utf-8"))
    return message.as_string()


def ssh(netns: str, key: Path, ip: str, command: str) -> subprocess.CompletedProcess[str]:
    argv = [
        "ip", "netns", "exec", netns, "ssh", "-i", str(key),
        "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
        "-o", "BatchMode=yes", "-o", "ConnectTimeout=5", "-o", "LogLevel=ERROR",
        f"{debian_guest.DEFAULT_USER}@{ip}", command,
    ]  # fmt: skip
    return subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)


def finished(status: str) -> str | None:
    """cloud-init's status once its last stage has ended (done or error), else None."""
    line = status.strip()
    return line if line in ("status: done", "status: error") else None


def instance(ec2: Any, iid: str) -> dict[str, Any]:
    found: dict[str, Any] = ec2.describe_instances(InstanceIds=[iid])["Reservations"][0][
        "Instances"
    ][0]
    return found


@pytest.mark.vm
@pytest.mark.timeout(BUILD_TIMEOUT + BOOT_TIMEOUT)
def test_debian_boots_with_cloud_init_from_our_metadata(vmcloud: VmCloud, tmp_path: Path) -> None:
    emi, took = build_and_register(vmcloud)
    print(f"\nbuild-debian --register took {took:.1f}s (cached after the first build here)")
    again, _ = build_and_register(vmcloud)
    assert again == emi  # the second build is a no-op and the registration keeps its ids
    ec2 = vmcloud.client("ec2")
    name = f"key-{uuid.uuid4().hex[:6]}"
    key = tmp_path / "key.pem"
    key.write_text(ec2.create_key_pair(KeyName=name)["KeyMaterial"])
    key.chmod(0o600)
    token = uuid.uuid4().hex
    launched = time.monotonic()
    iid = ec2.run_instances(
        ImageId=emi, MinCount=1, MaxCount=1, InstanceType="m1.small", KeyName=name,
        UserData=user_data(token),
    )["Instances"][0]["InstanceId"]  # fmt: skip
    wait_until(lambda: instance(ec2, iid)["State"]["Name"] == "running", 180)
    running = time.monotonic()
    ip = instance(ec2, iid)["PrivateIpAddress"]
    netns = vmcloud.netns()
    wait_until(lambda: ssh(netns, key, ip, "true").returncode == 0, BOOT_TIMEOUT, interval=1)
    reached = time.monotonic()
    print(f"run-instances -> running {running - launched:.1f}s, -> SSH {reached - launched:.1f}s")
    # SSH is up before cloud-init's last stage (the scripts) has run; polled, not `--wait`ed
    # in one SSH call, which a loaded host can make outlast any timeout.
    status = wait_until(lambda: finished(ssh(netns, key, ip, "cloud-init status").stdout),
                        BOOT_TIMEOUT, interval=2)  # fmt: skip
    assert status == "status: done", status
    print(f"-> cloud-init done {time.monotonic() - launched:.1f}s")
    timing = ssh(netns, key, ip, "systemd-analyze time; systemd-analyze blame | head -12")
    print(timing.stdout)
    probe = (
        "echo host $(hostname); echo config $(cat /var/tmp/from-cloud-config);"
        "echo script $(cat /var/tmp/from-script); echo size $(df -B1 --output=size / | tail -1);"
        "echo uid $(sudo -n id -u)"
    )
    seen = ssh(netns, key, ip, probe)
    assert seen.returncode == 0, seen.stderr
    found = dict(line.split(" ", 1) for line in seen.stdout.splitlines() if " " in line)
    assert found.get("host") == f"euca-{ip.replace('.', '-')}", seen.stdout
    assert found.get("config") == found.get("script") == token, seen.stdout + seen.stderr
    assert found.get("uid") == "0", seen.stdout  # the key pair's user may sudo, as on AWS
    # m1.small's 5 GiB: growpart and resizefs filled the disk (the image itself is 2 GiB).
    assert 0.95 * (5 << 30) < int(found.get("size", 0)) <= 5 << 30, seen.stdout


def test_build_is_cached_by_its_inputs(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    builds: list[Path] = []

    def fake_build(work: Path) -> None:
        builds.append(work)
        for name in ("vmlinux", "initrd.img", "root.qcow2", "root.raw"):
            (work / name).write_text(str(len(builds)))

    versions = ["1.3.5-7"]
    monkeypatch.setattr(debian, "_build", fake_build)
    monkeypatch.setattr(debian, "_mmdebstrap_version", lambda: versions[-1])
    monkeypatch.setattr(debian.os, "geteuid", lambda: 0)
    assert debian.debian_image_paths(tmp_path) is None
    first = debian.build_debian_image(tmp_path)
    assert debian.build_debian_image(tmp_path) == first == debian.debian_image_paths(tmp_path)
    assert len(builds) == 1 and first.root.read_text() == "1"
    versions.append("1.4.0-1")
    debian.build_debian_image(tmp_path)
    debian.build_debian_image(tmp_path, force=True)
    assert len(builds) == 3 and first.root.read_text() == "3"
    assert build_cache.current_stamp(tmp_path) == debian.stamp_for("1.4.0-1")
    assert not list(tmp_path.glob(".build-*"))
