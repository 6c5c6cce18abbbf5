"""What the EDGE reconciler made, as the kernel shows it, to notice when it changes.

Right after applying, the reconciler observes the state it owns (its iptables and ebtables
chains and the jumps to them, the uplink's addresses and routes, its port on the public
bridge); every few seconds it observes again, and any difference is drift (a flushed chain, a
deleted route, another process rebuilding the namespace) that it repairs by applying
everything again. Observations are compared with observations, not with what was asked for,
so the way iptables prints a rule (`-p 47` as `-p gre`, `-s 0.0.0.0/0` not at all) never
passes for drift.

Each function here turns one command's output into a comparable value; they are pure.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping
from typing import Any

from mallee.node.network.links import inet_addresses

Observation = Mapping[str, tuple[str, ...]]
MISSING = ("(missing)",)


def iptables_rules(dump: str, owned: Collection[str]) -> tuple[str, ...]:
    """From `iptables-save -t TABLE`: the `owned` chains that exist and, in order, their
    rules and every rule elsewhere that jumps to one of them."""
    found = []
    for line in dump.splitlines():
        words = line.split()
        if line.startswith(":") and words[0][1:] in owned:
            found.append(words[0])  # the chain exists (its counters are left out)
        elif line.startswith("-A ") and len(words) > 1:
            target = words[words.index("-j") + 1] if "-j" in words[:-1] else ""
            if words[1] in owned or target in owned:
                found.append(line)
    return tuple(found)


def bridge_rules(listing: str, chain: str) -> tuple[str, ...]:
    """From `ebtables -t filter -L`: `chain`'s header and rules, and every rule elsewhere
    that jumps to it."""
    found = []
    current = ""
    for line in listing.splitlines():
        if line.startswith("Bridge chain: "):
            name, _, rest = line.removeprefix("Bridge chain: ").partition(",")
            current = name
            if name == chain:
                found.append(f"{name},{rest}")
        elif line.strip() and current and (current == chain or f"-j {chain}" in line):
            found.append(f"{current}: {line.strip()}")
    return tuple(found)


def interfaces(shown: str, names: Collection[str]) -> tuple[str, ...]:
    """From `ip -j addr show`: for each of `names`, whether it is up, its bridge and its
    IPv4 addresses (what a reconciler sets; not counters or lifetimes)."""
    found = []
    for entry in json.loads(shown or "[]"):
        name = str(entry.get("ifname"))
        if name not in names:
            continue
        up = "up" if "UP" in entry.get("flags", ()) else "down"
        found.append(f"{name} {up} master={entry.get('master', '-')}")
        found += sorted(f"{name} {a}" for a in inet_addresses(entry))
    return tuple(sorted(found))


def routes(shown: str) -> tuple[str, ...]:
    """From `ip -j route show`: destination and next hop of each IPv4 route."""
    entries: list[dict[str, Any]] = json.loads(shown or "[]")
    return tuple(sorted(f"{r.get('dst')} via {r.get('gateway', '-')}" for r in entries))


def differences(before: Observation, after: Observation) -> list[str]:
    """What changed between two observations, one phrase per part that did."""
    out = []
    for part in sorted(set(before) | set(after)):
        old, new = before.get(part, ()), after.get(part, ())
        if old == new:
            continue
        gone, added = len(set(old) - set(new)), len(set(new) - set(old))
        if new == MISSING:
            out.append(f"{part}: missing")
        elif gone or added:
            out.append(f"{part}: {gone} gone, {added} new")
        else:
            out.append(f"{part}: reordered")
    return out
