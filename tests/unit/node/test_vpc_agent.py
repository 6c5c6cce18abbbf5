"""The node agent with instances of users' VPCs: QEMU starts in the VPC's namespace on a tap
of its subnet's bridge, waits (pending, nothing made) until the VPC reconciler has built them,
starts again on a fresh tap when the namespace was rebuilt, and leaves no tap behind."""

from __future__ import annotations

from pathlib import Path
from typing import cast

import pytest

from mallee.config import Settings
from mallee.node import agent as agent_module
from mallee.node.agent import NodeAgent
from mallee.node.hypervisor.base import VmSpec
from mallee.node.hypervisor.fake import FakeHypervisor
from mallee.node.network.dataplane import DataPlane
from mallee.node.network.names import tap_for
from mallee.node.network.ports import Ports
from mallee.node.network.vpc_names import bridge_name, subnet_index, vpc_netns
from mallee.node.network.vpc_ports import VpcPorts
from mallee.store import Store
from tests.unit.node.network.test_vpc_ports import EdgePlane
from tests.unit.node.network.vpc_fakes import Kernel, user_vpc
from tests.unit.node.rows import NODE, instance, row_of, set_row

CLOUD = "0123abcd"
VNI = 9 << 12
NS = vpc_netns(CLOUD, NODE, VNI)
BRIDGE = bridge_name(subnet_index("10.0.0.0/16", "10.0.1.0/24"))


class Launches(FakeHypervisor):
    """The fake hypervisor, keeping the specs it was given."""

    def __init__(self, run_dir: Path) -> None:
        super().__init__(run_dir)
        self.specs: list[VmSpec] = []

    def launch(self, spec: VmSpec) -> None:
        self.specs.append(spec)
        super().launch(spec)


@pytest.fixture
def kernel(monkeypatch: pytest.MonkeyPatch) -> Kernel:
    k = Kernel()
    k.install(monkeypatch)
    return k


def agent_for(store: Store, tmp_path: Path, edge: EdgePlane) -> NodeAgent:
    ports = Ports(cast(DataPlane, edge), VpcPorts(store, cloud_id=CLOUD, node_name=NODE))
    hv = Launches(tmp_path / "vms")
    return NodeAgent(store, Settings(data_dir=tmp_path), hv, ports, NODE, threads=0)


def launches(agent: NodeAgent) -> list[VmSpec]:
    assert isinstance(agent.hv, Launches)
    return agent.hv.specs


def test_a_vpc_instance_starts_in_its_vpc_namespace_once_it_is_built(
    store: Store,
    tmp_path: Path,
    kernel: Kernel,
    images: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(agent_module, "HEAL_EVERY", 0.0)
    vid, sid = user_vpc(store, vni=VNI)
    iid = instance(store, images, vpc_id=vid, subnet_id=sid, private_ip="10.0.1.4")
    edge = EdgePlane()
    agent = agent_for(store, tmp_path, edge)
    agent.reconcile_once()
    assert row_of(store, iid).state == "pending"  # no namespace yet: it waits
    assert launches(agent) == [] and agent.hv.known() == set()
    kernel.add(NS, BRIDGE)  # the VPC reconciler's pass after the placement
    agent.reconcile_once()
    assert row_of(store, iid).state == "running"
    (spec,) = launches(agent)
    assert (spec.netns, spec.tap) == (NS, tap_for(iid))
    assert kernel.netns[NS][tap_for(iid)]["master"] == BRIDGE
    assert edge.plugged_ids == set()  # no EDGE tap, no EDGE DHCP entry

    agent.reconcile_once()
    assert len(launches(agent)) == 1  # healthy: left alone
    # The namespace is rebuilt (drift): the VM's port died with the old one. Nothing happens
    # until the reconciler has built it again; then the VM starts again on a fresh tap.
    del kernel.netns[NS]
    agent.reconcile_once()
    assert len(launches(agent)) == 1
    kernel.add(NS, BRIDGE)
    agent.reconcile_once()
    assert len(launches(agent)) == 2 and launches(agent)[-1].netns == NS
    assert tap_for(iid) in kernel.netns[NS]
    assert row_of(store, iid).state == "running"

    # A restarted agent adopts the VM as it is.
    again = agent_for(store, tmp_path, edge)
    assert again.adopt() == 1
    again.reconcile_once()
    assert launches(again) == [] and row_of(store, iid).state == "running"

    set_row(store, iid, state="stopping")
    again.reconcile_once()
    assert row_of(store, iid).state == "stopped"
    assert tap_for(iid) not in kernel.netns[NS]  # a stopped VM holds no port
    set_row(store, iid, state="pending")
    again.reconcile_once()
    assert row_of(store, iid).state == "running" and tap_for(iid) in kernel.netns[NS]
    set_row(store, iid, state="shutting-down")
    again.reconcile_once()
    assert row_of(store, iid).state == "terminated"
    assert tap_for(iid) not in kernel.netns[NS] and again.hv.known() == set()


def test_a_tap_left_in_a_vpc_namespace_is_an_orphan(
    store: Store, tmp_path: Path, kernel: Kernel, images: dict[str, str]
) -> None:
    vid, sid = user_vpc(store, vni=VNI)
    iid = instance(store, images, vpc_id=vid, subnet_id=sid, private_ip="10.0.1.4")
    kernel.add(NS, BRIDGE)
    agent = agent_for(store, tmp_path, EdgePlane())
    agent.reconcile_once()
    assert row_of(store, iid).state == "running"
    # Moved away while this agent was down: its VM and its tap here go.
    set_row(store, iid, node="n2")
    agent.reconcile_once()
    assert agent.hv.known() == set() and tap_for(iid) not in kernel.netns[NS]
