"""The storage host's qemu-storage-daemon: started, adopted, exporting volumes over NBD."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from mallee.storage.daemon import StorageDaemon
from mallee.storage.overlay import OverlayBackend
from mallee.store.tables.ebs import nbd_export_name

pytestmark = pytest.mark.skipif(
    shutil.which("qemu-storage-daemon") is None or shutil.which("qemu-io") is None,
    reason="needs qemu-storage-daemon and qemu-io",
)


@pytest.fixture
def daemon(tmp_path: Path) -> Iterator[StorageDaemon]:
    d = StorageDaemon(tmp_path / "run")
    yield d
    d.stop()


def _nbd_io(d: StorageDaemon, export: str, command: str) -> str:
    url = f"nbd+unix:///{export}?socket={d.nbd_path}"
    done = subprocess.run(
        ["qemu-io", "-f", "raw", "-c", command, url], capture_output=True, text=True, check=False
    )
    return done.stdout + done.stderr


def test_exports_a_volume_that_outlives_the_agent(daemon: StorageDaemon, tmp_path: Path) -> None:
    backend = OverlayBackend(tmp_path / "volumes")
    path = backend.create("vol-0123456789abcdef0", 1)
    assert path.stat().st_size == 1 << 30
    assert path.stat().st_blocks == 0  # sparse
    assert daemon.ensure() is True
    daemon.export("vol-0123456789abcdef0", path)
    daemon.export("vol-0123456789abcdef0", path)  # repeated: no error, one export
    assert daemon.exports() == {"vol-0123456789abcdef0"}
    out = _nbd_io(daemon, "vol-0123456789abcdef0", "write -P 0x5a 4096 4096")
    assert "wrote 4096/4096" in out
    # A new agent's object finds the same daemon and its exports.
    again = StorageDaemon(tmp_path / "run")
    assert again.ensure() is False
    assert again.exports() == {"vol-0123456789abcdef0"}
    again.unexport("vol-0123456789abcdef0")
    again.unexport("vol-0123456789abcdef0")
    assert again.exports() == set()
    assert path.read_bytes()[4096:8192] == b"\x5a" * 4096


def test_a_dead_daemon_is_started_again(daemon: StorageDaemon) -> None:
    daemon.ensure()
    daemon.stop()
    assert daemon.pid() is None
    assert daemon.ensure() is True
    assert daemon.exports() == set()


def test_a_new_attachment_gets_an_export_the_old_client_cannot_reach(
    daemon: StorageDaemon, tmp_path: Path
) -> None:
    """A stale NBD client (a node gone silent) asks for its attachment's export again: once
    the volume is exported for a new attachment, that name serves nothing."""
    volume_id = "vol-0123456789abcdef0"
    path = OverlayBackend(tmp_path / "volumes").create(volume_id, 1)
    daemon.ensure()
    old = nbd_export_name(volume_id, "0a0a0a0a")
    new = nbd_export_name(volume_id, "0b0b0b0b")
    daemon.export(old, path)
    assert "wrote 4096/4096" in _nbd_io(daemon, old, "write -P 0x11 0 4096")
    daemon.unexport(old)
    daemon.export(new, path)
    assert daemon.exports() == {new}
    assert "wrote" not in _nbd_io(daemon, old, "write -P 0x22 0 4096")
    assert "wrote 4096/4096" in _nbd_io(daemon, new, "write -P 0x33 4096 4096")
    daemon.unexport(new)
    assert daemon.exports() == set()
    data = path.read_bytes()
    assert data[:4096] == b"\x11" * 4096 and data[4096:8192] == b"\x33" * 4096


def test_volumes_are_served_with_io_uring_or_else_the_thread_pool(
    daemon: StorageDaemon, tmp_path: Path
) -> None:
    """The file under an export uses io_uring where this QEMU and kernel allow it; an aio
    mode the daemon refuses falls back to the thread pool, and the volume is served all the
    same, its flushes included."""
    backend = OverlayBackend(tmp_path / "volumes")
    first = backend.create("vol-0123456789abcdef0", 1)
    daemon.ensure()
    daemon.export("vol-0123456789abcdef0", first)
    assert daemon.aio in ("io_uring", "threads")
    assert "wrote 4096/4096" in _nbd_io(daemon, "vol-0123456789abcdef0", "write -P 0x5b 0 4096")
    daemon.aio = "no-such-mode"
    second = backend.create("vol-0123456789abcdef1", 1)
    daemon.export("vol-0123456789abcdef1", second)
    assert daemon.aio == "threads"
    out = _nbd_io(daemon, "vol-0123456789abcdef1", "write -P 0x7e 0 65536")
    assert "wrote 65536/65536" in out
    assert "failed" not in _nbd_io(daemon, "vol-0123456789abcdef1", "flush")
    assert second.read_bytes()[:65536] == b"\x7e" * 65536
