"""The fake hypervisor's journal: what a restarted agent finds."""

from __future__ import annotations

from pathlib import Path

from mallee.node.hypervisor.base import VmSpec
from mallee.node.hypervisor.fake import JOURNAL, FakeHypervisor


def spec(instance_id: str) -> VmSpec:
    return VmSpec(instance_id, 1, 256, Path("k"), None, Path("r"), "console=ttyS0")


def test_a_new_instance_of_the_fake_finds_the_vms_left(tmp_path: Path) -> None:
    hv = FakeHypervisor(tmp_path)
    for n in range(3):
        hv.launch(spec(f"i-{n}"))
    hv.guest_poweroff("i-1")
    hv.destroy("i-2")
    # A write cut short by a kill leaves half a line; it is ignored.
    with (tmp_path / JOURNAL).open("a") as journal:
        journal.write('["i-9", {"alive": tr')

    again = FakeHypervisor(tmp_path)
    assert again.known() == {"i-0", "i-1"}
    assert again.running() == {"i-0"}
    assert "boot 1 of i-0" in again.console("i-0")


def test_the_journal_is_compacted_as_it_grows(tmp_path: Path) -> None:
    hv = FakeHypervisor(tmp_path)
    hv.launch(spec("i-0"))
    for _ in range(1200):
        hv.restart("i-0", 0)
    lines = (tmp_path / JOURNAL).read_text().splitlines()
    assert len(lines) < 1005
    assert FakeHypervisor.saved(tmp_path)["i-0"]["boots"] == 1201
