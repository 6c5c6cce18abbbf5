"""What the node agent needs from a hypervisor."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Protocol


@dataclass(frozen=True, slots=True)
class VmSpec:
    instance_id: str
    cores: int
    memory_mb: int
    kernel: Path
    ramdisk: Path | None
    # The machine image in the node's cache; the VM gets a copy-on-write overlay of it.
    root: Path
    cmdline: str
    netns: str = ""
    tap: str = ""
    mac: str = ""


class Hypervisor(Protocol):
    # kvm | tcg | fake
    kind: str

    def running(self) -> set[str]:
        """Instances whose VM process is alive now (found from disk: survives agent restarts)."""

    def launch(self, spec: VmSpec) -> None:
        """Start the VM (reusing its overlay if one exists); raise when it cannot start."""

    def stop(self, instance_id: str, timeout: float) -> None:
        """ACPI power-off, then a hard stop after `timeout` seconds; keeps the disk."""

    def restart(self, instance_id: str) -> None:
        """A reboot: a fresh VM process on the same disk."""

    def destroy(self, instance_id: str) -> None:
        """Stop at once and delete everything of the VM."""

    def exited_for_reboot(self, instance_id: str) -> bool:
        """Whether a VM that exited by itself did so to reboot (else it powered off)."""

    def console(self, instance_id: str) -> str:
        """The tail of the serial console."""

    def counters(self, instance_id: str) -> dict[str, float]:
        """Cumulative counters: cpu_seconds, disk_* and net_* (keys of InstanceCounters)."""
