"""The dnsmasq hosts and lease files (no dnsmasq running: its pid file is absent)."""

from __future__ import annotations

import ipaddress
from pathlib import Path

import pytest

from mallee.node.network.dhcp import Dhcp, Host


@pytest.fixture
def dhcp(tmp_path: Path) -> Dhcp:
    return Dhcp(
        netns="unused",
        bridge="br0",
        network=ipaddress.IPv4Network("10.5.0.0/24"),
        gateway="10.5.0.1",
        run_dir=tmp_path,
    )


A = Host("d0:0d:00:00:00:0a", "10.5.0.10", "i-aaaa")
B = Host("d0:0d:00:00:00:0b", "10.5.0.11", "i-bbbb")


def test_entries_are_set_once_and_removed(dhcp: Dhcp) -> None:
    dhcp.set_host(A)
    dhcp.set_host(A)
    dhcp.set_host(B)
    assert dhcp.hosts_file.read_text() == (
        "d0:0d:00:00:00:0a,10.5.0.10,i-aaaa,infinite\nd0:0d:00:00:00:0b,10.5.0.11,i-bbbb,infinite\n"
    )
    dhcp.remove_host("i-aaaa")
    dhcp.remove_host("i-aaaa")
    assert dhcp.hosts() == [B]


def test_a_new_instance_takes_over_a_departed_ones_address(dhcp: Dhcp) -> None:
    dhcp.set_host(A)
    newcomer = Host("d0:0d:00:00:00:0c", A.ip, "i-cccc")
    dhcp.set_host(newcomer)
    assert dhcp.hosts() == [newcomer]
    moved = Host(newcomer.mac, "10.5.0.12", "i-cccc")
    dhcp.set_host(moved)
    assert dhcp.hosts() == [moved]


def test_leases_of_departed_instances_are_pruned(dhcp: Dhcp) -> None:
    dhcp.set_host(B)
    dhcp.lease_file.write_text(
        "duid 00:01:02\n"
        "0 d0:0d:00:00:00:0a 10.5.0.10 i-aaaa 01:d0:0d:00:00:00:0a\n"
        "0 d0:0d:00:00:00:0b 10.5.0.11 i-bbbb 01:d0:0d:00:00:00:0b\n"
    )
    assert dhcp.leases() == [(A.mac, A.ip), (B.mac, B.ip)]
    dhcp._prune_leases()
    assert dhcp.leases() == [(B.mac, B.ip)]
    assert dhcp.lease_file.read_text().startswith("duid ")


def test_forget_removes_state(dhcp: Dhcp) -> None:
    dhcp.set_host(A)
    dhcp.forget()
    assert dhcp.hosts() == [] and not dhcp.hosts_file.exists()
