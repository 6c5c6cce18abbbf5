"""VPC data path on one node: plan generation for 100 VPCs x 1000 instances (pure), and the
apply of a smaller set into real scratch namespaces (issue #18: 100 VPCs with 1,000 instances
reconcile in under 2 s; a change is enforced within 0.5 s).

Every VPC has 3 subnets and a NAT route; instances are spread over 4 nodes, a quarter of them
on this one, each with a public IP, in 2 groups. Prints the pure generation time of all plans,
then (with --apply N) the first apply of N VPCs' plans and the apply after one ACL change.

With --latency N, it also times N rounds of a row change to its enforcement: a real database
(SQLite in a temporary directory) and a VpcReconciler thread polling it as the node agent
runs it; a round commits a network ACL entry (bumping the network generation, as the api
does) and waits until the rule is in the namespace's chain, then deletes it and waits until it
is gone.

Usage: python bench/vpc_dataplane.py [--vpcs 100] [--instances 1000] [--apply 3] [--latency 5]
"""

from __future__ import annotations

import argparse
import dataclasses
import time
import uuid

from mallee.commands import run
from mallee.node.network import links
from mallee.node.network.desired import Rule
from mallee.node.network.vpc_apply import apply_vpc
from mallee.node.network.vpc_desired import AclEntry, Nic, RouteEntry, Subnet, Vpc, VpcState
from mallee.node.network.vpc_rules import node_plans

NODES = {f"n{k}": f"198.51.100.{k + 1}" for k in range(4)}
ACL = (
    AclEntry(100, False, "-1", True, "0.0.0.0/0"),
    AclEntry(32767, False, "-1", False, "0.0.0.0/0"),
    AclEntry(100, True, "-1", True, "0.0.0.0/0"),
    AclEntry(32767, True, "-1", False, "0.0.0.0/0"),
)


def state(vpcs: int, instances: int, acl: tuple[AclEntry, ...] = ACL) -> VpcState:
    per = instances // vpcs
    out = []
    for v in range(vpcs):
        routes = (RouteEntry("10.0.0.0/16", "local", "local"),
                  RouteEntry("0.0.0.0/0", "gateway", "igw"))  # fmt: skip
        subnets = tuple(Subnet(f"subnet-{v}-{k}", f"10.0.{k}.0/24", routes, acl) for k in range(3))
        nics = tuple(
            Nic(f"i-{v:04x}{n:04x}", f"subnet-{v}-{n % 3}", f"10.0.{n % 3}.{10 + n // 3}",
                f"02:00:{v >> 8:02x}:{v & 255:02x}:00:{n:02x}", f"n{n % 4}",
                (f"sg-{v:04x}a", f"sg-{v:04x}b"), f"203.0.{v % 200}.{n + 1}")
            for n in range(per)
        )  # fmt: skip
        out.append(Vpc(f"vpc-{v}", (v + 1) << 12, "10.0.0.0/16", subnets, nics, (), True))
    rules: dict[str, tuple[Rule, ...]] = {
        f"sg-{v:04x}{x}": (Rule(False, "tcp", 80, 80, "0.0.0.0/0", None),
                            Rule(True, "-1", None, None, "0.0.0.0/0", None))
        for v in range(vpcs) for x in "ab"
    }  # fmt: skip
    return VpcState(1, "n0", tuple(out), NODES, rules, {})


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--vpcs", type=int, default=100)
    p.add_argument("--instances", type=int, default=1000)
    p.add_argument("--apply", type=int, default=3)
    p.add_argument("--latency", type=int, default=5)
    args = p.parse_args()
    if args.latency:
        latency(args.latency)
    cloud = uuid.uuid4().hex[:8]
    big = state(args.vpcs, args.instances)
    started = time.perf_counter()
    plans = node_plans(big, cloud)
    took = time.perf_counter() - started
    rules = sum(len(r) for pl in plans.values() for r in pl.filter.values())
    print(f"plan generation: {args.vpcs} VPCs x {args.instances} instances: {took * 1000:.1f} ms "
          f"({len(plans)} namespaces, {rules} filter rules)")  # fmt: skip
    if not args.apply:
        return
    node = f"mallee-bench-{cloud}"
    small = list(plans.values())[: args.apply]
    try:
        links.ensure_netns(node)
        run(["ip", "-n", node, "link", "add", "pub0", "type", "veth", "peer", "name", "pubx"])
        run(["ip", "-n", node, "addr", "add", "198.51.100.1/24", "dev", "pub0"])
        run(["ip", "-n", node, "link", "set", "pub0", "up"])
        started = time.perf_counter()
        for plan in small:
            apply_vpc(plan, node, "198.51.100.1")
        first = time.perf_counter() - started
        deny = (AclEntry(50, False, "6", False, "0.0.0.0/0", 22, 22), *ACL)
        changed = node_plans(state(args.vpcs, args.instances, deny), cloud)
        plan = changed[small[0].netns]
        started = time.perf_counter()
        apply_vpc(dataclasses.replace(plan), node, "198.51.100.1")
        again = time.perf_counter() - started
        each = first / len(small)
        print(f"apply {len(small)} VPC namespaces (first): {first:.3f} s ({each:.3f} s each); "
              f"one ACL change in one VPC: {again:.3f} s")  # fmt: skip
    finally:
        for plan in small:
            links.delete_netns(plan.netns)
        links.delete_netns(node)


def latency(rounds: int) -> None:
    import datetime as dt
    import statistics
    import tempfile
    import threading

    from mallee.cloud_identity import system_account_id
    from mallee.ids import new_id
    from mallee.node.network.vpc_edge import VpcReconciler
    from mallee.services.iam.bootstrap import ensure_system_account
    from mallee.store import Store
    from mallee.store.tables.compute import NodeRow
    from mallee.store.tables.ec2 import Ec2Instance
    from mallee.store.tables.network import bump_network
    from mallee.store.tables.vpc import (
        Ec2NetworkAcl,
        Ec2NetworkAclAssociation,
        Ec2NetworkAclEntry,
        Ec2RouteTable,
        Ec2Subnet,
        Ec2Vpc,
    )

    cloud, now = uuid.uuid4().hex[:8], dt.datetime.now(dt.UTC)
    node, netns = "bench-node", f"mallee-bench-{cloud}"
    with tempfile.TemporaryDirectory() as tmp:
        store = Store(f"sqlite:///{tmp}/db")
        store.migrate()
        ensure_system_account(store)
        account = system_account_id(store)
        vid, sid, acl = new_id("vpc"), new_id("subnet"), new_id("acl")
        with store.session() as s:
            s.add(
                NodeRow(
                    name=node,
                    zone="one",
                    hypervisor="tcg",
                    cores=1,
                    memory_mb=1,
                    disk_gb=1,
                    public_ip="198.51.100.1",
                    reported_at=time.time(),
                )
            )
            s.add(
                Ec2Vpc(
                    id=vid,
                    account_id=account,
                    cidr="10.0.0.0/16",
                    vni=1 << 12,
                    dhcp_options_id="default",
                    created_at=now,
                )
            )
            s.flush()
            s.add(
                Ec2Subnet(
                    id=sid,
                    vpc_id=vid,
                    account_id=account,
                    zone="one",
                    cidr="10.0.1.0/24",
                    created_at=now,
                )
            )
            s.add(
                Ec2RouteTable(
                    id=new_id("rtb"), vpc_id=vid, account_id=account, is_main=True, created_at=now
                )
            )
            s.add(Ec2NetworkAcl(id=acl, vpc_id=vid, account_id=account, created_at=now))
            s.flush()
            s.add(Ec2NetworkAclAssociation(id=new_id("aclassoc"), acl_id=acl, subnet_id=sid))
            s.add(
                Ec2Instance(
                    id=new_id("i"),
                    account_id=account,
                    reservation_id=new_id("r"),
                    image_id="emi-00000001",
                    instance_type="m1.small",
                    cores=1,
                    memory_mb=128,
                    disk_gb=1,
                    availability_zone="one",
                    state="running",
                    node=node,
                    mac="02:00:00:00:00:01",
                    private_ip="10.0.1.10",
                    vpc_id=vid,
                    subnet_id=sid,
                    launch_time=now,
                    state_changed_at=time.time(),
                )
            )
            bump_network(s)
        reconciler = VpcReconciler(
            store, cloud_id=cloud, node_name=node, netns=netns, public_ip="198.51.100.1"
        )
        stop = threading.Event()
        try:
            links.ensure_netns(netns)
            run(["ip", "-n", netns, "link", "add", "pub0", "type", "veth", "peer", "name", "x"])
            run(["ip", "-n", netns, "addr", "add", "198.51.100.1/24", "dev", "pub0"])
            reconciler.reconcile()
            (vpc_ns,) = reconciler.applied
            thread = threading.Thread(target=reconciler.run, args=(stop,), daemon=True)
            thread.start()

            def shown() -> bool:
                out = run(["ip", "netns", "exec", vpc_ns, "iptables", "-S", "NI-010"]).stdout
                return "--dport 22" in out

            took = []
            for _ in range(rounds):
                for present in (True, False):
                    started = time.monotonic()
                    with store.session() as s:
                        if present:
                            s.add(
                                Ec2NetworkAclEntry(
                                    acl_id=acl,
                                    egress=False,
                                    rule_number=50,
                                    protocol="6",
                                    rule_action="deny",
                                    cidr="0.0.0.0/0",
                                    port_from=22,
                                    port_to=22,
                                )
                            )
                        else:
                            s.delete(s.get(Ec2NetworkAclEntry, (acl, False, 50)))
                        bump_network(s)
                    while shown() != present:
                        time.sleep(0.01)
                    took.append(time.monotonic() - started)
            print(
                f"row change -> enforced, {len(took)} changes: median "
                f"{statistics.median(took):.3f} s, max {max(took):.3f} s"
            )
        finally:
            stop.set()
            if "thread" in locals():
                thread.join(timeout=10)
            reconciler.teardown()
            links.delete_netns(netns)
            store.dispose()


if __name__ == "__main__":
    main()
