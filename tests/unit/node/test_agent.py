"""The node agent's reconciler over the fake hypervisor and a real store."""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path

import pytest

from mallee.config import Settings
from mallee.ids import new_id
from mallee.node.agent import NodeAgent
from mallee.node.hypervisor.fake import FakeHypervisor
from mallee.services.iam.bootstrap import ensure_system_account, system_account_id
from mallee.store import Store
from mallee.store.tables.compute import InstanceConsole
from mallee.store.tables.ec2 import Ec2Instance

NODE = "n1"


class Plane:
    """Records plug/unplug like the real data plane's bookkeeping."""

    netns = ""

    def __init__(self) -> None:
        self.taps: set[str] = set()

    def ensure(self) -> None:
        pass

    def plug(self, instance_id: str, mac: str, ip: str) -> None:
        self.taps.add(instance_id)

    def unplug(self, instance_id: str) -> None:
        self.taps.discard(instance_id)

    def plugged(self) -> set[str]:
        return set(self.taps)


@pytest.fixture
def images(store: Store, tmp_path: Path) -> dict[str, str]:
    ensure_system_account(store)
    owner = system_account_id(store)
    from mallee.services.ec2.images import register_local_image

    made = {}
    for kind in ("kernel", "ramdisk", "machine"):
        path = tmp_path / f"{kind}.img"
        path.write_bytes(kind.encode() * 100)
        made[kind] = register_local_image(store, owner, name=kind, path=path, image_type=kind)
    return made


def agent_for(store: Store, tmp_path: Path, plane: Plane) -> NodeAgent:
    settings = Settings(data_dir=tmp_path)
    return NodeAgent(store, settings, FakeHypervisor(tmp_path / "vms"), plane, NODE, threads=0)


def instance(store: Store, images: dict[str, str], state: str = "pending", **extra: object) -> str:
    iid = new_id("i")
    with store.session() as s:
        s.add(
            Ec2Instance(
                id=iid,
                account_id=system_account_id(store),
                reservation_id="r-1",
                image_id=images["machine"],
                kernel_id=extra.pop("kernel_id", images["kernel"]),
                ramdisk_id=images["ramdisk"],
                instance_type="m1.small",
                cores=1,
                memory_mb=256,
                disk_gb=5,
                availability_zone="one",
                state=state,
                node=NODE,
                mac="d0:0d:00:00:00:01",
                private_ip="10.0.0.2",
                launch_time=dt.datetime.now(dt.UTC),
                state_changed_at=time.time(),
                **extra,
            )
        )
    return iid


def state_of(store: Store, iid: str) -> Ec2Instance:
    with store.read() as s:
        row = s.get(Ec2Instance, iid)
        assert row is not None
        return row


def test_pending_boots_then_terminates(
    store: Store, tmp_path: Path, images: dict[str, str]
) -> None:
    plane = Plane()
    agent = agent_for(store, tmp_path, plane)
    iid = instance(store, images)
    agent.reconcile_once()
    assert state_of(store, iid).state == "running"
    assert iid in agent.hv.running() and iid in plane.taps
    with store.session() as s:
        s.get(Ec2Instance, iid).state = "shutting-down"  # type: ignore[union-attr]
    agent.reconcile_once()
    row = state_of(store, iid)
    assert row.state == "terminated" and row.terminated_at
    assert iid not in agent.hv.running() and iid not in plane.taps
    with store.read() as s:
        assert "EUCA-READY" in s.get(InstanceConsole, iid).output  # type: ignore[union-attr]


def test_restarted_agent_adopts_instead_of_relaunching(
    store: Store, tmp_path: Path, images: dict[str, str]
) -> None:
    plane = Plane()
    iid = instance(store, images)
    agent_for(store, tmp_path, plane).reconcile_once()
    # A new agent (a restart) over the same VMs: nothing boots twice.
    again = agent_for(store, tmp_path, plane)
    again.reconcile_once()
    assert again.hv.running() == {iid}
    assert "boot 1 of" in again.hv.console(iid)


def test_vm_of_a_row_that_moved_on_is_killed(
    store: Store, tmp_path: Path, images: dict[str, str]
) -> None:
    plane = Plane()
    agent = agent_for(store, tmp_path, plane)
    iid = instance(store, images)
    agent.reconcile_once()
    # Terminated while this node was away (the controller settled it).
    with store.session() as s:
        s.get(Ec2Instance, iid).state = "terminated"  # type: ignore[union-attr]
    agent.reconcile_once()
    assert agent.hv.running() == set() and plane.taps == set()


def test_launch_failure_terminates_with_a_reason(
    store: Store, tmp_path: Path, images: dict[str, str]
) -> None:
    agent = agent_for(store, tmp_path, Plane())
    iid = instance(store, images, kernel_id=None)
    agent.reconcile_once()
    row = state_of(store, iid)
    assert row.state == "terminated"
    assert row.state_reason_code == "Server.InternalError"
    with store.read() as s:
        console = s.get(InstanceConsole, iid)
        assert console is not None and "launch failed" in console.output


def test_reboot_is_applied_once(store: Store, tmp_path: Path, images: dict[str, str]) -> None:
    agent = agent_for(store, tmp_path, Plane())
    iid = instance(store, images)
    agent.reconcile_once()
    with store.session() as s:
        s.get(Ec2Instance, iid).reboots_requested = 1  # type: ignore[union-attr]
    agent.reconcile_once()
    agent.reconcile_once()
    assert state_of(store, iid).reboots_done == 1
    assert "boot 2 of" in agent.hv.console(iid)
    assert "boot 3 of" not in agent.hv.console(iid)


def test_guest_power_off_terminates_instance_store(
    store: Store, tmp_path: Path, images: dict[str, str]
) -> None:
    agent = agent_for(store, tmp_path, Plane())
    iid = instance(store, images)
    agent.reconcile_once()
    agent.hv.stop(iid, 0)  # the guest ran `poweroff`
    agent.reconcile_once()
    row = state_of(store, iid)
    assert row.state == "terminated"
    assert row.state_reason_code == "Client.InstanceInitiatedShutdown"
