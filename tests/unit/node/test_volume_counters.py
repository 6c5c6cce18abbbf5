"""Each plugged volume's I/O counters: read from the VM's query-blockstats apart from the
instance's own disks, and written by the node's report as VolumeCounters rows."""

from __future__ import annotations

from pathlib import Path

from mallee.config import Settings
from mallee.node.agent import NodeAgent
from mallee.node.hypervisor.fake import FakeHypervisor
from mallee.node.hypervisor.hotplug import NbdVolume
from mallee.node.hypervisor.qemu import volume_io
from mallee.store import Store
from mallee.store.tables.compute import VolumeCounters
from tests.unit.node.rows import NODE, instance


def test_blockstats_of_a_volume_disk_are_its_counters() -> None:
    stats = {"rd_bytes": 4096, "wr_bytes": 1 << 20, "rd_operations": 1, "wr_operations": 8,
             "rd_total_time_ns": 2_500_000_000, "wr_total_time_ns": 500_000_000}  # fmt: skip
    entry = {
        "device": "",
        "node-name": "vol-0123456789abcdef0",
        "qdev": "/machine/peripheral/dev-vol-0123456789abcdef0/virtio-backend",
        "stats": stats,
    }
    io = volume_io(entry)
    assert io is not None and io.volume_id == "vol-0123456789abcdef0"
    assert (io.read_bytes, io.write_bytes, io.read_ops, io.write_ops) == (4096, 1 << 20, 1, 8)
    assert (io.read_seconds, io.write_seconds) == (2.5, 0.5)
    # The instance's root disk (a -drive with its own id) is not a volume.
    assert volume_io({"device": "root", "qdev": "/machine/peripheral-anon/device[0]/virtio-backend",
                      "stats": stats}) is None  # fmt: skip
    assert volume_io({"device": "", "stats": stats}) is None


def test_report_writes_each_plugged_volume_counters(
    store: Store, tmp_path: Path, images: dict[str, str]
) -> None:
    hv = FakeHypervisor(tmp_path / "vms")
    agent = NodeAgent(store, Settings(data_dir=tmp_path), hv, None, NODE, threads=0)
    iid = instance(store, images)
    agent.reconcile_once()
    hv.plug_volume(iid, "vol-0123456789abcdef0", NbdVolume("/x/nbd.sock", "e"))
    agent.report({iid: "running"})
    with store.read() as s:
        row = s.get(VolumeCounters, "vol-0123456789abcdef0")
        assert row is not None and row.instance_id == iid and row.sampled_at > 0
        assert (row.read_bytes, row.write_ops) == (0, 0)
