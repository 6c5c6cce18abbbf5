"""Names derived from ids, and the validation that keeps callers' values out of configs."""

from __future__ import annotations

import ipaddress
from pathlib import Path

import pytest

from mallee.node.network import DataPlane, netns_for, tap_for
from mallee.node.network.names import bridge_mac, check_host_ip, check_instance_id, check_mac

NET = ipaddress.IPv4Network("10.111.1.0/24")


def test_bridge_mac_is_locally_administered() -> None:
    first = int(bridge_mac("node-a").split(":")[0], 16)
    assert first & 2 and not first & 1
    assert bridge_mac("node-a") != bridge_mac("node-b")


@pytest.mark.parametrize(
    ("instance_id", "tap"),
    [("i-0123456789abcdef0", "tap0123456789ab"), ("i-abc", "tapabc")],
)
def test_tap_names_fit_ifnamsiz(instance_id: str, tap: str) -> None:
    assert tap_for(instance_id) == tap and len(tap) <= 15


@pytest.mark.parametrize(
    "bad", ["", "i-", "x-0123", "i-01;rm -rf", "i-0,1", "i-0\n1", "i-../x", "i-" + "a" * 33]
)
def test_bad_instance_ids_refused(bad: str) -> None:
    with pytest.raises(ValueError):
        check_instance_id(bad)
    with pytest.raises(ValueError):
        tap_for(bad)


@pytest.mark.parametrize("bad", ["", "d0:0d:00:00:00", "D0:0D:00:00:00:01", "d0:0d:00:00:00:01,x"])
def test_bad_macs_refused(bad: str) -> None:
    with pytest.raises(ValueError):
        check_mac(bad)


@pytest.mark.parametrize(
    ("ip", "ok"),
    [("10.111.1.2", True), ("10.111.1.254", True), ("10.111.1.1", False),
     ("10.111.1.0", False), ("10.111.1.255", False), ("10.111.2.5", False),
     ("10.111.1.5,x", False), ("", False)],
)  # fmt: skip
def test_host_addresses(ip: str, ok: bool) -> None:
    if ok:
        assert check_host_ip(ip, NET, "10.111.1.1") == ip
    else:
        with pytest.raises(ValueError):
            check_host_ip(ip, NET, "10.111.1.1")


def test_netns_names_are_safe() -> None:
    assert netns_for("0123abcd", "node-a") == "mallee-0123abcd-node-a"
    assert netns_for("0123abcd", "a b;c/d") == "mallee-0123abcd-a-b-c-d"


def test_dataplane_defaults() -> None:
    def plane(**kw: str) -> DataPlane:
        return DataPlane(cloud_id="0123abcd", node_name="n1", data_dir=Path("/x"), db_url="", **kw)

    assert plane(subnet="10.9.8.0/24").netns == "mallee-0123abcd-n1"
    assert plane(subnet="10.9.8.0/24").gateway == "10.9.8.1"
    assert plane(subnet="10.9.8.0/24", netns="own").netns == "own"
    assert plane(subnet="10.9.8.0/24", netns="").bridge == "mlb0123abcd"
    for bad in ("fd00::/64", "10.9.8.0/30"):
        with pytest.raises(ValueError):
            plane(subnet=bad)
