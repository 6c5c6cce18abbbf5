"""Imports off the storage agent's tick: a conversion holds up no other work, at most `workers`
run at once (fewest per account first, the rest left to the zone's other agents), a cancel
kills the running qemu-img, what a killed agent left running is killed before the task starts
over, images are bounded before they are converted, and an imported volume is made on the
zone's backend (ceph-rbd through its recorded commands)."""

# The agent tests' fixtures are imported, so every parameter named so redefines them.
# ruff: noqa: F811, F401

from __future__ import annotations

import datetime as dt
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from mallee.ids import new_id
from mallee.objectstore.backends.fs import FsBackend
from mallee.registry import components, properties
from mallee.storage import import_children, imports
from mallee.storage.agent import StorageAgent
from mallee.storage.backends import CephClient
from mallee.storage.overlay import OverlayBackend
from mallee.storage.rbd import RbdBackend
from mallee.store import Store
from mallee.store.tables.ebs import Ec2Snapshot, StorageHost
from mallee.store.tables.iam import IamAccount
from mallee.store.tables.imports import Ec2ImportTask
from tests.unit.storage.test_agent import FakeExporter, _volume, _volume_row, account
from tests.unit.storage.test_imports import (
    BUCKET,
    _task,
    agent_for,
    made,
    objects,
    pattern,
    put_object,
    settle,
    task_row,
    volume_row,
    volume_task,
)
from tests.unit.storage.test_rbd import PREFIX, Rbd

pytestmark = pytest.mark.skipif(shutil.which("qemu-img") is None, reason="needs qemu-img")
GiB = 1 << 30
# A process that runs ten minutes, its last argument a path it names.
SLEEPER = [sys.executable, "-c", "import time; time.sleep(600)"]


@pytest.fixture
def gate(monkeypatch: pytest.MonkeyPatch) -> Iterator[threading.Event]:
    """Conversions wait until it is set, then qemu-img runs."""
    opened = threading.Event()
    real = imports.convert

    def waiting(*args: Any, **kwargs: Any) -> None:
        assert opened.wait(120)
        real(*args, **kwargs)

    monkeypatch.setattr(imports, "convert", waiting)
    yield opened
    opened.set()


def other_account(store: Store) -> str:
    with store.session() as s:
        s.add(IamAccount(id="222222222222", name="other", created_at=dt.datetime.now(dt.UTC)))
    return "222222222222"


def test_a_conversion_holds_up_no_other_volume(
    store: Store, account: str, tmp_path: Path, objects: FsBackend, gate: threading.Event
) -> None:
    task_id, imported = volume_task(store, objects, account, pattern(), "RAW")
    agent = agent_for(store, tmp_path, objects)
    agent.tick()
    assert agent.imports.running() == [task_id]
    # Another account's CreateVolume while the conversion waits: made by the next tick.
    plain = _volume(store, account)
    agent.tick()
    assert _volume_row(store, plain).state == "available"
    assert task_row(store, task_id).state == "active"
    assert volume_row(store, imported).state == "creating"
    # Nothing new to do while it runs: the agent's loop waits instead of spinning.
    assert not agent.has_work()
    gate.set()
    settle(agent)
    assert task_row(store, task_id).state == "completed"
    assert volume_row(store, imported).state == "available"


def test_at_most_workers_at_once_fewest_per_account_first(
    store: Store, account: str, tmp_path: Path, objects: FsBackend, gate: threading.Event
) -> None:
    other = other_account(store)
    first = volume_task(store, objects, account, pattern(), "RAW", name="a1")[0]
    second = volume_task(store, objects, account, pattern(), "RAW", name="a2")[0]
    third = volume_task(store, objects, account, pattern(), "RAW", name="a3")[0]
    theirs = volume_task(store, objects, other, pattern(), "RAW", name="b1")[0]
    agent = agent_for(store, tmp_path, objects)
    agent.tick()
    # Two at once: the first account's oldest and the other account's, though it came last.
    assert sorted(agent.imports.running()) == sorted([first, theirs])
    # The rest are not held: another agent of the zone takes them.
    assert task_row(store, second).storage_host == task_row(store, third).storage_host == ""
    sc2 = agent_for(store, tmp_path / "sc2", objects, name="sc2")
    sc2.tick()
    assert sorted(sc2.imports.running()) == sorted([second, third])
    gate.set()
    settle(agent)
    settle(sc2)
    assert {task_row(store, t).state for t in (first, second, third, theirs)} == {"completed"}
    assert task_row(store, third).storage_host == "sc2"


def _slow_convert(src: Path, fmt: str, dest: Path, started: Any = None) -> None:
    """A conversion that would take ten minutes (a process naming the work directory)."""
    import_children.run_tracked([*SLEEPER, str(dest)], dest.parent, 900, started)


def test_a_cancel_kills_the_running_conversion(
    store: Store, account: str, tmp_path: Path, objects: FsBackend, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(imports, "convert", _slow_convert)
    task_id, volume_id = volume_task(store, objects, account, pattern(), "RAW")
    agent = agent_for(store, tmp_path, objects)
    agent.tick()
    running = agent.imports._running[task_id]
    pid_file = tmp_path / "volumes" / "imports" / task_id / import_children.PID_FILE
    while not running.children or not pid_file.exists():
        assert running.thread is not None and running.thread.is_alive()
        running.thread.join(0.05)
    child = running.children[0]
    # CancelConversionTask of the claimed task.
    with store.session() as s:
        row = s.get_one(Ec2ImportTask, task_id)
        row.state, row.status_message = "cancelling", "User requested: enough"
    settle(agent)
    assert child.returncode is not None
    task = task_row(store, task_id)
    assert (task.state, task.status_message) == ("cancelled", "User requested: enough")
    assert volume_row(store, volume_id).state == "deleted"
    assert not (tmp_path / "volumes" / "imports" / task_id).exists()


def test_a_conversion_left_by_a_killed_agent_is_killed_before_the_task_starts_over(
    store: Store, account: str, tmp_path: Path, objects: FsBackend
) -> None:
    raw = pattern()
    task_id, volume_id = volume_task(store, objects, account, raw, "RAW")
    with store.session() as s:
        s.get_one(Ec2ImportTask, task_id).storage_host = "sc1"
    work = tmp_path / "volumes" / "imports" / task_id
    work.mkdir(parents=True)
    # What the killed agent's qemu-img looked like: still writing its converted file.
    leftover = subprocess.Popen([*SLEEPER, str(work / "converted.raw")])
    (work / import_children.PID_FILE).write_text(f"{leftover.pid}\n")
    try:
        assert import_children.leftovers(work) == {leftover.pid}
        settle(agent_for(store, tmp_path, objects))
        assert leftover.wait(10) == -9
    finally:
        if leftover.poll() is None:
            leftover.kill()
            leftover.wait()
    assert task_row(store, task_id).state == "completed"
    with open(tmp_path / "volumes" / f"{volume_id}.raw", "rb") as f:
        assert f.read(len(raw)) == raw


def snapshot_task(store: Store, objects: FsBackend, account: str, image: bytes) -> tuple[str, str]:
    """An ImportSnapshot's rows as the api writes them (a qcow2 object)."""
    etag = put_object(store, objects, account, "disk.qcow2", image)
    snapshot_id, task_id = new_id("snap"), new_id("import-snap")
    now = dt.datetime.now(dt.UTC)
    part = {"bucket": BUCKET, "key": "disk.qcow2", "etag": etag, "start": 0, "end": len(image) - 1}
    with store.session() as s:
        s.add(
            Ec2Snapshot(
                id=snapshot_id, account_id=account, volume_id="vol-ffffffff", volume_size_gib=1,
                state="pending", started_at=now, storage_host="",
            )
        )  # fmt: skip
        s.flush()
        s.add(_task(task_id, account, "import-snapshot", "QCOW2", len(image), [part], now,
                    snapshot_id=snapshot_id))  # fmt: skip
    return task_id, snapshot_id


def empty_qcow2(tmp_path: Path, size: str) -> bytes:
    path = tmp_path / f"empty-{size}.qcow2"
    subprocess.run(
        ["qemu-img", "create", "-f", "qcow2", str(path), size], check=True, capture_output=True
    )
    return path.read_bytes()


def test_a_snapshot_larger_than_ebs_allows_is_not_converted(
    store: Store, account: str, tmp_path: Path, objects: FsBackend
) -> None:
    task_id, snapshot_id = snapshot_task(store, objects, account, empty_qcow2(tmp_path, "17T"))
    settle(agent_for(store, tmp_path, objects))
    task = task_row(store, task_id)
    assert task.state == "cancelled"
    assert "larger than the 16384 GiB an EBS volume may hold" in task.status_message
    with store.read() as s:
        assert s.get(Ec2Snapshot, snapshot_id) is None
    assert not list((tmp_path / "volumes" / "imports").iterdir())


def test_a_snapshot_larger_than_the_zone_could_hold_is_not_converted(
    store: Store, account: str, tmp_path: Path, objects: FsBackend, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The agent's own report says the same 1 GiB, whenever it lands against the conversion.
    monkeypatch.setattr(OverlayBackend, "capacity_bytes", lambda self: GiB)
    with store.session() as s:
        s.add(StorageHost(name="sc1", zone="one", host="h", nbd_socket="", capacity_bytes=GiB,
                          reported_at=0.0))  # fmt: skip
    task_id, _ = snapshot_task(store, objects, account, empty_qcow2(tmp_path, "2G"))
    settle(agent_for(store, tmp_path, objects))
    task = task_row(store, task_id)
    assert task.state == "cancelled"
    assert "what availability zone one could hold (1 GiB)" in task.status_message


def test_no_room_on_the_storage_host_fails_the_task_not_the_agent(
    store: Store, account: str, tmp_path: Path, objects: FsBackend, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(imports, "FREE_MARGIN", 1 << 62)
    task_id, volume_id = volume_task(store, objects, account, pattern(), "RAW")
    agent = agent_for(store, tmp_path, objects)
    settle(agent)
    task = task_row(store, task_id)
    assert task.state == "cancelled"
    assert task.status_message.startswith("the storage host has no room to fetch the image")
    assert volume_row(store, volume_id).state == "deleted"
    # The agent goes on with its other work.
    plain = _volume(store, account)
    agent.tick()
    assert _volume_row(store, plain).state == "available"


class ImportingRbd(Rbd):
    """The recorded rbd, which also answers `rbd import` (keeping the bytes it was given)
    and `rbd rename`."""

    def __init__(self) -> None:
        super().__init__()
        self.data: dict[str, bytes] = {}

    def __call__(self, argv: Sequence[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
        args = list(argv)[len(PREFIX) :]
        if args[:1] == ["import"]:
            self.images[args[-1]] = Path(args[-2]).stat().st_size
            self.data[args[-1]] = Path(args[-2]).read_bytes()
        elif args[:1] == ["rename"] and args[1] in self.images:
            self.images[args[2]] = self.images.pop(args[1])
            self.data[args[2]] = self.data.pop(args[1])
        elif args[:1] == ["resize"]:
            self.images[args[-1]] = int(args[2].rstrip("G")) << 30
        elif args[:1] == ["rm"] and args[-1] in self.images:
            del self.images[args[-1]]
            self.data.pop(args[-1], None)
        return super().__call__(argv, **kwargs)


def rbd_agent(store: Store, tmp_path: Path, objects: FsBackend, rbd: Rbd) -> StorageAgent:
    components.register_self(store, type="storage", name="sc1", host="h", port=8773,
                             partition="one")  # fmt: skip
    properties.set_value(store, "one.storage.blockstoragemanager", "ceph-rbd")
    properties.set_value(store, "one.storage.cephvolumepools", "volumes")
    properties.set_value(store, "one.storage.cephconfigfile", "/srv/ceph/ceph.conf")
    properties.set_value(store, "one.storage.cephkeyringfile", "/nonexistent/keyring")
    return StorageAgent(
        store, name="sc1", zone="one", host="h", backend=OverlayBackend(tmp_path / "volumes"),
        exporter=FakeExporter(tmp_path), objects=lambda: objects,
        rbd=lambda client, pool: RbdBackend(client, pool, runner=rbd),
    )  # fmt: skip


def test_an_import_into_a_ceph_rbd_zone_makes_an_rbd_image(
    store: Store, account: str, tmp_path: Path, objects: FsBackend
) -> None:
    rbd = ImportingRbd()
    agent = rbd_agent(store, tmp_path, objects, rbd)
    raw = pattern()
    task_id, volume_id = volume_task(
        store, objects, account, made(tmp_path, "qcow2", raw).read_bytes(), "QCOW2"
    )
    settle(agent)
    assert task_row(store, task_id).state == "completed"
    row = volume_row(store, volume_id)
    assert (row.state, row.backend, row.backend_pool) == ("available", "ceph-rbd", "volumes")
    # Imported under a temporary name, grown to the volume's size, then renamed.
    spec = f"volumes/{volume_id}"
    made_by = [c for c in rbd.commands() if c[0] in ("import", "resize", "rename")]
    work = tmp_path / "volumes" / "imports" / task_id
    assert made_by == [
        ["import", "--no-progress", str(work / "converted.raw"), f"{spec}.tmp"],
        ["resize", "--size", "1G", f"{spec}.tmp"],
        ["rename", f"{spec}.tmp", spec],
    ]
    assert rbd.images[spec] == GiB and rbd.data[spec] == raw
    assert not agent.backend.path(volume_id).exists()


def test_a_failed_import_into_a_ceph_rbd_zone_removes_its_image(
    store: Store, account: str, tmp_path: Path, objects: FsBackend, monkeypatch: pytest.MonkeyPatch
) -> None:
    rbd = ImportingRbd()
    agent = rbd_agent(store, tmp_path, objects, rbd)
    task_id, volume_id = volume_task(store, objects, account, pattern(), "RAW")

    def lost(*args: Any) -> None:
        raise imports._Lost("The volume was deleted")

    # The image is made, then the commit finds the task gone.
    monkeypatch.setattr(agent.imports, "_complete", lost)
    settle(agent)
    assert task_row(store, task_id).state == "cancelled"
    assert volume_row(store, volume_id).backend == "ceph-rbd"
    assert ["rm", f"volumes/{volume_id}"] in rbd.commands()
    assert f"volumes/{volume_id}" not in rbd.images
