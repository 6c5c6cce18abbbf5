"""The QEMU driver on its own, with the default image: launch, adopt, reboot, stop, clean up."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from mallee.images.default import DefaultImage, build_default_image
from mallee.node.agent import CMDLINE
from mallee.node.hypervisor.base import Counters, LaunchError, VmSpec
from mallee.node.hypervisor.qemu import QemuHypervisor
from mallee.qmp import Qmp
from tests.e2e.conftest import shared_image_dir
from tests.vm.cloud import wait_until

pytestmark = [pytest.mark.vm, pytest.mark.timeout(600)]


@pytest.fixture(scope="session")
def image() -> DefaultImage:
    return build_default_image(shared_image_dir())


@pytest.fixture
def hv(tmp_path: Path) -> Iterator[QemuHypervisor]:
    driver = QemuHypervisor(tmp_path / "instances", "tcg")
    yield driver
    for instance_id in driver.running():  # a failed test must not leak VMs
        info = driver.info(instance_id)
        if info and info.pid:
            with contextlib.suppress(ProcessLookupError):
                os.kill(info.pid, signal.SIGKILL)


@pytest.fixture
def netns() -> Iterator[str]:
    name = f"mallee-t-{uuid.uuid4().hex[:8]}"
    subprocess.run(["ip", "netns", "add", name], check=True)
    try:
        yield name
    finally:
        subprocess.run(["ip", "netns", "del", name], check=False)


def spec_for(image: DefaultImage, **extra: str) -> VmSpec:
    return VmSpec(
        instance_id=f"i-{uuid.uuid4().hex[:17]}",
        cores=1,
        memory_mb=256,
        kernel=image.kernel,
        ramdisk=image.ramdisk,
        root=image.root,
        cmdline=CMDLINE,
        **extra,  # type: ignore[arg-type]
    )


def booted(hv: QemuHypervisor, instance_id: str, times: int = 1) -> bool:
    return hv.console(instance_id).count("EUCA-INITRD") >= times


def pid_of(hv: QemuHypervisor, instance_id: str) -> int:
    info = hv.info(instance_id)
    assert info is not None and info.pid is not None
    return info.pid


def test_launch_adopt_reboot_stop_destroy(hv: QemuHypervisor, image: DefaultImage) -> None:
    spec = spec_for(image)
    iid = spec.instance_id
    hv.launch(spec)
    assert hv.running() == {iid}
    wait_until(lambda: booted(hv, iid), 120)
    first = pid_of(hv, iid)

    # A new driver object, as after an agent restart: it finds the VM and does not relaunch it.
    again = QemuHypervisor(hv.run_dir, "tcg")
    assert [(vm.instance_id, vm.pid) for vm in again.adopt()] == [(iid, first)]
    again.launch(spec)
    assert pid_of(again, iid) == first
    with Qmp(hv.run_dir / iid / "qmp.sock") as q:
        assert q.execute("query-status")["status"] == "running"
    counters = again.counters(iid)
    assert counters is not None and counters.cpu_seconds > 0 and counters.disk_read_bytes > 0

    overlay = hv.run_dir / iid / "root.qcow2"
    inode = overlay.stat().st_ino
    again.restart(iid, reboots=1)
    assert pid_of(again, iid) != first
    assert overlay.stat().st_ino == inode
    info = again.info(iid)
    assert info is not None and info.reboots == 1
    wait_until(lambda: booted(again, iid, 2), 120)

    again.stop(iid, timeout=30)
    assert again.running() == set() and overlay.exists()
    again.destroy(iid)
    assert again.known() == set()


def test_exits_tell_a_reset_from_a_power_off(hv: QemuHypervisor, image: DefaultImage) -> None:
    spec = spec_for(image)
    iid = spec.instance_id
    hv.launch(spec)
    wait_until(lambda: booted(hv, iid), 120)
    with Qmp(hv.run_dir / iid / "qmp.sock") as q:
        q.execute("system_reset")  # -no-reboot: QEMU exits for the reset
    wait_until(lambda: iid not in hv.running(), 30)
    assert hv.exited_for_reboot(iid)

    hv.launch(spec)  # the agent's relaunch: same disk, fresh process
    wait_until(lambda: "EUCA-NET" in hv.console(iid), 120)  # acpid runs by then
    with Qmp(hv.run_dir / iid / "qmp.sock") as q:
        q.execute("system_powerdown")
    wait_until(lambda: iid not in hv.running(), 60)
    assert not hv.exited_for_reboot(iid)
    assert "reboot: Power down" in hv.console(iid)


def test_stop_falls_back_to_quit(hv: QemuHypervisor, image: DefaultImage) -> None:
    spec = spec_for(image)
    hv.launch(spec)
    # Straight away: the guest's kernel is still booting and nothing in it handles ACPI yet.
    hv.stop(spec.instance_id, timeout=0.5)
    assert hv.running() == set()


def test_nic_in_a_namespace_and_its_counters(
    hv: QemuHypervisor, image: DefaultImage, netns: str
) -> None:
    tap = "tap-test0"
    for argv in (
        ["ip", "tuntap", "add", "dev", tap, "mode", "tap"],
        ["ip", "link", "set", tap, "up"],
    ):
        subprocess.run(["ip", "netns", "exec", netns, *argv], check=True)
    spec = spec_for(image, netns=netns, tap=tap, mac="d0:0d:12:34:56:78")
    hv.launch(spec)
    iid = spec.instance_id
    # The guest's DHCP requests leave through the tap: bytes the guest sent.
    wait_until(lambda: (hv.counters(iid) or Counters()).net_out_packets > 0, 120, interval=1)
    hv.destroy(iid)


def test_launch_errors_say_why(hv: QemuHypervisor, image: DefaultImage, tmp_path: Path) -> None:
    no_kernel = replace(spec_for(image), kernel=tmp_path / "no-such-kernel")
    with pytest.raises(LaunchError, match=r"QEMU failed to start.*no-such-kernel"):
        hv.launch(no_kernel)
    assert "QEMU failed to start" in hv.console(no_kernel.instance_id)

    not_qcow2 = tmp_path / "disk.raw"
    not_qcow2.write_bytes(b"\0" * 65536)
    bad_disk = replace(spec_for(image), root=not_qcow2)
    with pytest.raises(LaunchError, match="root disk"):
        hv.launch(bad_disk)
    assert hv.running() == set()
