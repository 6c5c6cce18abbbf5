"""Pieces of the QEMU driver that need no QEMU: exit causes, the QMP client, the image cache."""

from __future__ import annotations

import json
import socket
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from mallee.cloud_identity import system_account_id
from mallee.node.hypervisor.qemu import QemuHypervisor, console_says_poweroff, exit_cause
from mallee.node.image_cache import ImageCache, ImageError
from mallee.qmp import Qmp, QmpError
from mallee.services.ec2.images import register_local_image
from mallee.services.iam.bootstrap import ensure_system_account
from mallee.store import Store
from mallee.store.tables.ec2 import Ec2Image

RUNNING = "runstate_set current_run_state 6 (prelaunch) new_state 9 (running)\n"
STOPPED = "runstate_set current_run_state 9 (running) new_state 11 (shutdown)\n"


# What QEMU 7.2 wrote to -D for each way a VM ended (recorded on this machine).
@pytest.mark.nodb
@pytest.mark.parametrize(
    ("trace", "cause"),
    [
        (RUNNING + "qemu_system_shutdown_request reason=6\n" + STOPPED, "poweroff"),
        (RUNNING + STOPPED, "reset"),  # guest reboot, panic=1, QMP system_reset
        (RUNNING + "qemu_system_shutdown_request reason=2\n" + STOPPED, "reset"),  # QMP quit
        (RUNNING, "unknown"),  # SIGKILL, a crash
        ("", "unknown"),
    ],
)
def test_exit_cause(trace: str, cause: str) -> None:
    assert exit_cause(trace) == cause


@pytest.mark.nodb
def test_console_fallback() -> None:
    assert console_says_poweroff("...\n[   36.7] reboot: Power down\n")
    assert not console_says_poweroff("[ 1.5] Kernel panic\n[ 1.5] Rebooting in 1 seconds..\n")
    assert not console_says_poweroff(
        "reboot: Power down\n[mallee] starting\nreboot: Restarting system\n"
    )
    assert not console_says_poweroff("")


class FakeQemu:
    """A QMP server speaking just enough of the protocol, on a unix socket."""

    def __init__(self, path: Path) -> None:
        self.server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.server.bind(str(path))
        self.server.listen(1)
        self.seen: list[dict[str, object]] = []
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        conn, _ = self.server.accept()
        with conn, conn.makefile("rwb") as f:
            f.write(b'{"QMP": {"version": {}, "capabilities": []}}\n')
            f.flush()
            for line in f:
                request = json.loads(line)
                self.seen.append(request)
                replies = self._answer(request["execute"])
                f.write(b"".join(json.dumps(r).encode() + b"\n" for r in replies))
                f.flush()

    @staticmethod
    def _answer(command: str) -> list[dict[str, object]]:
        if command == "system_reset":
            event = {"event": "SHUTDOWN", "data": {"reason": "host-qmp-system-reset"}}
            return [event, {"return": {}}]
        if command == "qmp_capabilities":
            return [{"return": {}}]
        if command == "query-status":
            return [{"return": {"status": "running", "running": True}}]
        if command == "hang":
            return []
        return [{"error": {"class": "CommandNotFound", "desc": f"no {command}"}}]


@pytest.fixture
def qemu(tmp_path: Path) -> Iterator[tuple[FakeQemu, Path]]:
    path = tmp_path / "qmp.sock"
    server = FakeQemu(path)
    yield server, path
    server.server.close()


@pytest.mark.nodb
def test_qmp_commands_events_and_errors(qemu: tuple[FakeQemu, Path]) -> None:
    server, path = qemu
    with Qmp(path) as q:
        assert q.execute("query-status")["status"] == "running"
        assert q.execute("system_reset") == {}
        # The event that came before the reply waits in the queue.
        assert q.wait_event("SHUTDOWN", 1)["data"]["reason"] == "host-qmp-system-reset"
        with pytest.raises(QmpError, match="no frobnicate"):
            q.execute("frobnicate")
        with pytest.raises(QmpError, match="in time"):
            q.execute("hang", timeout=0.2)
    assert server.seen[0] == {"execute": "qmp_capabilities"}


@pytest.mark.nodb
def test_qmp_to_nothing_is_a_qmp_error(tmp_path: Path) -> None:
    with pytest.raises(QmpError):
        Qmp(tmp_path / "absent.sock")


class TestImageCache:
    def _image(self, store: Store, tmp_path: Path) -> tuple[str, Path]:
        ensure_system_account(store)
        source = tmp_path / "disk.img"
        source.write_bytes(b"disk" * 1000)
        owner = system_account_id(store)
        image_id = register_local_image(store, owner, name="d", path=source, image_type="machine")
        return image_id, source

    def test_copied_once_by_digest(self, store: Store, tmp_path: Path) -> None:
        image_id, source = self._image(store, tmp_path)
        cache = ImageCache(tmp_path / "cache", store)
        cached = cache.path(image_id)
        assert cached.read_bytes() == source.read_bytes()
        with store.read() as s:
            image = s.get(Ec2Image, image_id)
            assert image is not None and cached.name == image.digest
        source.unlink()  # a second launch needs only the cache
        assert cache.path(image_id) == cached

    def test_changed_source_is_refused(self, store: Store, tmp_path: Path) -> None:
        image_id, source = self._image(store, tmp_path)
        source.write_bytes(b"something else")
        with pytest.raises(ImageError, match="changed"):
            ImageCache(tmp_path / "cache", store).path(image_id)
        assert not [p for p in (tmp_path / "cache").iterdir()]


@pytest.mark.nodb
@pytest.mark.parametrize(("disk_gb", "size"), [(5, 5 << 30), (0, 2 << 30), (1, 2 << 30)])
def test_overlay_has_the_instance_types_disk_size_never_less_than_the_image(
    tmp_path: Path, disk_gb: int, size: int
) -> None:
    base, overlay = tmp_path / "image.qcow2", tmp_path / "root.qcow2"
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", str(base), "2G"], check=True)
    QemuHypervisor(tmp_path / "run")._create_overlay(base, overlay, disk_gb)
    info = subprocess.run(
        ["qemu-img", "info", "--output=json", str(overlay)], capture_output=True, check=True
    )
    assert json.loads(info.stdout)["virtual-size"] == size
