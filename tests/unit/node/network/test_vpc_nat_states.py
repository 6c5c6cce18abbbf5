"""NAT gateway states moved by the node that runs them: `pending -> available` once applied,
`deleting -> deleted` once their namespace is gone; conditional, so the api's moves win."""

from __future__ import annotations

import time

import pytest

from mallee.ids import new_id
from mallee.node.network.vpc_desired import load, nat_node
from mallee.node.network.vpc_edge import VpcReconciler
from mallee.node.network.vpc_names import nat_netns, vpc_netns
from mallee.node.network.vpc_rules import node_plans
from mallee.store import Store
from mallee.store.tables.compute import NodeRow
from mallee.store.tables.vpc import Ec2NatGateway, Ec2Vpc
from tests.unit.node.network.vpc_fakes import NOW, Kernel, user_vpc

CLOUD = "0123abcd"
VNI = 6 << 12
NODES = {"n1": "198.51.100.1", "n2": "198.51.100.2"}


@pytest.fixture
def kernel(monkeypatch: pytest.MonkeyPatch) -> Kernel:
    k = Kernel()
    k.install(monkeypatch)
    return k


def gateway(store: Store, vid: str, sid: str, node: str, state: str = "pending") -> str:
    """A NAT gateway whose node (vpc_desired.nat_node) is `node`."""
    nat = next(i for i in (new_id("nat") for _ in range(1000)) if nat_node(i, list(NODES)) == node)
    with store.session() as s:
        s.add(Ec2NatGateway(id=nat, account_id=_account(store, vid), vpc_id=vid, subnet_id=sid,
                            allocation_id=new_id("eipalloc"), public_ip="198.51.100.50",
                            private_ip="10.0.1.5", network_interface_id=new_id("eni"),
                            state=state, created_at=NOW))  # fmt: skip
    return nat


def _account(store: Store, vid: str) -> str:
    with store.read() as s:
        vpc = s.get(Ec2Vpc, vid)
        assert vpc is not None
        return vpc.account_id


def state_of(store: Store, nat: str) -> tuple[str, bool]:
    with store.read() as s:
        row = s.get(Ec2NatGateway, nat)
        assert row is not None
        return row.state, row.deleted_at is not None


def set_state(store: Store, nat: str, state: str) -> None:
    with store.session() as s:
        row = s.get(Ec2NatGateway, nat)
        assert row is not None
        row.state = state


def test_gateways_come_up_and_go_down_with_their_namespaces(store: Store, kernel: Kernel) -> None:
    with store.session() as s:
        for name, ip in NODES.items():
            s.add(NodeRow(name=name, zone="one", hypervisor="tcg", cores=1, memory_mb=1,
                          disk_gb=1, public_ip=ip, reported_at=time.time()))  # fmt: skip
    vid, sid = user_vpc(store, vni=VNI)
    mine, theirs = gateway(store, vid, sid, "n1"), gateway(store, vid, sid, "n2")
    r = VpcReconciler(store, cloud_id=CLOUD, node_name="n1", netns="node",
                      public_ip=NODES["n1"])  # fmt: skip

    def observe() -> None:
        """What a pass does around the kernel: load, (apply), move the states."""
        with store.read() as s:
            state = load(s, "n1")
        r.applied = {ns: p for ns, p in node_plans(state, CLOUD).items() if kernel.exists(ns)}
        r.nat_states(state)

    observe()  # nothing built yet
    assert state_of(store, mine) == ("pending", False)
    kernel.add(vpc_netns(CLOUD, "n1", VNI))
    observe()  # the VPC's namespace, not yet the gateway's
    assert state_of(store, mine) == ("pending", False)
    kernel.add(nat_netns(CLOUD, "n1", mine))
    kernel.add(nat_netns(CLOUD, "n2", theirs))  # as if n2 had built its own
    observe()
    assert state_of(store, mine) == ("available", False)
    assert state_of(store, theirs) == ("pending", False)  # n2's to move

    set_state(store, mine, "deleting")  # DeleteNatGateway
    set_state(store, theirs, "deleting")
    observe()  # its namespace is still there
    assert state_of(store, mine) == ("deleting", False)
    del kernel.netns[nat_netns(CLOUD, "n1", mine)]
    del kernel.netns[nat_netns(CLOUD, "n2", theirs)]
    observe()
    assert state_of(store, mine) == ("deleted", True)
    assert state_of(store, theirs) == ("deleting", False)


def test_the_apis_move_wins_over_a_stale_read(store: Store, kernel: Kernel) -> None:
    with store.session() as s:
        s.add(NodeRow(name="n1", zone="one", hypervisor="tcg", cores=1, memory_mb=1, disk_gb=1,
                      public_ip=NODES["n1"], reported_at=time.time()))  # fmt: skip
    vid, sid = user_vpc(store, vni=VNI)
    nat = gateway(store, vid, sid, "n1")
    r = VpcReconciler(store, cloud_id=CLOUD, node_name="n1", netns="node",
                      public_ip=NODES["n1"])  # fmt: skip
    with store.read() as s:
        state = load(s, "n1")
    kernel.add(vpc_netns(CLOUD, "n1", VNI))
    kernel.add(nat_netns(CLOUD, "n1", nat))
    r.applied = node_plans(state, CLOUD)
    # DeleteNatGateway of a pending gateway deletes it at once, after the node read it.
    with store.session() as s:
        row = s.get(Ec2NatGateway, nat)
        assert row is not None
        row.state, row.deleted_at = "deleted", NOW
    r.nat_states(state)
    assert state_of(store, nat) == ("deleted", True)
