"""The MAC an instance is placed with."""

from __future__ import annotations

from mallee.ids import new_id
from mallee.node.network.names import check_mac
from mallee.placement.macs import mac_for


def test_mac_is_stable_unicast_and_distinct() -> None:
    ids = [new_id("i") for _ in range(500)]
    macs = [mac_for(i) for i in ids]
    assert mac_for(ids[0]) == macs[0]
    assert all(m.startswith("d0:0d:") and check_mac(m) == m for m in macs)
    assert len(set(macs)) == len(macs)
    assert int(macs[0].split(":")[0], 16) & 1 == 0  # unicast
