"""The storage host's NBD server: one qemu-storage-daemon, driven over QMP.

run_dir/: qmp.sock (its monitor), nbd.sock (the NBD server every export is served on),
qsd.pid. The agent starts it when a volume is first exported (a storage host with nothing
attached runs no daemon). It runs in its own session, so it and the nodes' connections to it
outlive the agent; a new agent finds it by pid file and command line, asks it which exports it has
(`query-block-exports`), and adds what is missing.

The NBD server listens on a unix socket, not a loopback port: the nodes' QEMUs run in network
namespaces of their own, where the host's loopback is not reachable but the file system is,
and only the cloud's own user can open a socket in its private data directory (a loopback
port would serve every volume to any local process).
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

from mallee.commands import CommandError, run
from mallee.datadir import tighten
from mallee.qmp import Qmp, QmpError
from mallee.store.tables.ebs import export_volume

log = logging.getLogger(__name__)

# How long a hard export removal may take before its block node is dropped anyway.
UNEXPORT_TIMEOUT = 5.0

# The NBD server takes each request's data into a buffer of its own, which glibc maps afresh
# and unmaps per request once it is past 128 KiB: every 1 MiB request paid 256 page faults and
# zeroed pages (a third of the daemon's CPU in bench/ebs.py's reads). Kept in the heap up to NBD's
# largest request (32 MiB), the buffers are reused; what was freed is kept up to 64 MiB.
MALLOC_ENV = {"MALLOC_MMAP_THRESHOLD_": str(32 << 20), "MALLOC_TRIM_THRESHOLD_": str(64 << 20)}


class DaemonError(RuntimeError):
    pass


class StorageDaemon:
    def __init__(self, run_dir: Path) -> None:
        self.run_dir = run_dir
        self.qmp_path = run_dir / "qmp.sock"
        self.nbd_path = run_dir / "nbd.sock"
        self.pid_path = run_dir / "qsd.pid"
        # io_uring until this host's QEMU or kernel refuses it (then the thread pool).
        self.aio = "io_uring"

    def pid(self) -> int | None:
        """The daemon's pid while it runs (a recycled pid would not name our monitor)."""
        try:
            pid = int(self.pid_path.read_text().strip())
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except (OSError, ValueError):
            return None
        return pid if str(self.qmp_path).encode() in cmdline else None

    def running(self) -> bool:
        return self.pid() is not None

    def ensure(self) -> bool:
        """Start the daemon unless it runs; True when it was started (it has no exports)."""
        if self.pid():
            return False
        self.run_dir.mkdir(parents=True, exist_ok=True)
        for stale in (self.qmp_path, self.nbd_path, self.pid_path):
            stale.unlink(missing_ok=True)
        argv = [
            "qemu-storage-daemon",
            "--chardev", f"socket,id=mon,path={self.qmp_path},server=on,wait=off",
            "--monitor", "chardev=mon",
            "--nbd-server", f"addr.type=unix,addr.path={self.nbd_path}",
            "--pidfile", str(self.pid_path),
            "--daemonize",
        ]  # fmt: skip
        try:
            run(argv, timeout=30, env={**os.environ, **MALLOC_ENV})
        except (CommandError, subprocess.TimeoutExpired, OSError) as err:
            said = err.stderr.strip() if isinstance(err, CommandError) else str(err)
            raise DaemonError(f"qemu-storage-daemon did not start: {said}") from err
        if not self.pid():
            raise DaemonError("qemu-storage-daemon exited at once")
        # A daemonizing QEMU sets its own umask: its sockets are narrowed to the owner here.
        tighten(self.run_dir)
        log.info("qemu-storage-daemon started (pid %s), NBD on %s", self.pid(), self.nbd_path)
        return True

    def _qmp(self) -> Qmp:
        try:
            return Qmp(self.qmp_path, timeout=10.0)
        except QmpError as err:
            raise DaemonError(str(err)) from err

    def exports(self) -> set[str]:
        """The names of the exports the daemon serves (nbd_export_name: one per attachment)."""
        with self._qmp() as q:
            found: list[dict[str, Any]] = q.execute("query-block-exports")
        return {str(e["id"]) for e in found if not e.get("shutting-down")}

    def export(self, name: str, path: Path) -> None:
        """Serve the file of the volume `name` is for (its block node, named after the
        volume) as the writable NBD export `name`, whose id is its name too (idempotent)."""
        volume_id = export_volume(name)
        with self._qmp() as q:
            nodes = {n.get("node-name") for n in q.execute("query-named-block-nodes")}
            if volume_id not in nodes:
                self._add_raw_node(q, volume_id, path)
            exported = {e["id"] for e in q.execute("query-block-exports")}
            if name not in exported:
                q.execute(
                    "block-export-add",
                    type="nbd",
                    id=name,
                    name=name,
                    writable=True,
                    **_node(volume_id),
                )

    def _add_raw_node(self, q: Qmp, volume_id: str, path: Path) -> None:
        try:
            q.execute("blockdev-add", **_raw_node(volume_id, path, self.aio))
        except QmpError:
            if self.aio == "threads":
                raise
            # A QEMU built without io_uring, or a kernel that forbids it: the thread pool
            # serves the same bytes, more slowly. Any other error comes back from it.
            log.info("qemu-storage-daemon cannot use aio=%s: using threads", self.aio)
            self.aio = "threads"
            q.execute("blockdev-add", **_raw_node(volume_id, path, self.aio))

    def unexport(self, name: str) -> None:
        """Stop serving the export, cutting off any client still connected, and close its
        volume's block node when no other export serves it (idempotent)."""
        volume_id = export_volume(name)
        with self._qmp() as q:
            exported = {e["id"] for e in q.execute("query-block-exports")}
            if name in exported:
                q.execute("block-export-del", id=name, mode="hard")
                with contextlib.suppress(QmpError):
                    q.wait_event("BLOCK_EXPORT_DELETED", UNEXPORT_TIMEOUT)
            still = {
                e.get("node-name") for e in q.execute("query-block-exports") if e["id"] != name
            }
            nodes = {n.get("node-name") for n in q.execute("query-named-block-nodes")}
            if volume_id in nodes and volume_id not in still:
                q.execute("blockdev-del", **_node(volume_id))

    def resize(self, volume_id: str, size: int) -> None:
        """Tell the daemon an exported volume's file grew (new clients see the new size)."""
        with self._qmp() as q:
            nodes = {n.get("node-name") for n in q.execute("query-named-block-nodes")}
            if volume_id in nodes:
                q.execute("block_resize", size=size, **_node(volume_id))

    def backup(self, volume_id: str, target: Path, size: int, timeout: float = 600.0) -> None:
        """Copy the exported volume as it is now into a new qcow2 file `target`: QEMU's
        `blockdev-backup sync=full` copies each block before a guest write may change it, so
        the copy is point-in-time and crash-consistent while the guest keeps writing. Blocks
        that read as zeros become zero clusters: the file holds only the data."""
        node = job = f"backup-{volume_id}"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.unlink(missing_ok=True)
        with self._qmp() as q:
            # A backup an agent killed mid-snapshot left running, or its target node.
            _drop_backup(q, job, node)
            try:
                run(["qemu-img", "create", "-q", "-f", "qcow2", str(target), str(size)], timeout=60)
            except (CommandError, subprocess.TimeoutExpired, OSError) as err:
                raise DaemonError(f"cannot make the backup target: {err}") from err
            q.execute(
                "blockdev-add",
                **_node(node),
                driver="qcow2",
                file={"driver": "file", "filename": str(target)},
            )
            try:
                backup: dict[str, Any] = {"job-id": job, "device": volume_id, "target": node}
                q.execute("blockdev-backup", sync="full", **backup)
                _wait_job(q, job, timeout)
            finally:
                with contextlib.suppress(QmpError):
                    q.execute("blockdev-del", **_node(node))

    def stop(self) -> None:
        """End the daemon (tests, `mallee down`): the nodes lose their volumes' backing."""
        pid = self.pid()
        if pid is None:
            return
        with contextlib.suppress(DaemonError, QmpError), self._qmp() as q:
            q.execute("quit")
        deadline = time.monotonic() + 5
        while self.pid() and time.monotonic() < deadline:
            time.sleep(0.05)
        if self.pid():
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


def _node(volume_id: str) -> dict[str, Any]:
    # QMP's member is "node-name", which no Python keyword argument can spell.
    return {"node-name": volume_id}


def _raw_node(volume_id: str, path: Path, aio: str) -> dict[str, Any]:
    """The volume file through the host's page cache (cache.direct off), as a node's local
    qcow2 disk is; a guest's flush reaches the file as fdatasync. io_uring completes a read
    the page cache holds in the daemon's own thread: the thread pool's hand-over to a worker
    and back cost each request two wake-ups (bench/ebs.py: reads 1.7x, writes 1.4x faster
    with the heap buffers too)."""
    file = {"driver": "file", "filename": str(path), "aio": aio}
    return {**_node(volume_id), "driver": "raw", "file": file}


def _wait_job(q: Qmp, job: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            _drop_backup(q, job, None)
            raise DaemonError(f"backup {job} did not end within {timeout:g}s")
        try:
            event = q.wait_event("BLOCK_JOB_COMPLETED", left)
        except QmpError as err:
            _drop_backup(q, job, None)
            raise DaemonError(f"backup {job}: {err}") from err
        data = event.get("data") or {}
        if data.get("device") != job:
            continue
        if data.get("error"):
            raise DaemonError(f"backup {job} failed: {data['error']}")
        return


def _drop_backup(q: Qmp, job: str, node: str | None) -> None:
    """Cancel the backup job `job` and remove its target node, where they exist."""
    if any(j.get("device") == job for j in q.execute("query-block-jobs")):
        q.execute("block-job-cancel", device=job, force=True)
        with contextlib.suppress(QmpError):
            q.wait_event("BLOCK_JOB_CANCELLED", UNEXPORT_TIMEOUT)
    if node and node in {n.get("node-name") for n in q.execute("query-named-block-nodes")}:
        q.execute("blockdev-del", **_node(node))
