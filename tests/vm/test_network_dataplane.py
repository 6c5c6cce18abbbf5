"""The node data plane in a real namespace: idempotent set-up, recovery after lost state."""

from __future__ import annotations

import subprocess
import uuid
from pathlib import Path

import pytest

from mallee.node.network import DataPlane
from mallee.node.network.dataplane import _strays

pytestmark = pytest.mark.vm


def plane(node: str, data_dir: Path) -> DataPlane:
    return DataPlane(
        node_name=node,
        subnet="10.77.0.0/24",
        data_dir=data_dir,
        db_url=f"sqlite:///{data_dir}/x.db",
    )


def test_ensure_twice_then_recover_from_a_lost_state_dir(tmp_path: Path) -> None:
    node = f"t-{uuid.uuid4().hex[:6]}"
    first = plane(node, tmp_path / "a")
    try:
        first.ensure()
        first.ensure()
        nat = subprocess.run(
            ["ip", "netns", "exec", first.netns, "iptables", "-t", "nat", "-S"],
            capture_output=True, text=True, check=True,
        ).stdout  # fmt: skip
        assert nat.count("-j MALLEE_META") == 1
        nic = first.plug("i-0123456789abcdef0", "d0:0d:00:00:00:01", "10.77.0.2")
        assert first.plugged() == {"i-0123456789abcdef0"} and nic.tap.startswith("tap")
        first.unplug("i-0123456789abcdef0")
        assert first.plugged() == set()
        # The state directory is gone but the namespace and its servers live on: a new data
        # plane for the node replaces the strays instead of failing on their ports.
        second = plane(node, tmp_path / "b")
        second.ensure()
        assert len(_strays("dnsmasq", second.netns)) == 1
        assert len(_strays("mallee.node.network.metadata", second.netns)) == 1
    finally:
        plane(node, tmp_path / "b").teardown()
        first.teardown()
    assert not Path(f"/run/netns/{first.netns}").exists()
