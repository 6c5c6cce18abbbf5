"""The node plugs attached volumes into its VMs (fake hypervisor): attach, detach, a VM that
lost its disks, disks with no attachment any more."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from mallee.cloud_identity import system_account_id
from mallee.ids import new_id
from mallee.node import volumes as volumes_module
from mallee.node.hypervisor.fake import FakeHypervisor
from mallee.node.hypervisor.hotplug import serial
from mallee.node.volumes import VolumePlugs
from mallee.store import Store
from mallee.store.tables.ebs import Ec2Volume, Ec2VolumeAttachment, StorageHost
from tests.unit.node.rows import NODE, instance


@pytest.fixture
def plugs(store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> VolumePlugs:
    monkeypatch.setattr(volumes_module, "CHECK_EVERY", 0.0)
    with store.session() as s:
        s.add(StorageHost(name="sc", zone="one", host="h", nbd_socket="/x/nbd.sock",
                          reported_at=time.time()))  # fmt: skip
    return VolumePlugs(store, FakeHypervisor(tmp_path / "vms"), NODE)


def now(plugs: VolumePlugs) -> None:
    """One reconcile pass, its steps run at once."""

    def submit(_key: str, work: Callable[[], None]) -> None:
        work()

    plugs.reconcile(plugs.hv.running(), submit)


def running(store: Store, plugs: VolumePlugs, images: dict[str, str]) -> str:
    iid = instance(store, images, state="running")
    from mallee.node.hypervisor.base import VmSpec

    plugs.hv.launch(VmSpec(iid, 1, 128, Path("k"), None, Path("r"), ""))
    return iid


def attachment(store: Store, iid: str, state: str = "attaching", exported: bool = True) -> str:
    vid = new_id("vol")
    with store.session() as s:
        s.add(Ec2Volume(id=vid, account_id=system_account_id(store), availability_zone="one",
                        size_gib=1, state="in-use", storage_host="sc",
                        created_at=dt.datetime.now(dt.UTC)))  # fmt: skip
        s.flush()
        s.add(Ec2VolumeAttachment(volume_id=vid, instance_id=iid, device="/dev/sdf",
                                  state=state, exported=exported,
                                  attached_at=dt.datetime.now(dt.UTC)))  # fmt: skip
    return vid


def attachment_state(store: Store, vid: str) -> str | None:
    with store.read() as s:
        row = s.get(Ec2VolumeAttachment, vid)
        return row.state if row else None


def test_serial_is_the_id_without_its_dash_in_20_characters() -> None:
    assert serial("vol-0123456789abcdef0") == "vol0123456789abcdef0"


def test_exported_attachment_is_plugged_then_attached(
    store: Store, plugs: VolumePlugs, images: dict[str, str]
) -> None:
    iid = running(store, plugs, images)
    waiting = attachment(store, iid, exported=False)
    ready = attachment(store, iid)
    now(plugs)
    assert plugs.hv.volumes(iid) == {ready: True}
    assert attachment_state(store, ready) == "attached"
    assert attachment_state(store, waiting) == "attaching"


def test_detaching_is_unplugged_and_the_volume_available(
    store: Store, plugs: VolumePlugs, images: dict[str, str]
) -> None:
    iid = running(store, plugs, images)
    vid = attachment(store, iid)
    now(plugs)
    with store.session() as s:
        s.get_one(Ec2VolumeAttachment, vid).state = "detaching"
    now(plugs)
    assert plugs.hv.volumes(iid) == {}
    assert attachment_state(store, vid) is None
    with store.read() as s:
        assert s.get_one(Ec2Volume, vid).state == "available"


def test_a_new_vm_process_gets_its_volumes_again(
    store: Store, plugs: VolumePlugs, images: dict[str, str]
) -> None:
    iid = running(store, plugs, images)
    vid = attachment(store, iid)
    now(plugs)
    assert isinstance(plugs.hv, FakeHypervisor)
    plugs.hv.restart(iid, 1)  # a reboot: a fresh VM process, no hot-plugged disks
    assert plugs.hv.volumes(iid) == {}
    now(plugs)
    assert plugs.hv.volumes(iid) == {vid: True}


def test_a_disk_with_no_attachment_is_unplugged(
    store: Store, plugs: VolumePlugs, images: dict[str, str]
) -> None:
    iid = running(store, plugs, images)
    vid = attachment(store, iid)
    now(plugs)
    with store.session() as s:
        s.delete(s.get_one(Ec2VolumeAttachment, vid))
    now(plugs)
    assert plugs.hv.volumes(iid) == {}


def test_a_restarted_agent_adopts_what_the_vm_shows(
    store: Store, plugs: VolumePlugs, images: dict[str, str], tmp_path: Path
) -> None:
    iid = running(store, plugs, images)
    vid = attachment(store, iid)
    now(plugs)
    again = VolumePlugs(store, FakeHypervisor(tmp_path / "vms"), NODE)
    assert again.hv.volumes(iid) == {vid: True}
    now(again)
    assert again.hv.volumes(iid) == {vid: True}
    assert attachment_state(store, vid) == "attached"
