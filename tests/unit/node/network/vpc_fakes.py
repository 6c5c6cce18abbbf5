"""Rows of a user VPC, and the kernel's namespaces and links as a dict, for the VPC ports' and
NAT states' tests (the real kernel is tests/vm's)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from mallee.cloud_identity import system_account_id
from mallee.ids import new_id
from mallee.node.network import links
from mallee.services.iam.bootstrap import ensure_system_account
from mallee.store import Store
from mallee.store.tables.vpc import Ec2Subnet, Ec2Vpc

NOW = dt.datetime.now(dt.UTC)


def user_vpc(
    store: Store,
    cidr: str = "10.0.0.0/16",
    subnet: str = "10.0.1.0/24",
    *,
    vni: int | None = 5 << 12,
) -> tuple[str, str]:
    """A user VPC and one subnet of it: (vpc id, subnet id)."""
    ensure_system_account(store)
    account = system_account_id(store)
    vid, sid = new_id("vpc"), new_id("subnet")
    with store.session() as s:
        s.add(Ec2Vpc(id=vid, account_id=account, cidr=cidr, dhcp_options_id="default", vni=vni,
                     created_at=NOW))  # fmt: skip
        s.flush()
        s.add(Ec2Subnet(id=sid, vpc_id=vid, account_id=account, zone="one", cidr=subnet,
                        created_at=NOW))  # fmt: skip
    return vid, sid


class Kernel:
    """Namespaces -> interfaces (`ip -j addr` entries), what links' functions read and change."""

    def __init__(self) -> None:
        self.netns: dict[str, dict[str, dict[str, Any]]] = {}

    def add(self, netns: str, *bridges: str) -> None:
        found = self.netns.setdefault(netns, {})
        for bridge in bridges:
            found[bridge] = {"ifname": bridge, "flags": ["UP"]}

    def exists(self, netns: str) -> bool:
        return not netns or netns in self.netns

    def namespaces(self, prefix: str) -> list[str]:
        return sorted(n for n in self.netns if n.startswith(prefix))

    def interfaces(self, netns: str) -> dict[str, dict[str, Any]]:
        return {k: dict(v) for k, v in self.netns[netns].items()}

    def ensure_tap(self, netns: str, tap: str, bridge: str, owner: str) -> None:
        entry = {"ifname": tap, "ifalias": owner, "master": bridge, "flags": ["UP"]}
        self.netns[netns][tap] = entry

    def delete_tap(self, netns: str, tap: str) -> None:
        self.netns[netns].pop(tap, None)

    def taps(self, netns: str) -> dict[str, str]:
        return {
            name: str(e["ifalias"])
            for name, e in self.netns[netns].items()
            if name.startswith("tap") and e.get("ifalias")
        }

    def install(self, monkeypatch: Any) -> None:
        for name in ("exists", "namespaces", "interfaces", "ensure_tap", "delete_tap", "taps"):
            monkeypatch.setattr(links, name, getattr(self, name))
