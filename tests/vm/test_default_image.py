"""The default image boots under QEMU (TCG, qboot) in a private network namespace.

The harness is the smallest cloud the image needs: a namespace with a bridge, dnsmasq handing
the VM its address by MAC, and a metadata server answering on 169.254.169.254 inside the
namespace. The unit tests at the end (not marked vm) cover the build cache and the formats.
"""

from __future__ import annotations

import contextlib
import gzip
import json
import os
import signal
import stat
import struct
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from mallee.commands import in_netns, run
from mallee.images import cpio, default, kernel, rootfs
from mallee.images.default import KERNEL_CMDLINE, DefaultImage, build_default_image
from mallee.node.network.nsock import listen_in
from mallee.qmp import Qmp

QBOOT = "/usr/share/qemu/qboot.rom"
METADATA_IP = "169.254.169.254"
SUBNET = "10.213.0"


def image_dir() -> Path:
    """The image setup builds (a no-op check when nothing changed), or MALLEE_TEST_IMAGE_DIR."""
    shared = os.environ.get("MALLEE_IMAGE_DIR", Path.home() / ".local/share/mallee/images")
    return Path(os.environ.get("MALLEE_TEST_IMAGE_DIR", shared))


@pytest.fixture(scope="session")
def image() -> DefaultImage:
    started = time.monotonic()
    built = build_default_image(image_dir())
    print(f"\nimage build (or cache check) took {time.monotonic() - started:.2f}s")
    return built


class Metadata(ThreadingHTTPServer):
    pages: dict[str, bytes]


class MetadataHandler(BaseHTTPRequestHandler):
    server: Metadata

    def do_GET(self) -> None:
        body = self.server.pages.get(self.path.rstrip("/"))
        self.send_response(200 if body is not None else 404)
        self.send_header("Content-Length", str(len(body or b"")))
        self.end_headers()
        self.wfile.write(body or b"")

    def log_message(self, format: str, *args: Any) -> None:
        pass


@dataclass
class Lab:
    """A namespace with a bridge, dnsmasq and metadata; one VM on a tap at a time."""

    netns: str
    work: Path
    pages: dict[str, bytes] = field(default_factory=dict)
    server: Metadata | None = None

    def ns(self, *argv: str, check: bool = True, timeout: float = 30) -> str:
        return run(in_netns(self.netns, argv), check=check, timeout=timeout).stdout

    def up(self) -> None:
        run(["ip", "netns", "add", self.netns])
        self.ns("ip", "link", "set", "lo", "up")
        self.ns("ip", "addr", "add", f"{METADATA_IP}/32", "dev", "lo")
        self.ns("ip", "link", "add", "br0", "type", "bridge")
        self.ns("ip", "addr", "add", f"{SUBNET}.1/24", "dev", "br0")
        self.ns("ip", "link", "set", "br0", "up")
        self.ns("ip", "tuntap", "add", "dev", "tap0", "mode", "tap")
        self.ns("ip", "link", "set", "tap0", "master", "br0", "up")
        self.server = Metadata(("", 0), MetadataHandler, bind_and_activate=False)
        self.server.socket.close()
        self.server.socket = listen_in(self.netns, METADATA_IP, 80)
        self.server.pages = self.pages
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def dhcp(self, mac: str, ip: str, hostname: str) -> None:
        self.ns(
            "dnsmasq", "--conf-file=/dev/null", "--port=0", "--user=root", "--interface=br0",
            "--bind-interfaces", f"--dhcp-range={SUBNET}.0,static,255.255.255.0,infinite",
            f"--dhcp-host={mac},{ip},{hostname},infinite",
            f"--dhcp-option=option:router,{SUBNET}.1", "--dhcp-authoritative",
            f"--dhcp-leasefile={self.work / 'leases'}", f"--pid-file={self.work / 'dnsmasq.pid'}",
        )  # fmt: skip

    def down(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
        with contextlib.suppress(OSError, ValueError):
            os.kill(int((self.work / "dnsmasq.pid").read_text()), signal.SIGTERM)
        run(["ip", "netns", "delete", self.netns], check=False)


@pytest.fixture
def lab(tmp_path: Path) -> Iterator[Lab]:
    made = Lab(f"mimg-{uuid.uuid4().hex[:8]}", tmp_path)
    try:
        made.up()
        yield made
    finally:
        made.down()


@dataclass
class Vm:
    proc: subprocess.Popen[bytes]
    dir: Path
    started: float

    @property
    def console(self) -> str:
        return (self.dir / "console.log").read_text(errors="replace")

    def qmp(self, command: str) -> None:
        with Qmp(self.dir / "qmp.sock") as q:
            q.execute(command)

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()


def boot(
    lab: Lab, image: DefaultImage, mac: str, *, disk: bool = True, extra: tuple[str, ...] = ()
) -> Vm:
    """QEMU as a node starts it: TCG, qboot, the ELF kernel, virtio disk overlay and NIC."""
    d = lab.work / "vm"
    d.mkdir(exist_ok=True)
    argv = [
        "qemu-system-x86_64", "-machine", "pc", "-accel", "tcg,tb-size=32", "-bios", QBOOT,
        "-m", "128", "-smp", "1", "-nodefaults", "-no-user-config", "-display", "none",
        "-no-reboot", "-kernel", str(image.kernel), "-initrd", str(image.ramdisk),
        "-netdev", "tap,id=net0,ifname=tap0,script=no,downscript=no",
        "-device", f"virtio-net-pci,netdev=net0,mac={mac},romfile=",
        "-chardev", f"file,id=ser0,path={d / 'console.log'}", "-serial", "chardev:ser0",
        "-qmp", f"unix:{d / 'qmp.sock'},server=on,wait=off",
        *extra,
    ]  # fmt: skip
    append = KERNEL_CMDLINE
    if disk:
        overlay = d / "root.qcow2"
        run(["qemu-img", "create", "-q", "-f", "qcow2", "-b", str(image.root), "-F", "qcow2",
             str(overlay)])  # fmt: skip
        argv += [
            "-blockdev",
            f"driver=qcow2,node-name=root,file.driver=file,file.filename={overlay}",
            "-device", "virtio-blk-pci,drive=root",
        ]  # fmt: skip
        append += f" root={default.ROOT_DEVICE}"
    log = (d / "qemu.log").open("wb")
    started = time.monotonic()
    proc = subprocess.Popen(in_netns(lab.netns, [*argv, "-append", append]), stdout=log,
                            stderr=subprocess.STDOUT)  # fmt: skip
    log.close()
    return Vm(proc, d, started)


def wait_http(lab: Lab, vm: Vm, ip: str, timeout: float = 120) -> str:
    """The first 200 from the guest's port 80; its body."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert vm.proc.poll() is None, f"QEMU exited:\n{vm.console[-3000:]}"
        curl = ["curl", "-sf", "--connect-timeout", "0.3", "-m", "2", f"http://{ip}/"]
        got = run(in_netns(lab.netns, curl), check=False)
        if got.returncode == 0:
            return got.stdout
        time.sleep(0.05)
    raise AssertionError(f"no HTTP from {ip} in {timeout}s:\n{vm.console[-3000:]}")


def wait_for(check: Any, timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def ssh(lab: Lab, key: Path, ip: str, command: str) -> subprocess.CompletedProcess[str]:
    argv = [
        "ssh", "-i", str(key), "-o", "StrictHostKeyChecking=no",
        "-o", "UserKnownHostsFile=/dev/null", "-o", "BatchMode=yes",
        "-o", "ConnectTimeout=5", "-o", "LogLevel=ERROR", f"root@{ip}", command,
    ]  # fmt: skip
    return run(in_netns(lab.netns, argv), check=False, timeout=60)


def serve_instance(lab: Lab, instance_id: str, public_key: str, user_data: str) -> None:
    lab.pages.update({
        "/latest/meta-data/instance-id": instance_id.encode(),
        "/latest/meta-data/public-keys/0/openssh-key": public_key.encode(),
        "/latest/user-data": user_data.encode(),
    })  # fmt: skip


@pytest.mark.vm
def test_disk_boot_serves_http_runs_user_data_takes_ssh_and_powers_off(
    image: DefaultImage, lab: Lab
) -> None:
    key = lab.work / "id_ed25519"
    run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)])
    token = uuid.uuid4().hex
    instance_id, mac, ip = "i-0123456789abcdef0", "52:54:00:21:30:0a", f"{SUBNET}.10"
    user_data = f"#!/bin/sh\necho {token} > /root/user-data-ran\necho user-data says {token}\n"
    serve_instance(lab, instance_id, key.with_suffix(".pub").read_text(), user_data)
    lab.dhcp(mac, ip, "test-host")
    vm = boot(lab, image, mac)
    try:
        page = wait_http(lab, vm, ip)
        print(f"\nboot to HTTP 200: {time.monotonic() - vm.started:.2f}s")
        assert instance_id in page
        wait_for(lambda: "EUCA-READY" in vm.console, 60, "EUCA-READY on the console")
        console = vm.console
        assert f"EUCA-READY instance-id={instance_id}" in console
        assert f"user-data says {token}" in console
        ran = ssh(lab, key, ip, "cat /root/user-data-ran; hostname; grep ' / ' /proc/mounts")
        assert ran.returncode == 0, ran.stderr
        assert token in ran.stdout
        assert "test-host" in ran.stdout
        assert "ext4" in ran.stdout
        vm.qmp("system_powerdown")
        assert vm.proc.wait(timeout=60) == 0
        assert "EUCA-SHUTDOWN" in vm.console
    finally:
        vm.kill()


@pytest.mark.vm
def test_kernel_and_ramdisk_alone_boot_from_ram(image: DefaultImage, lab: Lab) -> None:
    instance_id, mac, ip = "i-00000000000000ram", "52:54:00:21:30:0b", f"{SUBNET}.11"
    serve_instance(lab, instance_id, "", "")
    lab.dhcp(mac, ip, "ram-host")
    vm = boot(lab, image, mac, disk=False)
    try:
        assert instance_id in wait_http(lab, vm, ip)
        wait_for(lambda: "EUCA-READY" in vm.console, 60, "EUCA-READY on the console")
        assert "EUCA-USERDATA" not in vm.console
    finally:
        vm.kill()


# ---- unit tests (no VM): the build cache and the formats


def test_build_is_cached_by_its_inputs(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    builds: list[str] = []
    versions = {"busybox-static": "1.35", "dropbear-bin": "2022.83"}
    package = kernel.KernelPackage("linux-image-6.1.0-1-cloud-amd64", "6.1.1-1")

    def fake_build(image_dir: Path, pkg: kernel.KernelPackage) -> None:
        builds.append(pkg.version)
        for name in ("vmlinux", "initrd.cpio", "root.qcow2"):
            (image_dir / name).write_text(pkg.version)

    monkeypatch.setattr(default, "_build", fake_build)
    monkeypatch.setattr(default, "_kernel_package", lambda debs: package)
    monkeypatch.setattr(default, "_package_versions", lambda: dict(versions))
    assert default.default_image_paths(tmp_path) is None
    first = build_default_image(tmp_path)
    assert build_default_image(tmp_path) == first == default.default_image_paths(tmp_path)
    assert builds == ["6.1.1-1"]
    versions["dropbear-bin"] = "2024.1"
    build_default_image(tmp_path)
    package = kernel.KernelPackage(package.name, "6.1.2-1")
    build_default_image(tmp_path)
    build_default_image(tmp_path, force=True)
    assert builds == ["6.1.1-1", "6.1.1-1", "6.1.2-1", "6.1.2-1"]
    assert json.loads((tmp_path / "stamp.json").read_text())["dropbear-bin"] == "2024.1"


def test_vmlinux_is_found_in_a_bzimage(tmp_path: Path) -> None:
    elf = b"\x7fELF" + bytes(60)
    packed = gzip.compress(elf) + struct.pack("<I", len(elf))
    setup_sectors, offset = 3, 0x40
    image = bytearray((setup_sectors + 1) * 512 + offset)
    image[0x1F1] = setup_sectors
    image[0x202:0x208] = b"HdrS" + struct.pack("<H", 0x20F)
    struct.pack_into("<II", image, 0x248, offset, len(packed))
    assert kernel.extract_vmlinux(bytes(image) + packed, tmp_path) == elf
    with pytest.raises(ValueError):
        kernel.extract_vmlinux(b"MZ" + bytes(1024), tmp_path)


def test_mbr_has_one_linux_partition_from_one_mib() -> None:
    mbr = rootfs.mbr(64 << 20)
    assert len(mbr) == 512 and mbr[510:] == b"\x55\xaa"
    boot, kind, start, count = struct.unpack_from("<B3xB3xII", mbr, 446)
    assert (boot, kind, start, start + count) == (0x80, 0x83, 2048, (64 << 20) // 512)
    assert mbr[462:510] == bytes(48)


def read_newc(data: bytes) -> dict[str, tuple[int, bytes, int]]:
    """name -> (mode, data, rdevmajor), read back as the kernel reads an initramfs."""
    out: dict[str, tuple[int, bytes, int]] = {}
    at = 0
    while True:
        assert data[at : at + 6] == b"070701"
        fields = [int(data[at + 6 + 8 * i : at + 14 + 8 * i], 16) for i in range(13)]
        mode, size, rdev_major, name_size = fields[1], fields[6], fields[9], fields[11]
        name_at = at + 110
        name = data[name_at : name_at + name_size - 1].decode()
        body_at = name_at + name_size + (-(110 + name_size) % 4)
        if name == "TRAILER!!!":
            return out
        out[name] = (mode, data[body_at : body_at + size], rdev_major)
        at = body_at + size + (-size % 4)


def test_cpio_newc_entries(tmp_path: Path) -> None:
    (tmp_path / "t/bin").mkdir(parents=True)
    (tmp_path / "t/bin/tool").write_bytes(b"abcde")
    (tmp_path / "t/bin/tool").chmod(0o750)
    (tmp_path / "t/bin/alias").symlink_to("tool")
    out = tmp_path / "a.cpio"
    with out.open("wb") as f:
        archive = cpio.Archive(f)
        archive.tree(tmp_path / "t")
        archive.device("dev/console", major=5, minor=1)
        archive.close()
    entries = read_newc(out.read_bytes())
    assert list(entries) == ["bin", "bin/alias", "bin/tool", "dev/console"]
    assert entries["bin"][0] == stat.S_IFDIR | 0o755
    assert entries["bin/tool"] == (stat.S_IFREG | 0o750, b"abcde", 0)
    assert entries["bin/alias"] == (stat.S_IFLNK | 0o777, b"tool", 0)
    assert entries["dev/console"][0] == stat.S_IFCHR | 0o600
    assert entries["dev/console"][2] == 5
