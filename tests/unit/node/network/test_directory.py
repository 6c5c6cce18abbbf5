"""How the metadata server picks the caller's instance: address AND the MAC the ARP table holds."""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path

import pytest

from mallee.node.network import iptables
from mallee.node.network.metadata import Directory, Neighbours
from tests.unit.node.network.test_imds import SEEN

ARP = """IP address       HW type     Flags       HW address            Mask     Device
10.111.1.5       0x1         0x2         d0:0d:01:02:03:04     *        br0
10.111.1.6       0x1         0x0         00:00:00:00:00:00     *        br0
10.111.1.7       0x1         0x2         D0:0D:AA:BB:CC:DD     *        br0
"""


def test_neighbours_reads_complete_entries(tmp_path: Path) -> None:
    path = tmp_path / "arp"
    path.write_text(ARP)
    fd = os.open(path, os.O_RDONLY)
    try:
        table = Neighbours(fd)
        assert table.mac("10.111.1.5") == "d0:0d:01:02:03:04"
        assert table.mac("10.111.1.6") is None  # incomplete
        assert table.mac("10.111.1.7") == "d0:0d:aa:bb:cc:dd"
        assert table.mac("10.111.1.55") is None
        path.write_text(ARP.replace("10.111.1.5 ", "10.111.1.9 "))
        # Read afresh at each call, through the same descriptor.
        assert table.mac("10.111.1.5") is None
        assert table.mac("10.111.1.9") == "d0:0d:01:02:03:04"
    finally:
        os.close(fd)


class Rows:
    """A fake store: (address, mac) -> instance, counting lookups."""

    def __init__(self) -> None:
        self.rows = {(SEEN.private_ip, SEEN.mac): SEEN}
        self.calls = 0

    def __call__(self, address: str, mac: str):  # type: ignore[no-untyped-def]
        self.calls += 1
        return self.rows.get((address, mac))


def test_directory_needs_the_right_mac_and_caches_hits_only() -> None:
    rows = Rows()
    arp = {SEEN.private_ip: SEEN.mac}
    directory = Directory(rows, arp.get, ttl=60)
    assert directory.find(SEEN.private_ip) == SEEN
    assert directory.find(SEEN.private_ip) == SEEN
    assert rows.calls == 1
    # Another guest takes the address: a different MAC is a different key, and no row matches.
    arp[SEEN.private_ip] = "d0:0d:ff:ff:ff:ff"
    assert directory.find(SEEN.private_ip) is None
    assert directory.find("10.111.1.99") is None  # no ARP entry: not even looked up
    assert rows.calls == 2
    # A new instance given the address, with its own MAC, gets its own data at once.
    newcomer = replace(SEEN, instance_id="i-00000000000000001", mac="d0:0d:ff:ff:ff:ff")
    rows.rows[(SEEN.private_ip, newcomer.mac)] = newcomer
    assert directory.find(SEEN.private_ip) == newcomer


@pytest.mark.parametrize(
    "rule", [["-s", "10.0.0.0/8 -j ACCEPT"], ["-m", "comment", "--comment", '"x"'], ["-j", "A\nB"]]
)
def test_iptables_tokens_are_checked(rule: list[str]) -> None:
    with pytest.raises(ValueError):
        iptables.set_chain("unused", "nat", "MALLEE_X", [rule])


def test_iptables_chain_names_are_checked() -> None:
    with pytest.raises(ValueError):
        iptables.set_chain("unused", "nat", "bad chain", [])
