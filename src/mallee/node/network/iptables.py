"""iptables chains owned by mallee, replaced whole and atomically.

Each concern (metadata redirect now; security groups and elastic IPs next) owns chains whose
full contents it computes and hands to `set_chain`; the built-in chains only get one jump to
ours. So repeating a step never duplicates a rule, and there is no moment where a chain is
half filled: `iptables-restore --noflush` swaps a chain's rules in one transaction.

Rules are written as `iptables -S` prints them (option order, `-m tcp` for `--dport`) so an
unchanged chain is recognised and left alone.
"""

from __future__ import annotations

import re

from mallee.commands import in_netns, run

# Tokens of a rule: addresses, ports, names, flags. Nothing iptables-restore would re-split
# or read as a quote or comment.
_TOKEN = re.compile(r"[A-Za-z0-9_.:/!,+-]+")
_CHAIN = re.compile(r"[A-Z][A-Z0-9_-]{0,28}")


def _check(chain: str, rules: list[list[str]]) -> None:
    if not _CHAIN.fullmatch(chain):
        raise ValueError(f"bad chain name {chain!r}")
    for rule in rules:
        for token in rule:
            if not _TOKEN.fullmatch(token):
                raise ValueError(f"bad iptables token {token!r} in chain {chain}")


def current(netns: str, table: str, chain: str) -> list[str] | None:
    """The chain's rules as `iptables -S` lines, or None when the chain does not exist."""
    proc = run(in_netns(netns, ["iptables", "-w", "-t", table, "-S", chain]), check=False)
    if proc.returncode != 0:
        return None
    return [ln for ln in proc.stdout.splitlines() if ln.startswith("-A ")]


def set_chain(netns: str, table: str, chain: str, rules: list[list[str]]) -> bool:
    """Make `chain` hold exactly `rules` (each the argv after `-A chain`); True if it changed."""
    _check(chain, rules)
    wanted = [" ".join(["-A", chain, *rule]) for rule in rules]
    if current(netns, table, chain) == wanted:
        return False
    text = "".join([f"*{table}\n:{chain} - [0:0]\n", *(f"{ln}\n" for ln in wanted), "COMMIT\n"])
    run(in_netns(netns, ["iptables-restore", "-w", "--noflush"]), input=text.encode())
    return True


def ensure_jump(netns: str, table: str, parent: str, chain: str, match: list[str]) -> bool:
    """One rule in the built-in `parent` sending `match`ing packets to `chain`, first in line;
    True if it had to be added."""
    _check(chain, [match])
    rule = [*match, "-j", chain]
    check = run(in_netns(netns, ["iptables", "-w", "-t", table, "-C", parent, *rule]), check=False)
    if check.returncode == 0:
        return False
    run(in_netns(netns, ["iptables", "-w", "-t", table, "-I", parent, "1", *rule]))
    return True


def drop_chain(netns: str, table: str, parent: str, chain: str, match: list[str]) -> None:
    """Remove the jump and the chain (for the host namespace; a node namespace just goes)."""
    rule = [*match, "-j", chain]
    base = ["iptables", "-w", "-t", table]
    while run(in_netns(netns, [*base, "-D", parent, *rule]), check=False).returncode == 0:
        pass
    if current(netns, table, chain) is not None:
        run(in_netns(netns, [*base, "-F", chain]))
        run(in_netns(netns, [*base, "-X", chain]))


def owned_chains(netns: str, table: str, prefixes: tuple[str, ...]) -> set[str]:
    proc = run(in_netns(netns, ["iptables", "-w", "-t", table, "-S"]))
    names = (ln.split()[1] for ln in proc.stdout.splitlines() if ln.startswith("-N "))
    return {n for n in names if n.startswith(prefixes)}


def replace_chains(
    netns: str, table: str, chains: dict[str, list[list[str]]], prefixes: tuple[str, ...] = ()
) -> None:
    """Give every chain in `chains` exactly its rules and delete our other chains whose names
    start with `prefixes`, in one iptables-restore transaction: no packet ever sees a half
    built set, and a chain that is still jumped to is never deleted."""
    for chain, rules in chains.items():
        _check(chain, rules)
    stale = sorted(owned_chains(netns, table, prefixes) - set(chains)) if prefixes else []
    lines = [f"*{table}"]
    lines += [f":{chain} - [0:0]" for chain in [*chains, *stale]]
    lines += [" ".join(["-A", chain, *rule]) for chain, rules in chains.items() for rule in rules]
    lines += [f"-X {chain}" for chain in stale]
    lines.append("COMMIT\n")
    run(in_netns(netns, ["iptables-restore", "-w", "--noflush"]), input="\n".join(lines).encode())


def replace_bridge_chain(netns: str, chain: str, rules: list[list[str]]) -> None:
    """The ebtables filter chain `chain` holding exactly `rules`, swapped in one transaction."""
    _check(chain, rules)
    lines = ["*filter", f":{chain} ACCEPT"]
    lines += [" ".join(["-A", chain, *rule]) for rule in rules]
    lines.append("COMMIT\n")
    run(in_netns(netns, ["ebtables-restore", "--noflush"]), input="\n".join(lines).encode())


def ensure_bridge_jump(netns: str, parent: str, chain: str, match: list[str]) -> None:
    _check(chain, [match])
    listed = run(in_netns(netns, ["ebtables", "-t", "filter", "-L", parent])).stdout
    if f"-j {chain}" not in listed:
        run(in_netns(netns, ["ebtables", "-t", "filter", "-I", parent, "1", *match, "-j", chain]))


def ensure_chain(netns: str, table: str, chain: str) -> None:
    """An (empty) chain when there is none; an existing one keeps its rules."""
    _check(chain, [])
    if current(netns, table, chain) is None:
        run(in_netns(netns, ["iptables", "-w", "-t", table, "-N", chain]))


def ensure_bridge_chain(netns: str, chain: str) -> None:
    _check(chain, [])
    found = run(in_netns(netns, ["ebtables", "-t", "filter", "-L", chain]), check=False)
    if found.returncode != 0:
        run(in_netns(netns, ["ebtables", "-t", "filter", "-N", chain, "-P", "RETURN"]))
