"""The node agent's reconciler over the fake hypervisor and a real store."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import delete, select, update

from mallee.config import Settings
from mallee.node import agent as agent_module
from mallee.node.agent import NodeAgent
from mallee.node.hypervisor.fake import FakeHypervisor
from mallee.store import Store
from mallee.store.tables.compute import InstanceConsole, InstanceCounters, NodeRow
from mallee.store.tables.ebs import Ec2Volume, Ec2VolumeAttachment
from mallee.store.tables.ec2 import Ec2Image, Ec2Instance
from tests.unit.node.rows import NODE, ebs_volume, instance, row_of, set_row


@dataclass(frozen=True)
class Nic:
    netns: str
    tap: str
    mac: str
    ip: str
    mtu: int = 0


class Plane:
    """Records plug/unplug like the real data plane's bookkeeping."""

    netns = "ns-test"

    def __init__(self) -> None:
        self.taps: set[str] = set()

    def heal(self, running: Collection[str]) -> set[str]:
        """As the real one answers: running VMs whose tap is gone."""
        return {i for i in running if i not in self.taps}

    def plug(self, instance_id: str, mac: str, ip: str) -> Nic:
        self.taps.add(instance_id)
        return Nic(self.netns, f"tap-{instance_id[-8:]}", mac, ip)

    def unplug(self, instance_id: str) -> None:
        self.taps.discard(instance_id)

    def plugged(self) -> set[str]:
        return set(self.taps)


@pytest.fixture
def plane() -> Plane:
    return Plane()


@pytest.fixture
def agent(store: Store, tmp_path: Path, plane: Plane) -> NodeAgent:
    return agent_for(store, tmp_path, plane)


def agent_for(store: Store, tmp_path: Path, plane: Plane) -> NodeAgent:
    settings = Settings(data_dir=tmp_path)
    return NodeAgent(store, settings, FakeHypervisor(tmp_path / "vms"), plane, NODE, threads=0)


def fake(agent: NodeAgent) -> FakeHypervisor:
    assert isinstance(agent.hv, FakeHypervisor)
    return agent.hv


def console_row(store: Store, iid: str) -> str:
    with store.read() as s:
        found = s.get(InstanceConsole, iid)
        return found.output if found else ""


def boots(agent: NodeAgent, iid: str) -> int:
    return agent.hv.console(iid).count("[fake] boot")


def test_pending_boots_then_terminates(
    store: Store, agent: NodeAgent, plane: Plane, images: dict[str, str]
) -> None:
    iid = instance(store, images)
    agent.reconcile_once()
    assert row_of(store, iid).state == "running"
    assert iid in agent.hv.running() and iid in plane.taps
    set_row(store, iid, state="shutting-down")
    agent.reconcile_once()
    row = row_of(store, iid)
    assert row.state == "terminated" and row.terminated_at
    assert row.state_reason_code == "Client.UserInitiatedShutdown"
    assert iid not in agent.hv.known() and iid not in plane.taps
    assert "EUCA-READY" in console_row(store, iid)


def test_a_vm_that_lost_its_tap_starts_again_on_a_new_one(
    store: Store,
    agent: NodeAgent,
    plane: Plane,
    images: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(agent_module, "HEAL_EVERY", 0.0)
    iid = instance(store, images)
    agent.reconcile_once()
    assert boots(agent, iid) == 1
    agent.reconcile_once()
    assert boots(agent, iid) == 1  # its tap is there: nothing to do
    # The tap is deleted under the running VM (another process rebuilt the namespace): its
    # QEMU holds a dead port, so the VM starts again on a new tap, disk and state kept.
    plane.taps.discard(iid)
    agent.reconcile_once()
    assert iid in plane.taps and boots(agent, iid) == 2
    assert row_of(store, iid).state == "running"
    agent.reconcile_once()
    assert boots(agent, iid) == 2


def test_termination_keeps_the_reason_the_api_set(
    store: Store, agent: NodeAgent, images: dict[str, str]
) -> None:
    iid = instance(store, images)
    agent.reconcile_once()
    set_row(store, iid, state="shutting-down", state_reason_code="Server.SpotInstanceTermination")
    agent.reconcile_once()
    assert row_of(store, iid).state_reason_code == "Server.SpotInstanceTermination"


def test_a_second_pass_does_not_boot_again(
    store: Store, agent: NodeAgent, images: dict[str, str]
) -> None:
    iid = instance(store, images)
    agent.reconcile_once()
    # As if a tick had read the row before the launch step moved it to running.
    set_row(store, iid, state="pending")
    agent.reconcile_once()
    assert row_of(store, iid).state == "running"
    assert boots(agent, iid) == 1


def test_restarted_agent_adopts_instead_of_relaunching(
    store: Store, tmp_path: Path, plane: Plane, images: dict[str, str]
) -> None:
    iid = instance(store, images)
    agent_for(store, tmp_path, plane).reconcile_once()
    # A new agent (a restart) over the same VMs: nothing boots twice and nothing is lost.
    again = agent_for(store, tmp_path, plane)
    assert again.adopt() == 1
    again.reconcile_once()
    assert again.hv.running() == {iid}
    assert boots(again, iid) == 1
    assert row_of(store, iid).state == "running"


def test_agent_dying_after_launch_before_the_update(
    store: Store, tmp_path: Path, plane: Plane, images: dict[str, str]
) -> None:
    iid = instance(store, images)
    first = agent_for(store, tmp_path, plane)
    row = row_of(store, iid)
    first.hv.launch(first._spec(row, 0))  # launched, then SIGKILL before pending -> running
    again = agent_for(store, tmp_path, plane)
    again.reconcile_once()
    assert row_of(store, iid).state == "running"
    assert boots(again, iid) == 1


@pytest.mark.parametrize("how", ["terminated", "deleted", "moved"])
def test_vm_of_a_row_that_moved_on_is_killed(
    store: Store, agent: NodeAgent, plane: Plane, images: dict[str, str], how: str
) -> None:
    iid = instance(store, images)
    agent.reconcile_once()
    if how == "terminated":  # settled by the controller while this node was away
        set_row(store, iid, state="terminated")
    elif how == "moved":
        set_row(store, iid, node="n2")
    else:
        with store.session() as s:
            s.execute(delete(Ec2Instance).where(Ec2Instance.id == iid))
    agent.reconcile_once()
    assert agent.hv.known() == set() and plane.taps == set()


def test_launch_failure_terminates_with_a_reason(
    store: Store, agent: NodeAgent, plane: Plane, images: dict[str, str]
) -> None:
    iid = instance(store, images, kernel_id=None)
    agent.reconcile_once()
    row = row_of(store, iid)
    assert row.state == "terminated" and row.terminated_at
    assert row.state_reason_code == "Server.InternalError"
    assert "names no kernel" in (row.state_reason_message or "")
    assert "launch failed" in console_row(store, iid)
    assert plane.taps == set()


def test_unreadable_image_fails_the_launch(
    store: Store, agent: NodeAgent, images: dict[str, str]
) -> None:
    with store.session() as s:
        image = s.get(Ec2Image, images["machine"])
        assert image is not None
        image.location = "bucket/key/manifest.xml"
    iid = instance(store, images)
    agent.reconcile_once()
    row = row_of(store, iid)
    assert row.state == "terminated"
    assert "not supported" in (row.state_reason_message or "")


def test_reboot_is_applied_once(store: Store, agent: NodeAgent, images: dict[str, str]) -> None:
    iid = instance(store, images)
    agent.reconcile_once()
    set_row(store, iid, reboots_requested=1)
    agent.reconcile_once()
    agent.reconcile_once()
    assert row_of(store, iid).reboots_done == 1
    assert boots(agent, iid) == 2


def test_reboot_done_before_a_crash_is_recorded_not_repeated(
    store: Store, tmp_path: Path, plane: Plane, images: dict[str, str]
) -> None:
    iid = instance(store, images)
    agent = agent_for(store, tmp_path, plane)
    agent.reconcile_once()
    set_row(store, iid, reboots_requested=1)
    agent.hv.restart(iid, 1)  # the agent rebooted the VM, then died before recording it
    again = agent_for(store, tmp_path, plane)
    again.reconcile_once()
    assert row_of(store, iid).reboots_done == 1
    assert boots(again, iid) == 2


def test_guest_power_off_terminates_instance_store(
    store: Store, agent: NodeAgent, plane: Plane, images: dict[str, str]
) -> None:
    iid = instance(store, images)
    agent.reconcile_once()
    fake(agent).guest_poweroff(iid)
    agent.reconcile_once()
    row = row_of(store, iid)
    assert row.state == "terminated"
    assert row.state_reason_code == "Client.InstanceInitiatedShutdown"
    assert iid not in plane.taps


def test_guest_power_off_stops_an_ebs_instance_that_asks_for_it(
    store: Store, agent: NodeAgent, images: dict[str, str]
) -> None:
    iid = instance(store, images, root_device_type="ebs", shutdown_behavior="stop")
    ebs_volume(store, iid)
    agent.reconcile_once()
    fake(agent).guest_poweroff(iid)
    agent.reconcile_once()
    assert row_of(store, iid).state == "stopped"
    assert iid in agent.hv.known()


def test_guest_reset_relaunches(store: Store, agent: NodeAgent, images: dict[str, str]) -> None:
    iid = instance(store, images)
    agent.reconcile_once()
    fake(agent).guest_reset(iid)
    agent.reconcile_once()
    assert row_of(store, iid).state == "running"
    assert iid in agent.hv.running() and boots(agent, iid) == 2


def test_a_crash_loop_is_relaunched_ever_more_slowly(
    store: Store, agent: NodeAgent, images: dict[str, str]
) -> None:
    iid = instance(store, images)
    agent.reconcile_once()
    for _ in range(6):
        fake(agent).guest_reset(iid)
        agent.reconcile_once()
    # Three quick relaunches, then a pause before the next.
    assert boots(agent, iid) == 4
    assert row_of(store, iid).state == "running"


def test_stop_keeps_the_disk_and_start_boots_it_again(
    store: Store, agent: NodeAgent, plane: Plane, images: dict[str, str]
) -> None:
    iid = instance(store, images)
    agent.reconcile_once()
    set_row(store, iid, state="stopping")
    agent.reconcile_once()
    assert row_of(store, iid).state == "stopped"
    assert iid not in agent.hv.running() and iid in agent.hv.known()
    set_row(store, iid, state="pending")  # StartInstances
    agent.reconcile_once()
    assert row_of(store, iid).state == "running"
    assert boots(agent, iid) == 2


def test_report_writes_the_node_row_console_and_counters(
    store: Store, agent: NodeAgent, images: dict[str, str]
) -> None:
    iid = instance(store, images)
    agent.reconcile_once()
    agent.report({iid: "running"})
    with store.read() as s:
        node = s.get(NodeRow, NODE)
        assert node is not None and node.hypervisor == "fake" and node.netns == "ns-test"
        assert node.cores > 0 and node.memory_mb > 0
        assert s.get(InstanceCounters, iid) is not None
    assert "EUCA-READY" in console_row(store, iid)


def test_work_waiting_is_seen_between_passes(
    store: Store, agent: NodeAgent, images: dict[str, str]
) -> None:
    assert agent.has_work() is False and agent.reconcile_once() is False
    iid = instance(store, images)
    assert agent.has_work() is True
    assert agent.reconcile_once() is True  # it started the instance
    assert agent.has_work() is False and agent.reconcile_once() is False  # running, settled
    set_row(store, iid, state="stopping")
    assert agent.has_work() is True


def test_an_ebs_instance_boots_once_its_volumes_are_exported(
    store: Store, agent: NodeAgent, images: dict[str, str]
) -> None:
    iid = instance(store, images, root_device_type="ebs", root_device_name="/dev/sda")
    root = ebs_volume(store, iid, "/dev/sda", state="creating", exported=False)
    data = ebs_volume(store, iid, "/dev/sdf", exported=False)
    agent.reconcile_once()
    assert row_of(store, iid).state == "pending"
    assert iid not in agent.hv.running()
    with store.session() as s:
        s.execute(update(Ec2Volume).where(Ec2Volume.id == root).values(state="in-use"))
        s.execute(update(Ec2VolumeAttachment).values(exported=True))
    agent.reconcile_once()
    assert row_of(store, iid).state == "running"
    # Both volumes are in the VM from its start; the node marks them attached.
    assert fake(agent).volumes(iid) == {root: True, data: True}
    agent.reconcile_once()
    with store.read() as s:
        states = {a.volume_id: a.state for a in s.scalars(select(Ec2VolumeAttachment)).all()}
    assert states == {root: "attached", data: "attached"}


def test_an_ebs_instance_whose_volume_failed_does_not_start(
    store: Store, agent: NodeAgent, images: dict[str, str]
) -> None:
    iid = instance(store, images, root_device_type="ebs", root_device_name="/dev/sda")
    ebs_volume(store, iid, "/dev/sda", state="error", exported=False)
    agent.reconcile_once()
    row = row_of(store, iid)
    assert (row.state, row.state_reason_code) == ("terminated", "Server.InternalError")
    assert "could not be made" in (row.state_reason_message or "")


def test_an_ebs_instance_without_a_root_volume_stays_stopped(
    store: Store, agent: NodeAgent, images: dict[str, str]
) -> None:
    # Its root was detached while it was stopped: the start fails, the instance is not lost.
    iid = instance(store, images, root_device_type="ebs", root_device_name="/dev/sda")
    data = ebs_volume(store, iid, "/dev/sdf")
    agent.reconcile_once()
    row = row_of(store, iid)
    assert (row.state, row.state_reason_code) == ("stopped", "Client.InternalError")
    assert "no volume is attached at the root device /dev/sda" in (row.state_reason_message or "")
    assert iid not in agent.hv.running()
    with store.read() as s:
        assert s.get_one(Ec2Volume, data).state == "in-use"
