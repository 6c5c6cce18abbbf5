"""EDGE enforcement on the data path: security groups and 1:1 NAT in real namespaces.

Guests are namespaces on the node's bridge (as in test_network_dataplane.py) serving HTTP with
busybox httpd; the client is the public namespace, as for a user outside the cloud, or another
guest. The desired state is written as the api would (rows + network generation) and the
node's EdgeReconciler applies it.
"""

from __future__ import annotations

import datetime as dt
import random
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from mallee.cloud_identity import system_account_id
from mallee.commands import in_netns, run
from mallee.ids import new_id
from mallee.node.network import DataPlane
from mallee.node.network.edge import EdgeReconciler
from mallee.node.network.links import delete_netns
from mallee.node.network.names import public_netns_for, tap_for
from mallee.placement.macs import mac_for
from mallee.services.iam.bootstrap import ensure_system_account
from mallee.store import Store
from mallee.store.tables.network import (
    Ec2Address,
    Ec2InstanceGroup,
    Ec2SecurityGroup,
    Ec2SecurityGroupRule,
    bump_network,
)
from tests.vm.test_network_dataplane import UDHCPC_SCRIPT, Guest, add_instance, unique

pytestmark = pytest.mark.vm

SUBNET = "10.78.0.0/24"
# The cloud these tests' data planes belong to: its namespaces are no other run's.
CLOUD = uuid.uuid4().hex[:8]


class Edge:
    def __init__(self, store: Store, plane: DataPlane, node: str, public_ip: str) -> None:
        self.store = store
        self.plane = plane
        self.node = node
        self.public_netns = public_netns_for(plane.cloud_id)
        self.reconciler = EdgeReconciler(
            store,
            node_name=node,
            netns=plane.netns,
            public_netns=self.public_netns,
            subnet=SUBNET,
            public_ip=public_ip,
        )
        ensure_system_account(store)
        self.account = system_account_id(store)

    def group(self) -> str:
        gid = new_id("sg")
        with self.store.session() as s:
            s.add(
                Ec2SecurityGroup(
                    id=gid,
                    account_id=self.account,
                    name=unique("g"),
                    description="test",
                    created_at=dt.datetime.now(dt.UTC),
                )
            )
            bump_network(s)
        return gid

    def allow(self, gid: str, protocol: str, low: int | None, high: int | None, **peer: str) -> str:
        rid = new_id("sgr")
        with self.store.session() as s:
            s.add(
                Ec2SecurityGroupRule(
                    id=rid,
                    group_id=gid,
                    egress=peer.pop("egress", "") == "yes",
                    protocol=protocol,
                    from_port=low,
                    to_port=high,
                    cidr=peer.get("cidr"),
                    peer_group_id=peer.get("group"),
                )
            )
            bump_network(s)
        return rid

    def allow_all_egress(self, gid: str) -> None:
        self.allow(gid, "-1", None, None, cidr="0.0.0.0/0", egress="yes")

    def revoke(self, rid: str) -> None:
        with self.store.session() as s:
            row = s.get(Ec2SecurityGroupRule, rid)
            assert row is not None
            s.delete(row)
            bump_network(s)

    def instance(self, ip: str, *groups: str) -> str:
        iid = add_instance(self.store, self.node, ip).id
        with self.store.session() as s:
            for n, gid in enumerate(groups):
                s.add(Ec2InstanceGroup(instance_id=iid, group_id=gid, position=n))
            bump_network(s)
        return iid

    def associate(self, public_ip: str, iid: str | None) -> None:
        with self.store.session() as s:
            row = s.get(Ec2Address, public_ip)
            if row is None:
                row = Ec2Address(
                    public_ip=public_ip,
                    allocation_id=new_id("eipalloc"),
                    account_id=self.account,
                    allocated_at=dt.datetime.now(dt.UTC),
                )
                s.add(row)
            row.instance_id = iid
            bump_network(s)

    def converge(self) -> None:
        self.reconciler.reconcile()


def guest_with(plane: DataPlane, script: Path, iid: str, ip: str) -> Guest:
    guest = Guest(plane, mac_for(iid), script, port=tap_for(iid))
    guest.set_address(f"{ip}/24", plane.gateway)
    return guest


def serve(guest: Guest, tmp_path: Path, text: str) -> subprocess.Popen[bytes]:
    root = tmp_path / unique("www")
    root.mkdir()
    (root / "index.html").write_text(text)
    return subprocess.Popen(
        in_netns(guest.netns, ["busybox", "httpd", "-f", "-p", "80", "-h", str(root)])
    )


def get(netns: str, url: str) -> str | None:
    proc = run(in_netns(netns, ["curl", "-s", "-m", "2", url]), check=False)
    return proc.stdout if proc.returncode == 0 else None


@pytest.fixture
def script(tmp_path: Path) -> Path:
    path = tmp_path / "udhcpc.sh"
    path.write_text(UDHCPC_SCRIPT)
    path.chmod(0o755)
    return path


@pytest.fixture
def edge(tmp_path: Path, store: Store) -> Iterator[Edge]:
    node = unique("edge-")
    plane = DataPlane(
        cloud_id=CLOUD, node_name=node, subnet=SUBNET, data_dir=tmp_path / "d", db_url=store.url
    )
    plane.ensure()
    try:
        yield Edge(store, plane, node, f"203.0.113.{random.randint(200, 250)}")
    finally:
        plane.teardown()
        delete_netns(public_netns_for(CLOUD))


@pytest.fixture
def procs() -> Iterator[list[subprocess.Popen[bytes]]]:
    made: list[subprocess.Popen[bytes]] = []
    yield made
    for p in made:
        p.kill()
        p.wait()


def test_ingress_follows_rules_through_an_elastic_ip(
    edge: Edge, script: Path, tmp_path: Path, procs: list[subprocess.Popen[bytes]]
) -> None:
    web = edge.group()
    edge.allow_all_egress(web)
    ip = "10.78.0.10"
    iid = edge.instance(ip, web)
    eip = f"203.0.113.{random.randint(150, 199)}"
    edge.associate(eip, iid)
    guest = guest_with(edge.plane, script, iid, ip)
    try:
        procs.append(serve(guest, tmp_path, iid))
        edge.converge()
        assert get(edge.public_netns, f"http://{eip}/") is None  # no rule: default deny

        rule = edge.allow(web, "tcp", 80, 80, cidr="0.0.0.0/0")
        start = time.monotonic()
        edge.converge()
        assert get(edge.public_netns, f"http://{eip}/") == iid
        assert time.monotonic() - start < 5

        edge.revoke(rule)
        edge.converge()
        assert get(edge.public_netns, f"http://{eip}/") is None

        # A rule for the outside network's subnet admits it as well.
        edge.allow(web, "tcp", 80, 80, cidr="203.0.113.0/24")
        edge.converge()
        assert get(edge.public_netns, f"http://{eip}/") == iid
    finally:
        guest.remove()


def test_instances_on_one_bridge_by_peer_group_and_egress(
    edge: Edge, script: Path, tmp_path: Path, procs: list[subprocess.Popen[bytes]]
) -> None:
    server_group, client_group = edge.group(), edge.group()
    edge.allow_all_egress(server_group)
    egress = edge.allow(client_group, "-1", None, None, cidr="0.0.0.0/0", egress="yes")
    server = edge.instance("10.78.0.20", server_group)
    client = edge.instance("10.78.0.21", client_group)
    guests = [
        guest_with(edge.plane, script, server, "10.78.0.20"),
        guest_with(edge.plane, script, client, "10.78.0.21"),
    ]
    try:
        procs.append(serve(guests[0], tmp_path, server))
        edge.converge()
        url = "http://10.78.0.20/"
        assert get(guests[1].netns, url) is None

        edge.allow(server_group, "tcp", 80, 80, group=client_group)
        edge.converge()
        assert get(guests[1].netns, url) == server

        edge.revoke(egress)  # the client may no longer send anything
        edge.converge()
        assert get(guests[1].netns, url) is None
        edge.allow(client_group, "tcp", 80, 80, cidr="10.78.0.20/32", egress="yes")
        edge.converge()
        assert get(guests[1].netns, url) == server
    finally:
        for g in guests:
            g.remove()


def test_reconcile_is_idempotent_and_converges_after_restart(edge: Edge) -> None:
    groups = [edge.group() for _ in range(3)]
    for gid in groups:
        edge.allow(gid, "tcp", 22, 22, cidr="10.0.0.0/8")
    edge.instance("10.78.0.30", *groups)
    edge.converge()
    filter_rules = run(in_netns(edge.plane.netns, ["iptables", "-S"])).stdout
    for gid in groups:
        assert f"-N MI-{gid.upper()}" in filter_rules
    assert not edge.reconciler.reconcile()  # nothing moved: nothing applied

    # A new agent process (restart) converges to the same rules, without duplicates.
    again = EdgeReconciler(
        edge.store,
        node_name=edge.node,
        netns=edge.plane.netns,
        public_netns=edge.public_netns,
        subnet=SUBNET,
        public_ip=edge.reconciler.public_ip,
    )
    assert again.reconcile()
    assert run(in_netns(edge.plane.netns, ["iptables", "-S"])).stdout == filter_rules

    # Membership gone: its group chains go too.
    with edge.store.session() as s:
        for row in s.query(Ec2InstanceGroup).filter(Ec2InstanceGroup.group_id == groups[0]):
            s.delete(row)
        bump_network(s)
    again.reconcile()
    assert (
        f"MI-{groups[0].upper()}" not in run(in_netns(edge.plane.netns, ["iptables", "-S"])).stdout
    )


def test_a_guest_cannot_borrow_another_address(
    edge: Edge, script: Path, tmp_path: Path, procs: list[subprocess.Popen[bytes]]
) -> None:
    trusted, other = edge.group(), edge.group()
    for gid in (trusted, other):
        edge.allow_all_egress(gid)
    server = edge.instance("10.78.0.40", other)
    friend = edge.instance("10.78.0.41", trusted)
    intruder = edge.instance("10.78.0.42", other)
    edge.allow(other, "tcp", 80, 80, group=trusted)
    guests = [
        guest_with(edge.plane, script, server, "10.78.0.40"),
        guest_with(edge.plane, script, friend, "10.78.0.41"),
        guest_with(edge.plane, script, intruder, "10.78.0.42"),
    ]
    try:
        procs.append(serve(guests[0], tmp_path, server))
        edge.converge()
        url = "http://10.78.0.40/"
        assert get(guests[1].netns, url) == server
        assert get(guests[2].netns, url) is None
        # The intruder takes the friend's address: the bridge drops what it sends.
        guests[2].set_address("10.78.0.41/24", edge.plane.gateway)
        assert get(guests[2].netns, url) is None
        # Its own address still works where its group allows (the gateway answers ping).
        guests[2].set_address("10.78.0.42/24", edge.plane.gateway)
        ping = ["busybox", "ping", "-c", "1", "-W", "2", edge.plane.gateway]
        assert run(in_netns(guests[2].netns, ping), check=False).returncode == 0
    finally:
        for g in guests:
            g.remove()
