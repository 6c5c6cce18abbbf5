"""Namespace, bridge and taps: the node's layer 2, each call idempotent.

A tap carries its instance id as the interface alias, so the taps alone say which instances
are plugged, even when the agent died between creating a tap and recording it anywhere else.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
from pathlib import Path
from typing import Any

from mallee.commands import in_netns, run


def exists(netns: str) -> bool:
    return not netns or Path(f"/run/netns/{netns}").exists()


def namespaces(prefix: str) -> list[str]:
    """The named namespaces whose names start with `prefix`, sorted."""
    run_dir = Path("/run/netns")
    found = [p.name for p in run_dir.iterdir()] if run_dir.exists() else []
    return sorted(n for n in found if n.startswith(prefix))


def ensure_netns(netns: str) -> None:
    if not exists(netns):
        run(["ip", "netns", "add", netns])
    ns(netns, "ip", "link", "set", "lo", "up")
    ns(netns, "sysctl", "-qw", "net.ipv4.ip_forward=1")


def delete_netns(netns: str) -> None:
    if netns and exists(netns):
        run(["ip", "netns", "del", netns])
    if netns:
        shutil.rmtree(NETNS_ETC / netns, ignore_errors=True)


# `ip netns exec NS` bind-mounts the files of /etc/netns/NS over /etc's.
NETNS_ETC = Path("/etc/netns")


def ensure_resolver(netns: str, nameserver: str) -> None:
    """/etc/resolv.conf as seen in `netns`: `nameserver` only."""
    wanted = f"nameserver {nameserver}\n"
    target = NETNS_ETC / netns / "resolv.conf"
    with contextlib.suppress(OSError):
        if target.read_text() == wanted:
            return
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name("resolv.conf.tmp")
    tmp.write_text(wanted)
    tmp.chmod(0o644)
    os.replace(tmp, target)


def rename_netns(old: str, new: str) -> None:
    """The namespace `old` known as `new` instead, with everything in it left as it is."""
    target = Path(f"/run/netns/{new}")
    target.touch(mode=0o444, exist_ok=False)
    try:
        run(["mount", "--bind", f"/run/netns/{old}", str(target)])
    except BaseException:
        target.unlink()
        raise
    # `ip netns del` only drops the name: the namespace lives on under its new one.
    run(["ip", "netns", "del", old])


def ns(netns: str, *argv: str, check: bool = True) -> str:
    return run(in_netns(netns, argv), check=check).stdout


def links(netns: str) -> list[dict[str, object]]:
    found: list[dict[str, object]] = json.loads(ns(netns, "ip", "-j", "link", "show") or "[]")
    return found


def ensure_bridge(netns: str, bridge: str, mac: str, cidr: str) -> None:
    """`bridge` up, with the fixed `mac` and the gateway address `cidr` (and no other)."""
    current = {str(link["ifname"]): link for link in links(netns)}
    if bridge not in current:
        ns(netns, "ip", "link", "add", bridge, "address", mac, "type", "bridge")
    elif current[bridge].get("address") != mac:
        ns(netns, "ip", "link", "set", bridge, "address", mac)
    addrs = json.loads(ns(netns, "ip", "-j", "-4", "addr", "show", "dev", bridge) or "[]")
    have = {a for entry in addrs for a in inet_addresses(entry)}
    for stale in have - {cidr}:
        ns(netns, "ip", "addr", "del", stale, "dev", bridge)
    if cidr not in have:
        ns(netns, "ip", "addr", "add", cidr, "dev", bridge)
    ns(netns, "ip", "link", "set", bridge, "up")


def interfaces(netns: str) -> dict[str, dict[str, Any]]:
    """Name -> `ip -j addr` entry (flags, master, MAC, addresses) of every interface."""
    shown: list[dict[str, Any]] = json.loads(ns(netns, "ip", "-j", "addr", "show") or "[]")
    return {str(entry["ifname"]): entry for entry in shown}


def inet_addresses(entry: dict[str, Any]) -> set[str]:
    """The IPv4 addresses (address/prefix) of an `ip -j addr` entry."""
    return {
        f"{a['local']}/{a['prefixlen']}"
        for a in entry.get("addr_info", [])
        if a.get("family") == "inet"
    }


def taps(netns: str) -> dict[str, str]:
    """Tap name -> the instance id in its alias, for every tap we made (alias set)."""
    return {
        str(link["ifname"]): str(link["ifalias"])
        for link in links(netns)
        if str(link["ifname"]).startswith("tap") and link.get("ifalias")
    }


def ensure_tap(netns: str, tap: str, bridge: str, owner: str) -> None:
    found = {str(link["ifname"]): link for link in links(netns)}
    if tap in found:
        alias = found[tap].get("ifalias")
        if alias and alias != owner:
            raise RuntimeError(f"tap {tap} in {netns or 'host'} belongs to {alias}, not {owner}")
    else:
        ns(netns, "ip", "tuntap", "add", "dev", tap, "mode", "tap")
    ns(netns, "ip", "link", "set", "dev", tap, "alias", owner)
    ns(netns, "ip", "link", "set", "dev", tap, "master", bridge, "up")


def delete_tap(netns: str, tap: str) -> None:
    if any(link["ifname"] == tap for link in links(netns)):
        ns(netns, "ip", "link", "del", "dev", tap, check=False)
