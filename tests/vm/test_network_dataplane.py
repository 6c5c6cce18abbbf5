"""The node data plane in real namespaces, with "guests" that are namespaces too.

A guest is a network namespace joined to the node's bridge by a veth pair (standing in for a
VM's tap); it gets its address with busybox udhcpc and asks the metadata service with curl,
as the default image's init does. Nothing touches the root namespace.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import os
import signal
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from mallee.cloud_identity import system_account_id
from mallee.commands import in_netns, run
from mallee.ids import new_id
from mallee.node.network import DataPlane, DataPlaneBusyError, links, procs
from mallee.node.network.names import legacy_netns_for
from mallee.node.network.nat import META_CHAIN
from mallee.placement.macs import mac_for
from mallee.services.iam.bootstrap import ensure_system_account
from mallee.store import Store
from mallee.store.tables.ec2 import Ec2Instance

pytestmark = pytest.mark.vm

SUBNET = "10.77.0.0/24"
# The cloud these tests' data planes belong to: its namespaces are no other run's.
CLOUD = uuid.uuid4().hex[:8]
MD = "http://169.254.169.254/latest"
UDHCPC_SCRIPT = """#!/bin/sh
[ "$1" = bound ] || [ "$1" = renew ] || exit 0
ip addr flush dev "$interface"
ip addr add "$ip/$mask" dev "$interface"
[ -n "$router" ] && ip route replace default via "${router%% *}" dev "$interface"
exit 0
"""


def unique(prefix: str) -> str:
    return f"{prefix}{uuid.uuid4().hex[:8]}"


class Guest:
    """A namespace on the node's bridge through a veth pair, with the instance's MAC."""

    def __init__(self, plane: DataPlane, mac: str, script: Path, port: str = "") -> None:
        self.netns = unique("mg-")
        self.script = script
        # The node's end, named as the instance's tap when the test needs it to be one.
        self.host_side = port or unique("vg")
        run(["ip", "netns", "add", self.netns])
        run(
            ["ip", "link", "add", "name", self.host_side, "netns", plane.netns, "type", "veth",
             "peer", "name", "eth0", "netns", self.netns]
        )  # fmt: skip
        run(in_netns(plane.netns, ["ip", "link", "set", self.host_side, "master", plane.bridge]))
        run(in_netns(plane.netns, ["ip", "link", "set", self.host_side, "up"]))
        self.sh("ip", "link", "set", "lo", "up")
        self.sh("ip", "link", "set", "eth0", "address", mac)
        self.sh("ip", "link", "set", "eth0", "up")

    def sh(self, *argv: str, check: bool = True) -> str:
        return run(in_netns(self.netns, argv), check=check).stdout

    def dhcp(self) -> str | None:
        """The address udhcpc got (None when no offer came)."""
        udhcpc = ["busybox", "udhcpc", "-i", "eth0", "-s", str(self.script), "-n", "-q"]
        self.sh(*udhcpc, "-t", "6", "-T", "1", "-A", "1", check=False)
        return self.address()

    def address(self) -> str | None:
        info = json.loads(self.sh("ip", "-j", "-4", "addr", "show", "dev", "eth0"))
        addrs = [a["local"] for entry in info for a in entry.get("addr_info", [])]
        return addrs[0] if addrs else None

    def set_address(self, cidr: str, gateway: str) -> None:
        self.sh("ip", "addr", "flush", "dev", "eth0")
        self.sh("ip", "addr", "add", cidr, "dev", "eth0")
        self.sh("ip", "route", "replace", "default", "via", gateway, "dev", "eth0")

    def http(self, url: str, *headers: str, method: str = "GET") -> tuple[int, str]:
        argv = ["curl", "-s", "-m", "10", "-X", method, "-w", "\n%{http_code}"]
        for h in headers:
            argv += ["-H", h]
        out = self.sh(*argv, url, check=False)
        body, _, code = out.rpartition("\n")
        return int(code or 0), body

    def remove(self) -> None:
        run(["ip", "netns", "del", self.netns], check=False)


@pytest.fixture
def script(tmp_path: Path) -> Path:
    path = tmp_path / "udhcpc.sh"
    path.write_text(UDHCPC_SCRIPT)
    path.chmod(0o755)
    return path


@pytest.fixture
def node() -> str:
    # Shell metacharacters in the node name reach only argv items and a sanitised netns name.
    return unique("t;$(x) ")


def plane_for(node: str, data_dir: Path, db_url: str, subnet: str = SUBNET) -> DataPlane:
    return DataPlane(
        cloud_id=CLOUD, node_name=node, subnet=subnet, data_dir=data_dir, db_url=db_url
    )


@pytest.fixture
def plane(node: str, tmp_path: Path, store: Store) -> Iterator[DataPlane]:
    made = plane_for(node, tmp_path / "data", store.url)
    made.ensure()
    try:
        yield made
    finally:
        made.teardown()


@pytest.fixture
def guests(plane: DataPlane, script: Path) -> Iterator[list[Guest]]:
    made: list[Guest] = []
    yield made
    for guest in made:
        guest.remove()


def add_instance(store: Store, node: str, ip: str, **extra: object) -> Ec2Instance:
    ensure_system_account(store)
    iid = new_id("i")
    row = Ec2Instance(
        id=iid,
        account_id=system_account_id(store),
        reservation_id=new_id("r"),
        image_id="emi-00000001",
        instance_type="m1.small",
        cores=1,
        memory_mb=128,
        disk_gb=1,
        availability_zone="one",
        state="running",
        node=node,
        mac=mac_for(iid),
        private_ip=ip,
        launch_time=dt.datetime.now(dt.UTC),
        state_changed_at=time.time(),
        **extra,
    )
    with store.session() as s:
        s.add(row)
    return row


def set_state(store: Store, iid: str, state: str) -> None:
    with store.session() as s:
        row = s.get(Ec2Instance, iid)
        assert row is not None
        row.state = state


def nat_rules(plane: DataPlane) -> str:
    return run(in_netns(plane.netns, ["iptables", "-t", "nat", "-S"])).stdout


def servers(plane: DataPlane) -> tuple[list[int], list[int]]:
    return (
        procs.strays("dnsmasq", plane.netns),
        procs.strays("mallee.cli.metadata", plane.netns),
    )


def test_ensure_converges_and_teardown_leaves_nothing(
    plane: DataPlane, node: str, tmp_path: Path, store: Store
) -> None:
    assert ";" not in plane.netns and " " not in plane.netns
    first = servers(plane)
    assert len(first[0]) == 1 and len(first[1]) == 1
    plane.ensure()
    # While the agent runs, another one for the node is refused and changes nothing ...
    second = plane_for(node, tmp_path / "data", store.url)
    with pytest.raises(DataPlaneBusyError):
        second.ensure()
    assert servers(plane) == first
    # ... and once it is gone, the next one (a restart) adopts instead of starting anew.
    plane.release()
    second.ensure()
    second.release()
    assert servers(plane) == first
    rules = nat_rules(plane)
    assert rules.count(f"-j {META_CHAIN}") == 1
    assert rules.count(f"-A {META_CHAIN} ") == 1
    assert f"--to-destination {plane.gateway}:8775" in rules
    addrs = run(in_netns(plane.netns, ["ip", "-4", "-o", "addr", "show", "dev", "br0"])).stdout
    assert addrs.count("inet ") == 1 and f"{plane.gateway}/24" in addrs

    plane.teardown()
    assert not Path(f"/run/netns/{plane.netns}").exists()
    assert all(procs.gone(pid) for pid in [*first[0], *first[1]])
    assert not any(plane.netns in " ".join(procs.cmdline(p) or []) for p in all_pids())
    plane.teardown()  # idempotent


def all_pids() -> list[int]:
    return [int(p.name) for p in Path("/proc").iterdir() if p.name.isdigit()]


def test_guests_get_their_address_and_only_their_own_metadata(
    plane: DataPlane, node: str, store: Store, guests: list[Guest], script: Path
) -> None:
    key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAItest guest"
    one = add_instance(
        store, node, "10.77.0.10", key_name="k1", public_key=key,
        user_data=base64.b64encode(b"#!/bin/sh\necho one\n").decode(),
        security_groups=json.dumps([{"GroupId": "sg-1", "GroupName": "web"}]),
    )  # fmt: skip
    two = add_instance(store, node, "10.77.0.11")
    for row in (one, two):
        nic = plane.plug(row.id, row.mac or "", row.private_ip or "")
        assert nic.netns == plane.netns and nic.mac == row.mac and len(nic.tap) <= 15
        guests.append(Guest(plane, row.mac or "", script))
    g1, g2 = guests
    assert plane.plugged() == {one.id, two.id}

    assert g1.dhcp() == "10.77.0.10"
    assert g2.dhcp() == "10.77.0.11"
    assert g1.http(f"{MD}/meta-data/instance-id") == (200, one.id)
    assert g2.http(f"{MD}/meta-data/instance-id") == (200, two.id)
    assert g1.http(f"{MD}/meta-data/public-keys/0/openssh-key") == (200, key + "\n")
    assert g1.http(f"{MD}/meta-data/security-groups") == (200, "web")
    assert g1.http(f"{MD}/user-data") == (200, "#!/bin/sh\necho one\n")
    assert g2.http(f"{MD}/user-data")[0] == 404
    assert g2.http(f"{MD}/meta-data/public-keys/")[0] == 404
    listing = g1.http(f"{MD}/meta-data/")[1].splitlines()
    assert {"instance-id", "local-ipv4", "placement/", "public-keys/"} <= set(listing)

    # IMDSv2: a session token, bound to its instance.
    ttl = "X-aws-ec2-metadata-token-ttl-seconds: 60"
    status, token = g1.http(f"{MD}/api/token", ttl, method="PUT")
    assert status == 200 and token
    with_token = f"X-aws-ec2-metadata-token: {token}"
    assert g1.http(f"{MD}/meta-data/instance-id", with_token) == (200, one.id)
    assert g2.http(f"{MD}/meta-data/instance-id", with_token)[0] == 401
    assert (
        g1.http(f"{MD}/api/token", "X-aws-ec2-metadata-token-ttl-seconds: 0", method="PUT")[0]
        == 400
    )
    assert g1.http(f"{MD}/api/token", ttl, "X-Forwarded-For: 1.2.3.4", method="PUT")[0] == 403

    # A guest that takes another's address is not taken for it (its MAC differs).
    g2.set_address("10.77.0.10/24", plane.gateway)
    assert g2.http(f"{MD}/meta-data/instance-id")[0] == 404
    # An address no instance has gets nothing either.
    g2.set_address("10.77.0.99/24", plane.gateway)
    assert g2.http(f"{MD}/meta-data/instance-id")[0] == 404


def test_unplugged_address_goes_to_the_next_instance(
    plane: DataPlane, node: str, store: Store, guests: list[Guest], script: Path
) -> None:
    old = add_instance(store, node, "10.77.0.20")
    plane.plug(old.id, old.mac or "", "10.77.0.20")
    guests.append(Guest(plane, old.mac or "", script))
    assert guests[0].dhcp() == "10.77.0.20"
    assert guests[0].http(f"{MD}/meta-data/instance-id") == (200, old.id)

    guests[0].remove()
    plane.unplug(old.id)
    plane.unplug(old.id)  # idempotent
    set_state(store, old.id, "terminated")
    assert old.id not in plane.plugged()
    assert old.id not in plane.dhcp.hosts_file.read_text()
    assert plane.dhcp.leases() == []  # released, so dnsmasq will give the address again

    new = add_instance(store, node, "10.77.0.20")
    plane.plug(new.id, new.mac or "", "10.77.0.20")
    guests.append(Guest(plane, new.mac or "", script))
    assert guests[1].dhcp() == "10.77.0.20"
    assert guests[1].http(f"{MD}/meta-data/instance-id") == (200, new.id)


def test_ensure_repairs_after_a_crash(
    plane: DataPlane, node: str, store: Store, guests: list[Guest], script: Path
) -> None:
    row = add_instance(store, node, "10.77.0.30")
    plane.plug(row.id, row.mac or "", "10.77.0.30")
    dnsmasq, metadata = servers(plane)
    # Everything the agent does not hold itself dies or is wiped at once.
    for pid in [*dnsmasq, *metadata]:
        os.kill(pid, signal.SIGKILL)
    run(in_netns(plane.netns, ["iptables", "-t", "nat", "-F", META_CHAIN]))
    run(in_netns(plane.netns, ["ip", "addr", "flush", "dev", "br0"]))

    plane.ensure()
    assert plane.plugged() == {row.id}
    after = servers(plane)
    assert len(after[0]) == 1 and len(after[1]) == 1 and set(after[0]) != set(dnsmasq)
    guests.append(Guest(plane, row.mac or "", script))
    assert guests[0].dhcp() == "10.77.0.30"
    assert guests[0].http(f"{MD}/meta-data/instance-id") == (200, row.id)

    # plug() alone restarts a metadata server that died since.
    killed = servers(plane)[1]
    for pid in killed:
        os.kill(pid, signal.SIGKILL)
    procs.stop(killed)  # waits until it is gone
    plane.plug(row.id, row.mac or "", "10.77.0.30")
    assert guests[0].http(f"{MD}/meta-data/local-ipv4") == (200, "10.77.0.30")


def test_a_lost_state_dir_or_namespace_is_recovered(
    plane: DataPlane, node: str, store: Store, tmp_path: Path
) -> None:
    # The state directory is gone but the namespace and its servers live on (the agent that
    # ran them is gone too): a data plane for the node with a new directory replaces the
    # strays instead of failing on their ports.
    plane.release()
    second = plane_for(node, tmp_path / "other", store.url)
    try:
        second.ensure()
        dnsmasq, metadata = servers(second)
        assert len(dnsmasq) == 1 and len(metadata) == 1
        # The namespace is deleted under a running data plane: ensure() builds it again and
        # does not adopt servers left in the dead one.
        run(["ip", "netns", "del", second.netns])
        second.ensure()
        again = servers(second)
        assert len(again[0]) == 1 and len(again[1]) == 1
        assert not set(again[1]) & set(metadata)
        row = add_instance(store, node, "10.77.0.40")
        nic = second.plug(row.id, row.mac or "", "10.77.0.40")
        assert nic.tap in run(in_netns(second.netns, ["ip", "-o", "link"])).stdout
    finally:
        second.teardown()
    assert all(procs.gone(pid) for pid in [*dnsmasq, *metadata])


def test_plug_refuses_values_that_could_reach_a_config(plane: DataPlane) -> None:
    for iid, mac, ip in (
        ("i-1;reboot", "d0:0d:00:00:00:01", "10.77.0.5"),
        ("i-0123456789abcdef0", "d0:0d:00:00:00:01,x", "10.77.0.5"),
        ("i-0123456789abcdef0", "d0:0d:00:00:00:01", "10.77.0.5\n"),
        ("i-0123456789abcdef0", "d0:0d:00:00:00:01", plane.gateway),
    ):
        with pytest.raises(ValueError):
            plane.plug(iid, mac, ip)
    assert plane.plugged() == set()


def test_a_changed_subnet_is_applied(plane: DataPlane, node: str, store: Store) -> None:
    before = servers(plane)
    plane.release()  # as an agent stopped, to start again with the new subnet
    moved = plane_for(node, plane.run_dir.parents[1], store.url, subnet="10.78.0.0/24")
    moved.ensure()
    moved.release()
    after = servers(moved)
    assert len(after[0]) == 1 and len(after[1]) == 1
    assert not set(after[0]) & set(before[0]) and not set(after[1]) & set(before[1])
    addrs = run(in_netns(plane.netns, ["ip", "-4", "-o", "addr", "show", "dev", "br0"])).stdout
    assert "10.78.0.1/24" in addrs and "10.77.0.1/24" not in addrs
    assert "--to-destination 10.78.0.1:8775" in nat_rules(moved)


def test_an_older_mallees_namespace_is_adopted_only_by_its_own_node(
    node: str, tmp_path: Path, store: Store
) -> None:
    """Before names were per cloud, the namespace was "mallee-<node>": after an upgrade the
    node's agent renames its own (VMs' taps and servers kept), never another cloud's."""
    legacy = legacy_netns_for(node)

    def older(data_dir: Path) -> DataPlane:
        made = DataPlane(
            cloud_id=CLOUD, node_name=node, subnet=SUBNET, data_dir=data_dir, db_url=store.url,
            netns=legacy,
        )  # fmt: skip
        made.ensure()
        made.release()
        return made

    theirs = older(tmp_path / "another-cloud")
    mine = plane_for(node, tmp_path / "mine", store.url)
    try:
        mine.ensure()  # the older namespace's dnsmasq is not ours: left alone
        assert links.exists(legacy) and procs.netns_inode(mine.netns) != procs.netns_inode(legacy)
        mine.teardown()
        theirs.teardown()

        older(tmp_path / "mine")
        inode, dnsmasq = procs.netns_inode(legacy), procs.strays("dnsmasq", legacy)
        mine = plane_for(node, tmp_path / "mine", store.url)
        mine.ensure()
        assert not links.exists(legacy)
        assert procs.netns_inode(mine.netns) == inode
        assert procs.strays("dnsmasq", mine.netns) == dnsmasq  # kept running
        assert len(procs.strays("mallee.cli.metadata", mine.netns)) == 1
    finally:
        mine.teardown()
        theirs.teardown()
