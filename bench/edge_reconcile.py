"""EDGE reconcile time on one node: 1000 instances, 200 security groups (issue target <= 2 s).

Builds the desired state in memory (each instance in 2 groups; each group with a CIDR rule,
a port-range rule and a rule naming a peer group, so member addresses expand into rules),
then times rule generation and the iptables-restore that applies it, inside a scratch network
namespace. Prints the first apply (everything new), an unchanged re-apply, and an apply after
one rule changed.

Usage: python bench/edge_reconcile.py [--instances 1000] [--groups 200]
"""

from __future__ import annotations

import argparse
import ipaddress
import time
import uuid

from mallee.commands import in_netns, run
from mallee.node.network import iptables
from mallee.node.network.desired import EdgeState, LocalInstance, Rule
from mallee.node.network.rules import GROUP_PREFIXES, edge_rules


def state(instances: int, groups: int, extra_port: int = 443) -> EdgeState:
    gids = [f"sg-{n:017x}" for n in range(1, groups + 1)]
    hosts = ipaddress.ip_network("10.200.0.0/16").hosts()
    local = tuple(
        LocalInstance(
            f"i-{n:017x}", str(next(hosts)), (gids[n % groups], gids[(n * 7 + 1) % groups])
        )
        for n in range(instances)
    )
    rules = {
        gid: (
            Rule(False, "tcp", 22, 22, "0.0.0.0/0", None),
            Rule(False, "tcp", 8000, 8100, "10.0.0.0/8", None),
            Rule(False, "tcp", extra_port, extra_port, None, gids[(i + 1) % groups]),
            Rule(True, "-1", None, None, "0.0.0.0/0", None),
        )
        for i, gid in enumerate(gids)
    }
    members: dict[str, list[str]] = {gid: [] for gid in gids}
    for inst in local:
        for gid in inst.groups:
            members[gid].append(inst.private_ip)
    return EdgeState(
        generation=1,
        instances=local,
        rules=rules,
        members={g: tuple(ips) for g, ips in members.items()},
        nat={f"198.51.{n // 250}.{n % 250 + 1}": inst.private_ip for n, inst in enumerate(local)},
        routes={},
    )


def timed_apply(netns: str, desired: EdgeState) -> tuple[float, float, int]:
    start = time.perf_counter()
    rules = edge_rules(desired, "10.200.0.0/16")
    generated = time.perf_counter()
    iptables.replace_chains(netns, "filter", rules.filter, GROUP_PREFIXES)
    iptables.replace_chains(netns, "nat", rules.nat)
    done = time.perf_counter()
    count = sum(len(r) for r in rules.filter.values()) + sum(len(r) for r in rules.nat.values())
    return generated - start, done - generated, count


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--instances", type=int, default=1000)
    ap.add_argument("--groups", type=int, default=200)
    args = ap.parse_args()
    netns = f"mallee-bench-{uuid.uuid4().hex[:6]}"
    run(["ip", "netns", "add", netns])
    try:
        run(in_netns(netns, ["iptables", "-w", "-N", "MALLEE_DNAT", "-t", "nat"]))
        print(f"{'':34}{'generate (s)':>14}{'apply (s)':>11}{'total (s)':>11}{'rules':>8}")
        for label, desired in (
            ("first apply", state(args.instances, args.groups)),
            ("same state again", state(args.instances, args.groups)),
            ("one rule changed", state(args.instances, args.groups, extra_port=8443)),
        ):
            gen, apply, count = timed_apply(netns, desired)
            print(f"{label:34}{gen:14.3f}{apply:11.3f}{gen + apply:11.3f}{count:8d}")
    finally:
        run(["ip", "netns", "del", netns])


if __name__ == "__main__":
    main()
