"""Ports of user-VPC instances: a tap in the VPC's namespace on its subnet's bridge, waited
for until the reconciler has built them, found and healed there, never in EDGE's plane."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from typing import cast

import pytest
from sqlalchemy import update

from mallee.node.boot_disks import NotReady
from mallee.node.network.dataplane import DataPlane, Nic
from mallee.node.network.names import tap_for
from mallee.node.network.ports import Ports
from mallee.node.network.vpc_names import GUEST_MTU, bridge_name, subnet_index, vpc_netns
from mallee.node.network.vpc_ports import PortNotReady, VpcPort, VpcPorts
from mallee.store import Store
from mallee.store.tables.vpc import Ec2Vpc
from tests.unit.node.network.vpc_fakes import Kernel, user_vpc
from tests.unit.node.rows import NODE, instance, set_row

CLOUD = "0123abcd"
VNI = 5 << 12
NS = vpc_netns(CLOUD, NODE, VNI)
BRIDGE = bridge_name(subnet_index("10.0.0.0/16", "10.0.1.0/24"))


@pytest.fixture
def kernel(monkeypatch: pytest.MonkeyPatch) -> Kernel:
    k = Kernel()
    k.install(monkeypatch)
    return k


@pytest.fixture
def ports(store: Store) -> VpcPorts:
    return VpcPorts(store, cloud_id=CLOUD, node_name=NODE)


def vpc_instance(store: Store, images: dict[str, str]) -> str:
    vid, sid = user_vpc(store, vni=VNI)
    return instance(store, images, vpc_id=vid, subnet_id=sid, private_ip="10.0.1.4")


def test_only_user_vpc_instances_of_this_node_have_a_vpc_port(
    store: Store, images: dict[str, str], ports: VpcPorts
) -> None:
    vid, sid = user_vpc(store, vni=VNI)
    iid = instance(store, images, vpc_id=vid, subnet_id=sid, private_ip="10.0.1.4")
    elsewhere = instance(store, images, vpc_id=vid, subnet_id=sid, node="n2")
    edge = instance(store, images)
    default_vpc, default_subnet = user_vpc(store, "10.111.0.0/16", "10.111.1.0/24", vni=None)
    with store.session() as s:
        s.execute(update(Ec2Vpc).where(Ec2Vpc.id == default_vpc).values(is_default=True))
    in_default = instance(store, images, vpc_id=default_vpc, subnet_id=default_subnet)
    assert ports.ports() == {iid: VpcPort(iid, NS, BRIDGE)}
    assert ports.port(iid) == VpcPort(iid, NS, BRIDGE)
    assert ports.port(edge) is None and ports.port(elsewhere) is None
    assert ports.port(in_default) is None
    set_row(store, iid, state="terminated")
    assert ports.ports() == {}


def test_plug_waits_for_the_namespace_and_bridge(
    store: Store, images: dict[str, str], ports: VpcPorts, kernel: Kernel
) -> None:
    iid = vpc_instance(store, images)
    port = ports.port(iid)
    assert port is not None
    with pytest.raises(NotReady):
        ports.plug(port, "D0:0D:00:00:00:01", "10.0.1.4")
    kernel.add(NS)  # the namespace, its bridges not yet
    with pytest.raises(PortNotReady):
        ports.plug(port, "d0:0d:00:00:00:01", "10.0.1.4")
    kernel.add(NS, BRIDGE)
    nic = ports.plug(port, "D0:0D:00:00:00:01", "10.0.1.4")
    assert nic == Nic(NS, tap_for(iid), "d0:0d:00:00:00:01", "10.0.1.4", GUEST_MTU)
    assert kernel.netns[NS][tap_for(iid)]["master"] == BRIDGE
    assert ports.plugged() == {iid}
    ports.unplug(iid)
    assert tap_for(iid) not in kernel.netns[NS] and ports.plugged() == set()


def test_heal_reports_lost_taps_only_once_their_namespace_is_back(
    store: Store, images: dict[str, str], ports: VpcPorts, kernel: Kernel
) -> None:
    iid = vpc_instance(store, images)
    kernel.add(NS, BRIDGE)
    port = ports.port(iid)
    assert port is not None
    ports.plug(port, "d0:0d:00:00:00:01", "10.0.1.4")
    running = ports.ports()
    assert ports.heal(running) == set()
    kernel.netns[NS][tap_for(iid)]["master"] = None  # drifted off its bridge: repaired
    assert ports.heal(running) == set()
    assert kernel.netns[NS][tap_for(iid)]["master"] == BRIDGE
    del kernel.netns[NS]  # the namespace deleted: the reconciler builds it again first
    assert ports.heal(running) == set()
    kernel.add(NS)
    assert ports.heal(running) == set()  # nor without its bridge
    kernel.add(NS, BRIDGE)
    assert ports.heal(running) == {iid}  # now it can be given a fresh tap


@dataclass
class EdgePlane:
    """EDGE's plane as the composite uses it: what it was asked."""

    netns: str = "mallee-node"
    healed: list[str] = field(default_factory=list)
    plugged_ids: set[str] = field(default_factory=set)

    def heal(self, running: Collection[str]) -> set[str]:
        self.healed = sorted(running)
        return set(running) - self.plugged_ids

    def plug(self, instance_id: str, mac: str, ip: str) -> Nic:
        self.plugged_ids.add(instance_id)
        return Nic(self.netns, tap_for(instance_id), mac, ip)

    def unplug(self, instance_id: str) -> None:
        self.plugged_ids.discard(instance_id)

    def plugged(self) -> set[str]:
        return set(self.plugged_ids)


def test_ports_put_each_instance_on_its_own_plane(
    store: Store, images: dict[str, str], ports: VpcPorts, kernel: Kernel
) -> None:
    edge = EdgePlane()
    both = Ports(cast(DataPlane, edge), ports)
    in_vpc, on_edge = vpc_instance(store, images), instance(store, images)
    kernel.add(NS, BRIDGE)
    assert both.plug(in_vpc, "d0:0d:00:00:00:01", "10.0.1.4").netns == NS
    assert both.plug(on_edge, "d0:0d:00:00:00:02", "10.0.0.2").netns == "mallee-node"
    assert edge.plugged_ids == {on_edge}  # no EDGE tap or DHCP entry for the VPC's instance
    assert both.plugged() == {in_vpc, on_edge}
    assert both.heal([in_vpc, on_edge]) == set()
    assert edge.healed == [on_edge]  # EDGE never hears of the VPC's VMs
    kernel.netns[NS].pop(tap_for(in_vpc))
    assert both.heal([in_vpc, on_edge]) == {in_vpc}
    both.unplug(on_edge)
    both.unplug(in_vpc)
    assert both.plugged() == set()
    assert both.netns == "mallee-node"
