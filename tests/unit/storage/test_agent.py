"""The storage agent's steps, from rows: create, export, release, delete, grow."""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path
from typing import Any

import pytest

from mallee.cloud_identity import system_account_id
from mallee.ids import new_id
from mallee.services.iam.bootstrap import ensure_system_account
from mallee.storage.agent import StorageAgent
from mallee.storage.overlay import OverlayBackend
from mallee.store import Store
from mallee.store.tables.ebs import (
    Ec2Volume,
    Ec2VolumeAttachment,
    Ec2VolumeModification,
    StorageHost,
    export_volume,
    nbd_export_name,
)
from mallee.store.tables.ec2 import Ec2Instance


class FakeExporter:
    def __init__(self, root: Path) -> None:
        self.nbd_path = root / "nbd.sock"
        self.served: dict[str, Path] = {}
        self.started = 0
        self.resized: dict[str, int] = {}
        self.log: list[tuple[str, str]] = []

    def running(self) -> bool:
        return self.started > 0

    def ensure(self) -> bool:
        if self.started:
            return False
        self.started += 1
        return True

    def exports(self) -> set[str]:
        return set(self.served)

    def export(self, name: str, path: Path) -> None:
        self.served[name] = path
        self.log.append(("export", name))

    def unexport(self, name: str) -> None:
        self.served.pop(name, None)
        self.log.append(("unexport", name))

    def resize(self, volume_id: str, size: int) -> None:
        self.resized[volume_id] = size


@pytest.fixture
def account(store: Store) -> str:
    ensure_system_account(store)
    return system_account_id(store)


def _agent(store: Store, tmp_path: Path, name: str = "sc1") -> tuple[StorageAgent, FakeExporter]:
    exporter = FakeExporter(tmp_path)
    agent = StorageAgent(
        store,
        name=name,
        zone="one",
        host="h",
        backend=OverlayBackend(tmp_path / "volumes"),
        exporter=exporter,
    )
    return agent, exporter


def _volume(store: Store, account: str, **extra: Any) -> str:
    vid = new_id("vol")
    fields: dict[str, Any] = dict(
        id=vid,
        account_id=account,
        availability_zone="one",
        size_gib=1,
        state="creating",
        created_at=dt.datetime.now(dt.UTC),
    )
    fields.update(extra)
    with store.session() as s:
        s.add(Ec2Volume(**fields))
    return vid


def _instance(store: Store, account: str, state: str = "running") -> str:
    iid = new_id("i")
    with store.session() as s:
        s.add(
            Ec2Instance(
                id=iid, account_id=account, reservation_id="r-1", image_id="emi-1",
                instance_type="m1.small", cores=1, memory_mb=256, disk_gb=5,
                availability_zone="one", state=state, node="n1",
                launch_time=dt.datetime.now(dt.UTC), state_changed_at=time.time(),
            )
        )  # fmt: skip
    return iid


def _attach(store: Store, vid: str, iid: str, **extra: Any) -> None:
    with store.session() as s:
        s.get_one(Ec2Volume, vid).state = "in-use"
        s.add(
            Ec2VolumeAttachment(
                volume_id=vid, instance_id=iid, device="/dev/sdf",
                attached_at=dt.datetime.now(dt.UTC), **extra,
            )
        )  # fmt: skip


def _served(exporter: FakeExporter) -> set[str]:
    """The volumes the exports serve (each export is named for its attachment)."""
    return {export_volume(name) for name in exporter.served}


def _volume_row(store: Store, vid: str) -> Ec2Volume:
    with store.read() as s:
        return s.get_one(Ec2Volume, vid)


def test_creating_volume_gets_a_sparse_file_and_becomes_available(
    store: Store, account: str, tmp_path: Path
) -> None:
    agent, exporter = _agent(store, tmp_path)
    vid = _volume(store, account, size_gib=2)
    assert agent.has_work()
    agent.tick()
    row = _volume_row(store, vid)
    assert (row.state, row.storage_host) == ("available", "sc1")
    path = agent.backend.path(vid)
    assert path.stat().st_size == 2 << 30 and path.stat().st_blocks == 0
    assert not agent.has_work()
    assert not exporter.running()  # nothing attached: no NBD server
    with store.read() as s:
        host = s.get_one(StorageHost, "sc1")
    assert host.nbd_socket.endswith("nbd.sock") and host.capacity_bytes > 0


def test_a_volume_claimed_by_another_agent_is_left_to_it(
    store: Store, account: str, tmp_path: Path
) -> None:
    agent, _ = _agent(store, tmp_path)
    vid = _volume(store, account, storage_host="sc2")
    agent.tick()
    assert _volume_row(store, vid).state == "creating"
    assert not agent.backend.path(vid).exists()


def test_an_attached_volume_is_exported_until_its_attachment_goes(
    store: Store, account: str, tmp_path: Path
) -> None:
    agent, exporter = _agent(store, tmp_path)
    vid = _volume(store, account)
    agent.tick()
    iid = _instance(store, account)
    _attach(store, vid, iid)
    assert agent.has_work()
    agent.tick()
    assert _served(exporter) == {vid}
    with store.read() as s:
        assert s.get_one(Ec2VolumeAttachment, vid).exported is True
    # The node unplugged it and removed the row: the export goes.
    with store.session() as s:
        s.delete(s.get_one(Ec2VolumeAttachment, vid))
        s.get_one(Ec2Volume, vid).state = "available"
    agent.tick()
    assert exporter.served == {}


def test_a_new_daemon_exports_again_what_the_rows_say(
    store: Store, account: str, tmp_path: Path
) -> None:
    agent, exporter = _agent(store, tmp_path)
    vid = _volume(store, account)
    agent.tick()
    _attach(store, vid, _instance(store, account))
    agent.tick()
    # The daemon died and a new one was started: it serves nothing.
    exporter.served.clear()
    exporter.started = 0
    agent.tick()
    assert _served(exporter) == {vid}


def test_terminated_instance_lets_go_of_its_volumes(
    store: Store, account: str, tmp_path: Path
) -> None:
    agent, exporter = _agent(store, tmp_path)
    keep, drop = _volume(store, account), _volume(store, account)
    agent.tick()
    iid = _instance(store, account)
    _attach(store, keep, iid)
    with store.session() as s:
        s.get_one(Ec2Volume, drop).state = "in-use"
        s.add(
            Ec2VolumeAttachment(
                volume_id=drop, instance_id=iid, device="/dev/sdg",
                attached_at=dt.datetime.now(dt.UTC), delete_on_termination=True,
            )
        )  # fmt: skip
    agent.tick()
    assert _served(exporter) == {keep, drop}
    with store.session() as s:
        s.get_one(Ec2Instance, iid).state = "terminated"
    agent.tick()
    agent.tick()
    assert _volume_row(store, keep).state == "available"
    assert _volume_row(store, drop).state == "deleted"
    assert not agent.backend.path(drop).exists()
    assert exporter.served == {}


def test_deleting_removes_the_file(store: Store, account: str, tmp_path: Path) -> None:
    agent, _ = _agent(store, tmp_path)
    vid = _volume(store, account)
    agent.tick()
    with store.session() as s:
        s.get_one(Ec2Volume, vid).state = "deleting"
    agent.tick()
    row = _volume_row(store, vid)
    assert row.state == "deleted" and row.deleted_at is not None
    assert not agent.backend.path(vid).exists()
    agent.purge(time.time() + 7200)
    with store.read() as s:
        assert s.get(Ec2Volume, vid) is None


def test_unclaimed_deleting_volume_is_deleted_without_data(
    store: Store, account: str, tmp_path: Path
) -> None:
    agent, _ = _agent(store, tmp_path)
    vid = _volume(store, account, state="deleting")
    agent.tick()
    assert _volume_row(store, vid).state == "deleted"


def test_modification_grows_the_file(store: Store, account: str, tmp_path: Path) -> None:
    agent, exporter = _agent(store, tmp_path)
    vid = _volume(store, account)
    agent.tick()
    with store.session() as s:
        s.add(
            Ec2VolumeModification(
                volume_id=vid, state="modifying", original_size=1, target_size=3,
                original_type="gp2", target_type="gp3", started_at=dt.datetime.now(dt.UTC),
            )
        )  # fmt: skip
    agent.tick()
    row = _volume_row(store, vid)
    assert (row.size_gib, row.volume_type) == (3, "gp3")
    assert agent.backend.path(vid).stat().st_size == 3 << 30
    assert exporter.resized == {}  # not exported: no NBD server to tell
    with store.read() as s:
        mod = s.get_one(Ec2VolumeModification, vid)
    assert (mod.state, mod.progress) == ("completed", 100) and mod.ended_at is not None


def test_each_attachment_is_exported_under_its_own_name(
    store: Store, account: str, tmp_path: Path
) -> None:
    """A volume detached and attached again is served under a new export name, the old
    export removed first: a stale client of the first attachment reaches nothing."""
    agent, exporter = _agent(store, tmp_path)
    vid = _volume(store, account)
    agent.tick()
    _attach(store, vid, _instance(store, account))
    agent.tick()
    (first,) = exporter.served
    with store.session() as s:
        s.delete(s.get_one(Ec2VolumeAttachment, vid))
    _attach(store, vid, _instance(store, account))
    agent.tick()
    (second,) = exporter.served
    assert first != second and export_volume(first) == export_volume(second) == vid
    assert exporter.log == [("export", first), ("unexport", first), ("export", second)]
    with store.read() as s:
        assert second == nbd_export_name(vid, s.get_one(Ec2VolumeAttachment, vid).export_tag)
