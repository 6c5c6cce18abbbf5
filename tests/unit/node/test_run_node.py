"""`mallee node` as a process (fake hypervisor): it registers, reports, runs instances, and a
SIGTERM or SIGKILL leaves its VMs to the next agent."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from mallee.config import Settings
from mallee.node.hypervisor.fake import FakeHypervisor
from mallee.node.hypervisor.probe import choose_accel
from mallee.registry import components
from mallee.store import Store
from mallee.store.tables.compute import NodeRow
from tests.unit.node.rows import NODE, instance, row_of


def wait_for(check: Callable[[], object], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)


def start(tmp_path: Path, db_url: str) -> subprocess.Popen[bytes]:
    env = dict(
        os.environ,
        MALLEE_DATA_DIR=str(tmp_path),
        MALLEE_DB_URL=db_url,
        MALLEE_HYPERVISOR="fake",
        MALLEE_NODE_NAME=NODE,
    )
    log = (tmp_path / "node.log").open("ab")
    return subprocess.Popen([sys.executable, "-m", "mallee", "node"], env=env, stdout=log,
                            stderr=subprocess.STDOUT)  # fmt: skip


def node_row(store: Store) -> NodeRow | None:
    with store.read() as s:
        return s.get(NodeRow, NODE)


def fake_vms(tmp_path: Path) -> dict[str, dict[str, object]]:
    return FakeHypervisor.saved(tmp_path / "nodes" / NODE)


def test_node_process_survives_restarts_without_touching_vms(
    store: Store,
    db_url: str,
    tmp_path: Path,
    images: dict[str, str],
) -> None:
    proc = start(tmp_path, db_url)
    try:
        wait_for(lambda: node_row(store) is not None)
        services = [s for s in components.list_services(store) if s.type == "node"]
        assert [(s.name, s.partition) for s in services] == [(NODE, "one")]
        iid = instance(store, images)
        wait_for(lambda: row_of(store, iid).state == "running")
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=20) == 0
        assert fake_vms(tmp_path)[iid]["alive"]

        proc = start(tmp_path, db_url)
        time.sleep(2)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        vm = fake_vms(tmp_path)[iid]
        assert vm["alive"] and vm["boots"] == 1
        assert row_of(store, iid).state == "running"
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_accel_choice_is_remembered(tmp_path: Path) -> None:
    (tmp_path / "accel").write_text("tcg\n")
    assert choose_accel("auto", Path("/nonexistent"), Path("/nonexistent"), tmp_path) == "tcg"
    assert choose_accel("kvm", Path(), Path(), tmp_path) == "kvm"
    assert Settings().hypervisor == "auto"
