"""What the node agent needs from a hypervisor.

A hypervisor keeps everything it knows about a VM on disk (QEMU: its run directory), never only
in memory: a new agent process constructing a new driver object finds the same VMs, alive or
exited, and carries on with them (adoption).
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from pathlib import Path
from typing import Protocol

from mallee.node.hypervisor.hotplug import VolumeSource


@dataclass(frozen=True, slots=True)
class BootVolume:
    """An EBS volume the VM starts with (its disk named and serialled as a hot-plugged one)."""

    volume_id: str
    source: VolumeSource


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
    # The MTU the guest's NIC reports (0: virtio-net's default, 1500).
    mtu: int = 0
    # How many of the instance's reboot requests this VM has applied (survives agent restarts,
    # so a reboot interrupted by a crash is neither lost nor done twice).
    reboots: int = 0
    # The instance type's disk (GiB): the root disk's size when bigger than the image's.
    disk_gb: int = 0
    # EBS-backed: the volume the VM boots from (its first disk; `root` is then unused).
    root_volume: str = ""
    # The instance's EBS volumes at launch (the root one among them), plugged from the start.
    volumes: tuple[BootVolume, ...] = ()
    # Instance-store disks (VirtualName ephemeralN): (name, GiB), local sparse files.
    ephemeral: tuple[tuple[str, int], ...] = ()


@dataclass(frozen=True, slots=True)
class VmInfo:
    instance_id: str
    # The VM process, None when it is not running.
    pid: int | None
    # kvm | tcg | fake
    accel: str
    reboots: int


@dataclass(frozen=True, slots=True)
class VolumeIo:
    """Cumulative I/O of one plugged EBS volume's disk since it was plugged (VolumeCounters)."""

    volume_id: str
    read_bytes: int = 0
    write_bytes: int = 0
    read_ops: int = 0
    write_ops: int = 0
    read_seconds: float = 0.0
    write_seconds: float = 0.0

    def values(self) -> dict[str, float | int]:
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name != "volume_id"}


@dataclass(frozen=True, slots=True)
class Counters:
    """Cumulative since the VM was launched; the columns of InstanceCounters (its disk
    figures are the instance's own disks: EBS volumes are counted apart, in `volumes`)."""

    cpu_seconds: float = 0.0
    disk_read_bytes: int = 0
    disk_write_bytes: int = 0
    disk_read_ops: int = 0
    disk_write_ops: int = 0
    net_in_bytes: int = 0
    net_out_bytes: int = 0
    net_in_packets: int = 0
    net_out_packets: int = 0
    # When the VM process started (epoch seconds; 0 unknown): a new one restarts the counters.
    booted_at: float = 0.0
    # Read from the same query as the disks' figures (one per VM and sample).
    volumes: tuple[VolumeIo, ...] = ()

    def values(self) -> dict[str, float | int]:
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name != "volumes"}


class LaunchError(RuntimeError):
    """The VM could not be started; the text says why (shown in the console and StateReason)."""


class Hypervisor(Protocol):
    # kvm | tcg | fake
    kind: str

    def running(self) -> set[str]:
        """Instances whose VM process is alive now (found from disk: survives agent restarts)."""

    def known(self) -> set[str]:
        """Instances the hypervisor holds anything for (a disk, a run directory), alive or not."""

    def adopt(self) -> list[VmInfo]:
        """The VMs alive at agent start, checked to be ours (not a recycled pid)."""

    def info(self, instance_id: str) -> VmInfo | None:
        """What is known of one VM, None when nothing is."""

    def launch(self, spec: VmSpec) -> None:
        """Start the VM (reusing its disk if one exists); LaunchError when it cannot start.

        A no-op when the VM is already running, so a repeated step cannot start it twice.
        """

    def stop(self, instance_id: str, timeout: float) -> None:
        """ACPI power-off, then a hard stop after `timeout` seconds; keeps the disk."""

    def restart(self, instance_id: str, reboots: int) -> None:
        """A reboot: a fresh VM process on the same disk, recorded as having applied `reboots`."""

    def destroy(self, instance_id: str) -> None:
        """Stop at once and delete everything of the VM."""

    def exited_for_reboot(self, instance_id: str) -> bool:
        """Whether a VM that exited by itself did so to reboot (else it powered off)."""

    def console(self, instance_id: str) -> str:
        """The tail of the serial console."""

    def counters(self, instance_id: str) -> Counters | None:
        """Cumulative counters of a running VM; None when it is not running."""

    def volumes(self, instance_id: str) -> dict[str, bool]:
        """EBS volumes plugged into the running VM, read from the VM itself: volume id ->
        whether its disk is there (False: only its connection is left); {} when not running."""

    def plug_volume(self, instance_id: str, volume_id: str, source: VolumeSource) -> None:
        """Hot-plug the volume (its NBD export or RBD image, as `source` says) as a disk whose
        serial is the volume id without its dash; a no-op for what is already plugged."""

    def unplug_volume(self, instance_id: str, volume_id: str) -> bool:
        """Take the volume's disk out of the VM; False while the guest has not let it go yet."""
