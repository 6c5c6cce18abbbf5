"""The pure parts of a load balancer in a user VPC: its interface's address, its port as the
VPC data path sees it, group membership, and the guard on its listeners."""

from __future__ import annotations

from mallee.node.lb.vpc import listener_rules, port_id, with_members
from mallee.node.network.desired import Rule
from mallee.node.network.names import tap_for
from mallee.node.network.vpc_desired import Nic, Subnet, Vpc, VpcState
from mallee.node.network.vpc_rules import vpc_plan
from mallee.services.elb.interfaces import free_address

CLOUD = "0123abcd"


def test_the_first_address_after_awss_reserved_four() -> None:
    assert free_address("10.0.1.0/24", set()) == "10.0.1.4"
    assert free_address("10.0.1.0/24", {"10.0.1.4", "10.0.1.5"}) == "10.0.1.6"
    # The broadcast address is AWS's too: a /28 has 11 usable addresses.
    taken = {f"10.0.1.{n}" for n in range(4, 15)}
    assert free_address("10.0.1.0/28", taken) is None


def test_the_port_is_named_as_an_instance_tap() -> None:
    port = port_id("eni-0123456789abcdef0")
    assert port == "i-0123456789abcdef0"
    assert tap_for(port) == "tap0123456789ab"


def test_members_of_the_load_balancers_groups_include_its_address() -> None:
    nics = [
        ("vpc-1", ("i-e1", "subnet-1", "10.0.1.4", "02:e1:00:00:00:01", "n1", ("sg-0000000a",)))
    ]
    members = with_members({"sg-0000000a": ("10.0.1.9",), "sg-other": ()}, nics)
    assert members == {"sg-0000000a": ("10.0.1.4", "10.0.1.9"), "sg-other": ()}
    # Only groups some rule names are members' keys: others stay out.
    assert "sg-x" not in with_members({}, nics)


def test_listener_guard_lets_in_what_cidr_rules_allow() -> None:
    ingress = [
        Rule(False, "tcp", 80, 80, "0.0.0.0/0", None),
        Rule(False, "tcp", 443, 443, "198.51.100.7/24", None),
        Rule(False, "tcp", 8080, 8080, None, "sg-peer"),  # no client outside is a member
        Rule(True, "-1", None, None, "0.0.0.0/0", None),
    ]
    assert listener_rules(ingress) == [
        ["-m", "conntrack", "--ctstate", "RELATED,ESTABLISHED", "-j", "RETURN"],
        ["-p", "tcp", "-m", "tcp", "--dport", "80", "-j", "RETURN"],
        ["-s", "198.51.100.0/24", "-p", "tcp", "-m", "tcp", "--dport", "443", "-j", "RETURN"],
        ["-j", "DROP"],
    ]
    assert listener_rules([]) == [
        ["-m", "conntrack", "--ctstate", "RELATED,ESTABLISHED", "-j", "RETURN"],
        ["-j", "DROP"],
    ]


def _state(node: str) -> VpcState:
    subnet = Subnet("subnet-1", "10.0.1.0/24", (), ())
    worker = Nic(port_id("eni-00000000000000001"), "subnet-1", "10.0.1.4", "02:e1:00:00:00:01",
                 "n1", ("sg-0000000a",))  # fmt: skip
    guest = Nic("i-00000000000000002", "subnet-1", "10.0.1.5", "d0:0d:00:00:00:02", "n2",
                ("sg-0000000b",))  # fmt: skip
    vpc = Vpc("vpc-1", 4096, "10.0.0.0/16", (subnet,), (worker, guest), (), False)
    rules = {
        "sg-0000000a": (Rule(True, "-1", None, None, "0.0.0.0/0", None),),
        "sg-0000000b": (Rule(False, "tcp", 80, 80, None, "sg-0000000a"),),
    }
    return VpcState(1, node, (vpc,), {"n1": "192.0.2.1", "n2": "192.0.2.2"}, rules,
                    {"sg-0000000a": ("10.0.1.4",)})  # fmt: skip


def test_the_worker_port_is_plugged_guarded_and_known_across_nodes() -> None:
    here = vpc_plan(_state("n1"), _state("n1").vpcs[0], CLOUD)
    tap = tap_for(port_id("eni-00000000000000001"))
    assert (tap, "br-010") in here.taps
    spoof = here.bridge["MALLEE_SPOOF"]
    assert any(r[:2] == ["-i", tap] and "10.0.1.4" in r for r in spoof)
    # The back end's node knows the worker's address and MAC over VXLAN, and its group
    # admits the load balancer's members.
    there = vpc_plan(_state("n2"), _state("n2").vpcs[0], CLOUD)
    assert ("10.0.1.4", "02:e1:00:00:00:01", "br-010") in there.neighbours
    assert any("02:e1:00:00:00:01" in e and "192.0.2.1" in e for e in there.fdb)
    ingress = [rule for chain, rs in there.filter.items() if chain.startswith("MI-") for rule in rs]
    assert [
        "-s",
        "10.0.1.4/32",
        "-p",
        "tcp",
        "-m",
        "tcp",
        "--dport",
        "80",
        "-j",
        "ACCEPT",
    ] in ingress
