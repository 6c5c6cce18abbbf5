"""The VPC data path's pure parts: names, VNIs, routing tables, ACL chains, FDB sets."""

from __future__ import annotations

import dataclasses

import pytest

from mallee.node.network.desired import Rule
from mallee.node.network.vpc_desired import (
    AclEntry,
    NatGateway,
    Nic,
    RouteEntry,
    Subnet,
    Vpc,
    VpcState,
    nat_node,
)
from mallee.node.network.vpc_names import (
    nat_netns,
    router_mac,
    subnet_index,
    subnet_vni,
    vpc_netns,
    vpc_prefix,
)
from mallee.node.network.vpc_rules import (
    FLOOD,
    IGW_GUARD,
    acl_chain,
    node_plans,
    vpc_plan,
    vxlan_input_rules,
)

CLOUD = "0123abcd"
VNI = 7 << 12
ALLOW_ALL = (
    AclEntry(100, False, "-1", True, "0.0.0.0/0"),
    AclEntry(32767, False, "-1", False, "0.0.0.0/0"),
    AclEntry(100, True, "-1", True, "0.0.0.0/0"),
    AclEntry(32767, True, "-1", False, "0.0.0.0/0"),
)


def test_names_are_per_cloud_and_vni_and_fit() -> None:
    assert vpc_netns(CLOUD, "n1", VNI) != vpc_netns("0123abce", "n1", VNI)
    assert vpc_netns(CLOUD, "n1", VNI) != vpc_netns(CLOUD, "n1", 8 << 12)
    assert vpc_netns(CLOUD, "n1", VNI) != vpc_netns(CLOUD, "n2", VNI)  # nodes on one host
    assert vpc_netns(CLOUD, "n1", VNI).startswith(vpc_prefix(CLOUD, "n1"))
    assert not vpc_netns(CLOUD, "n2", VNI).startswith(vpc_prefix(CLOUD, "n1"))
    assert len(vpc_netns(CLOUD, "n" * 255, (1 << 24) - (1 << 12))) <= 60
    assert nat_netns(CLOUD, "n1", "nat-1") != nat_netns(CLOUD, "n1", "nat-2")
    with pytest.raises(ValueError):
        vpc_netns(CLOUD, "n1", VNI + 1)  # not a block
    assert router_mac(VNI + 1) == router_mac(VNI + 1) != router_mac(VNI + 2)


def test_subnet_vnis_are_distinct_in_a_vpc_and_stay_in_its_block() -> None:
    indexes = {subnet_index("10.0.0.0/16", f"10.0.{n}.0/24") for n in range(256)}
    assert len(indexes) == 256
    last = subnet_index("10.0.0.0/16", "10.0.255.240/28")
    assert last == 4095 and subnet_vni(VNI, last) < VNI + 4096
    with pytest.raises(ValueError):
        subnet_index("10.0.0.0/16", "10.1.0.0/24")


def test_acl_is_ordered_stateless_and_denies_at_the_end() -> None:
    entries = (
        AclEntry(200, False, "-1", True, "0.0.0.0/0"),
        AclEntry(100, False, "6", False, "10.0.2.0/24", 80, 80),
        AclEntry(32767, False, "-1", False, "0.0.0.0/0"),
        AclEntry(100, True, "-1", True, "0.0.0.0/0"),
    )
    assert acl_chain(entries, False) == [
        ["-s", "10.0.2.0/24", "-p", "tcp", "-m", "tcp", "--dport", "80", "-j", "DROP"],
        ["-s", "0.0.0.0/0", "-j", "RETURN"],
        ["-s", "0.0.0.0/0", "-j", "DROP"],
        ["-j", "DROP"],
    ]
    assert acl_chain(entries, True)[0] == ["-d", "0.0.0.0/0", "-j", "RETURN"]


def _state(node: str = "n1", igw: bool = True) -> VpcState:
    public = Subnet(
        "subnet-a", "10.0.1.0/24",
        (RouteEntry("10.0.0.0/16", "local", "local"), RouteEntry("0.0.0.0/0", "gateway", "igw-1")),
        ALLOW_ALL,
    )  # fmt: skip
    private = Subnet(
        "subnet-b", "10.0.2.0/24",
        (RouteEntry("10.0.0.0/16", "local", "local"),
         RouteEntry("0.0.0.0/0", "nat-gateway", "nat-1"),
         RouteEntry("192.168.0.0/16", "gateway", "igw-old", active=False)),
        ALLOW_ALL,
    )  # fmt: skip
    nics = (
        Nic("i-a", "subnet-a", "10.0.1.10", "02:00:00:00:00:0a", "n1", ("sg-1",), "203.0.113.7"),
        Nic("i-b", "subnet-b", "10.0.2.10", "02:00:00:00:00:0b", "n2", ("sg-1",)),
        Nic("i-c", "subnet-b", "10.0.2.11", "02:00:00:00:00:0c", "n1", ("sg-1",)),
    )
    vpc = Vpc(
        "vpc-1", VNI, "10.0.0.0/16", (public, private), nics,
        (NatGateway("nat-1", "subnet-a", "10.0.1.5", "203.0.113.9", "n2"),), igw,
    )  # fmt: skip
    return VpcState(
        1, node, (vpc,), {"n1": "198.51.100.1", "n2": "198.51.100.2"},
        {"sg-1": (Rule(False, "tcp", 80, 80, "0.0.0.0/0", None),)}, {},
    )  # fmt: skip


def test_plan_routes_fdb_and_neighbours() -> None:
    state = _state()
    plan = vpc_plan(state, state.vpcs[0], CLOUD)
    a, b = plan.subnets
    assert a.routes[-1] == "0.0.0.0/0 via 169.254.255.1 dev igw0 onlink"
    assert "0.0.0.0/0 via 10.0.1.5 dev br-010" in b.routes  # the NAT gateway, in subnet a
    assert "blackhole 192.168.0.0/16" in b.routes  # a detached gateway's route
    assert "blackhole 10.0.0.0/16" in b.routes and "10.0.1.0/24 dev br-010" in b.routes
    # Flood to the other node on every subnet, and the remote MACs (i-b, the NAT) pinned.
    assert (a.vxlan, FLOOD, "198.51.100.2") in plan.fdb
    assert (b.vxlan, "02:00:00:00:00:0b", "198.51.100.2") in plan.fdb
    assert not any(dst == "198.51.100.1" for _, _, dst in plan.fdb)
    assert ("10.0.2.10", "02:00:00:00:00:0b", b.bridge) in plan.neighbours
    assert plan.public == (("203.0.113.7", "10.0.1.10"),)
    assert plan.filter[IGW_GUARD] == [["-s", "10.0.1.10/32", "-j", "RETURN"], ["-j", "DROP"]]
    assert {t for t, _ in plan.taps} == {"tapa", "tapc"}
    assert not plan.nats  # the NAT gateway runs on n2


def test_no_gateway_no_public_reach_and_nat_placement() -> None:
    state = _state(igw=False)
    plan = vpc_plan(state, state.vpcs[0], CLOUD)
    assert plan.public == () and plan.subnets[0].routes[-1] == "blackhole 0.0.0.0/0"
    other = vpc_plan(_state("n2"), _state("n2").vpcs[0], CLOUD)
    assert [n.id for n in other.nats] == ["nat-1"]
    assert nat_node("nat-1", ["b", "a"]) == nat_node("nat-1", ["a", "b"])
    assert list(node_plans(state, CLOUD)) == [vpc_netns(CLOUD, "n1", VNI)]


def test_dhcp_serves_every_subnet_with_the_vpc_options_and_nothing_else() -> None:
    state = _state()
    vpc = dataclasses.replace(
        state.vpcs[0],
        dhcp=(
            ("domain-name", ("corp.example", "other.example")),
            ("domain-name-servers", ("AmazonProvidedDNS", "10.0.0.2", "x,--evil")),
        ),
    )
    plan = vpc_plan(state, vpc, CLOUD)
    assert plan.dhcp == (
        "--interface=br-010",
        "--dhcp-range=set:s010,10.0.1.0,static,255.255.255.0,infinite",
        "--dhcp-option=tag:s010,option:router,10.0.1.1",
        "--interface=br-020",
        "--dhcp-range=set:s020,10.0.2.0,static,255.255.255.0,infinite",
        "--dhcp-option=tag:s020,option:router,10.0.2.1",
        "--dhcp-option=option:mtu,1450",
        "--dhcp-option=option:dns-server,10.0.0.2",
        "--dhcp-option=option:domain-name,corp.example",
    )
    assert plan.hosts == (
        ("02:00:00:00:00:0a", "10.0.1.10", "i-a"),
        ("02:00:00:00:00:0c", "10.0.2.11", "i-c"),
    )


def test_a_route_to_a_subnet_cidr_is_one_route() -> None:
    """A second `ip route add` of one prefix fails ("File exists") and stops the namespace."""
    state = _state()
    vpc = state.vpcs[0]
    a, b = vpc.subnets
    routes = (
        *b.routes,
        RouteEntry("10.0.1.0/24", "instance", "i-c"),  # an appliance for subnet a's traffic
        RouteEntry("10.0.2.0/24", "gateway", "igw-1"),  # never resolvable: the local route stays
    )
    vpc = dataclasses.replace(vpc, subnets=(a, dataclasses.replace(b, routes=routes)))
    plan = vpc_plan(state, vpc, CLOUD)
    table = plan.subnets[1].routes
    dests = [r.removeprefix("blackhole ").split(" ")[0] for r in table]
    assert len(dests) == len(set(dests))
    assert "10.0.1.0/24 via 10.0.2.11 dev br-020" in table
    assert "10.0.2.0/24 dev br-020" in table
    # A VPC with a single subnet as large as itself: the local route is the subnet's.
    whole = dataclasses.replace(
        vpc, cidr="10.0.1.0/24", subnets=(dataclasses.replace(a, cidr="10.0.1.0/24"),), nats=()
    )
    assert vpc_plan(state, whole, CLOUD).subnets[0].routes[0] == "10.0.1.0/24 dev br-000"


def test_acl_rows_iptables_cannot_take_are_left_out() -> None:
    entries = (
        AclEntry(90, False, "0", True, "0.0.0.0/0"),  # iptables' `-p 0` is every protocol
        AclEntry(95, False, "1", True, "0.0.0.0/0", icmp_type=256, icmp_code=0),
        AclEntry(100, False, "1", True, "0.0.0.0/0", icmp_type=8, icmp_code=-1),
    )
    assert acl_chain(entries, False) == [
        ["-s", "0.0.0.0/0", "-p", "icmp", "-m", "icmp", "--icmp-type", "8", "-j", "RETURN"],
        ["-j", "DROP"],
    ]


def test_vxlan_port_takes_only_the_other_nodes_on_the_public_device() -> None:
    nodes = {"n1": "198.51.100.1", "n2": "198.51.100.2", "n3": "198.51.100.3", "n4": ""}
    assert vxlan_input_rules(nodes, "198.51.100.1") == [
        ["-s", "198.51.100.2/32", "-i", "pub0", "-j", "RETURN"],
        ["-s", "198.51.100.3/32", "-i", "pub0", "-j", "RETURN"],
        ["-j", "DROP"],
    ]
    assert vxlan_input_rules({"n1": "198.51.100.1"}, "198.51.100.1") == [["-j", "DROP"]]
