"""QEMU with QMP: one daemonized process per instance, state kept in its run directory.

run_dir/<instance>/: spec.json, root.qcow2 (overlay), console.log, qmp.sock, qemu.pid, qemu.log.
The agent can die at any time: `running()` finds the VMs again from these files and /proc, so a
new agent adopts them instead of starting them twice. QEMU runs with -daemonize in its own
session, so VMs outlive the agent.

Why a VM exited is read from qemu.log, where QEMU's own trace points record the shutdown request
and the run state. With -no-reboot a reset (guest `reboot`, a panic with panic=1, QMP
system_reset) makes QEMU exit with no shutdown request traced; a guest power-off traces reason 6
(guest-shutdown). That survives the agent being down when it happens, which a QMP event would not.
"""

from __future__ import annotations

import contextlib
import functools
import json
import logging
import os
import re
import shutil
import signal
import subprocess
import threading
import time
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

from mallee.commands import CommandError, in_netns, run
from mallee.datadir import tighten
from mallee.node.hypervisor import hotplug
from mallee.node.hypervisor.base import BootVolume, Counters, LaunchError, VmInfo, VmSpec, VolumeIo
from mallee.qmp import Qmp, QmpError

log = logging.getLogger(__name__)

QBOOT = Path("/usr/share/qemu/qboot.rom")
CONSOLE_TAIL = 64 * 1024
# The Debian cloud kernel does not boot in 64 MiB (80 does); 128 leaves room for the initramfs.
MIN_GUEST_MB = 128
# Per-netns link statistics are read once for all taps of a report, not once per VM.
LINK_STATS_TTL = 2.0
# ShutdownCause values (qapi/run-state.json) as QEMU 7.2's trace prints them.
GUEST_SHUTDOWN = 6
_SHUTDOWN_REQUEST = re.compile(r"qemu_system_shutdown_request reason=(\d+)")
_STOPPED = "new_state 11 (shutdown)"
_TRACE_PREFIXES = ("runstate_set ", "qemu_system_shutdown_request ")
# A hot-plugged volume's disk in query-blockstats (hotplug's `dev-<volume>` device):
# /machine/peripheral/dev-vol-0123456789abcdef0/virtio-backend, or the device path alone.
_VOLUME_QDEV = re.compile(r"/machine/peripheral/dev-(vol-[0-9a-f]+)(?:/|$)")


def exit_cause(trace: str) -> str:
    """Why QEMU exited, from its trace log: poweroff, reset, or unknown (killed or crashed)."""
    requests = _SHUTDOWN_REQUEST.findall(trace)
    if requests:
        return "poweroff" if int(requests[-1]) == GUEST_SHUTDOWN else "reset"
    # -no-reboot turns a reset into a shutdown without going through the traced request.
    return "reset" if _STOPPED in trace else "unknown"


def console_says_poweroff(console: str) -> bool:
    """Fallback when QEMU left no trace: the kernel's last words (printed even with quiet)."""
    tail = console[-4096:]
    power_off = tail.rfind("reboot: Power down")
    return power_off > max(tail.rfind("reboot: Restarting system"), tail.rfind("Rebooting in"))


def _virtual_size(image: Path) -> int:
    info = run(["qemu-img", "info", "-U", "--output=json", "-f", "qcow2", str(image)]).stdout
    size: int = json.loads(info)["virtual-size"]
    return size


def _disks(spec: VmSpec, d: Path) -> list[str]:
    """The VM's disks in the order the guest names them: the root disk first (vda, the
    kernel's root=), an EBS volume or the image's overlay; then its other volumes, then its
    instance-store disks."""
    by_id = {v.volume_id: v for v in spec.volumes}
    args: list[str] = []
    if spec.root_volume:
        args += hotplug.boot_args(spec.root_volume, by_id[spec.root_volume].source)
    else:
        args += [
            "-blockdev",
            f"driver=qcow2,node-name=root,file.driver=file,file.filename={d / 'root.qcow2'}",
            "-device", "virtio-blk-pci,drive=root,id=rootdisk",
        ]  # fmt: skip
    for volume in spec.volumes:
        if volume.volume_id != spec.root_volume:
            args += hotplug.boot_args(volume.volume_id, volume.source)
    for name, _ in spec.ephemeral:
        path = d / f"{name}.raw"
        args += [
            "-blockdev", f"driver=raw,node-name={name},file.driver=file,file.filename={path}",
            "-device", f"virtio-blk-pci,drive={name},id={name},serial={name}",
        ]  # fmt: skip
    return args


def _make_ephemeral(d: Path, disks: tuple[tuple[str, int], ...]) -> None:
    """Sparse files, made once: a VM started again keeps what its instance store holds."""
    for name, size_gb in disks:
        path = d / f"{name}.raw"
        if not path.exists():
            tmp = path.with_suffix(".tmp")
            with open(tmp, "wb") as f:
                f.truncate(max(size_gb, 1) << 30)
            os.replace(tmp, path)


def _source(raw: dict[str, Any]) -> hotplug.VolumeSource:
    if "pool" in raw:
        return hotplug.RbdVolume(**raw)
    return hotplug.NbdVolume(**raw)


class QemuHypervisor:
    def __init__(self, run_dir: Path, accel: str = "tcg") -> None:
        self.run_dir = run_dir
        self.kind = accel
        self._links: dict[str, tuple[float, dict[str, Any]]] = {}
        self._links_lock = threading.Lock()
        run_dir.mkdir(parents=True, exist_ok=True)

    def _dir(self, instance_id: str) -> Path:
        return self.run_dir / instance_id

    def _pid(self, instance_id: str) -> int | None:
        d = self._dir(instance_id)
        try:
            pid = int((d / "qemu.pid").read_text().strip())
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except (OSError, ValueError):
            return None
        # A recycled pid would not name this VM's QMP socket.
        return pid if str(d / "qmp.sock").encode() in cmdline else None

    # --- what exists ----------------------------------------------------------------------

    def running(self) -> set[str]:
        return {i for i in self.known() if self._pid(i)}

    def known(self) -> set[str]:
        if not self.run_dir.exists():
            return set()
        return {d.name for d in self.run_dir.iterdir() if d.is_dir()}

    def info(self, instance_id: str) -> VmInfo | None:
        try:
            spec = self._spec(instance_id)
        except (OSError, ValueError, TypeError):
            return None
        return VmInfo(instance_id, self._pid(instance_id), self.kind, spec.reboots)

    def adopt(self) -> list[VmInfo]:
        found = []
        for instance_id in sorted(self.running()):
            try:
                with Qmp(self._dir(instance_id) / "qmp.sock") as q:
                    status = q.execute("query-status").get("status", "?")
            except QmpError as err:
                status = f"monitor not answering ({err})"
            log.info("adopting %s (pid %s): %s", instance_id, self._pid(instance_id), status)
            vm = self.info(instance_id)
            if vm is not None:
                found.append(vm)
        return found

    # --- launching ------------------------------------------------------------------------

    def _argv(self, spec: VmSpec, d: Path) -> list[str]:
        # A 24 MiB translation cache keeps an idle 128 MiB guest under 200 MiB RSS and costs
        # boot time only below that (bench/vm_boot.py: 32 -> 208 MiB, 24 -> 198 MiB, same boot).
        accel = "kvm" if self.kind == "kvm" else "tcg,tb-size=24"
        argv = [
            "qemu-system-x86_64", "-name", spec.instance_id, "-machine", "pc", "-accel", accel,
            "-m", str(max(spec.memory_mb, MIN_GUEST_MB)), "-smp", str(max(spec.cores, 1)),
            "-nodefaults", "-no-user-config", "-display", "none", "-no-reboot",
            "-kernel", str(spec.kernel), "-append", spec.cmdline,
            *_disks(spec, d),
            "-chardev", f"file,id=ser0,path={d / 'console.log'},append=on",
            "-serial", "chardev:ser0",
            "-qmp", f"unix:{d / 'qmp.sock'},server=on,wait=off",
            "-trace", "enable=qemu_system_shutdown_request", "-trace", "enable=runstate_set",
            "-D", str(d / "qemu.log"),
            "-pidfile", str(d / "qemu.pid"), "-daemonize",
        ]  # fmt: skip
        if QBOOT.exists():
            argv += ["-bios", str(QBOOT)]
        if spec.ramdisk is not None:
            argv += ["-initrd", str(spec.ramdisk)]
        if spec.tap:
            mtu = f",host_mtu={spec.mtu}" if spec.mtu else ""
            argv += [
                "-netdev", f"tap,id=net0,ifname={spec.tap},script=no,downscript=no",
                "-device", f"virtio-net-pci,netdev=net0,mac={spec.mac},romfile={mtu}",
            ]  # fmt: skip
        return argv

    def launch(self, spec: VmSpec) -> None:
        if self._pid(spec.instance_id):
            return
        d = self._dir(spec.instance_id)
        d.mkdir(parents=True, exist_ok=True)
        self._save_spec(spec)
        overlay = d / "root.qcow2"
        if not spec.root_volume and not overlay.exists():
            self._create_overlay(spec.root, overlay, spec.disk_gb)
        _make_ephemeral(d, spec.ephemeral)
        (d / "qmp.sock").unlink(missing_ok=True)
        self._note(spec.instance_id, f"starting {spec.instance_id} ({self.kind})")
        try:
            run(in_netns(spec.netns, self._argv(spec, d)), timeout=60)
        except (CommandError, subprocess.TimeoutExpired, OSError) as err:
            # A daemonizing QEMU writes its errors to the -D log, not to stderr.
            said = err.stderr.strip() if isinstance(err, CommandError) else ""
            detail = said or self._errors(spec.instance_id) or str(err)
            self._note(spec.instance_id, f"QEMU failed to start: {detail}")
            raise LaunchError(f"QEMU failed to start: {detail}") from err
        self._wait_running(spec.instance_id)
        # A daemonized QEMU sets its own umask (027): its QMP socket is narrowed here.
        tighten(d)

    def _create_overlay(self, base: Path, overlay: Path, disk_gb: int = 0) -> None:
        tmp = overlay.with_suffix(".tmp")
        try:
            # The instance type's disk size, so the guest (cloud-init's growpart) can fill it;
            # never smaller than the image, which would cut its file system short.
            size = max(disk_gb << 30, _virtual_size(base))
            run(["qemu-img", "create", "-q", "-f", "qcow2", "-b", str(base), "-F", "qcow2",
                 str(tmp), str(size)])  # fmt: skip
        except CommandError as err:
            raise LaunchError(f"cannot create the root disk: {err.stderr.strip()}") from err
        # Renamed into place so a crash mid-create leaves no half overlay to boot from.
        os.replace(tmp, overlay)

    def _wait_running(self, instance_id: str, timeout: float = 15) -> None:
        deadline = time.monotonic() + timeout
        while True:
            try:
                with Qmp(self._dir(instance_id) / "qmp.sock") as q:
                    if q.execute("query-status").get("status") == "running":
                        return
            except QmpError as err:
                if not self._pid(instance_id):
                    said = self._errors(instance_id) or self.console(instance_id)[-1000:]
                    raise LaunchError(f"QEMU exited while starting: {said}") from err
                if time.monotonic() > deadline:
                    raise LaunchError(f"QEMU does not answer on QMP: {err}") from err
            time.sleep(0.05)

    def _note(self, instance_id: str, text: str) -> None:
        with (self._dir(instance_id) / "console.log").open("ab") as console:
            console.write(f"\n[mallee] {text}\n".encode())

    def _log_tail(self, instance_id: str) -> str:
        try:
            return (self._dir(instance_id) / "qemu.log").read_text(errors="replace")[-8192:]
        except OSError:
            return ""

    def _errors(self, instance_id: str) -> str:
        """What QEMU itself said in its log, without the trace lines."""
        lines = self._log_tail(instance_id).splitlines()
        said = [ln for ln in lines if not ln.startswith(_TRACE_PREFIXES)]
        return "\n".join(said)[-2000:].strip()

    def _save_spec(self, spec: VmSpec) -> None:
        path = self._dir(spec.instance_id) / "spec.json"
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(asdict(spec), default=str))
        os.replace(tmp, path)

    def _spec(self, instance_id: str) -> VmSpec:
        raw = json.loads((self._dir(instance_id) / "spec.json").read_text())
        for key in ("kernel", "root"):
            raw[key] = Path(raw[key])
        raw["ramdisk"] = Path(raw["ramdisk"]) if raw.get("ramdisk") else None
        raw["volumes"] = tuple(
            BootVolume(v["volume_id"], _source(v["source"])) for v in raw.get("volumes", [])
        )
        raw["ephemeral"] = tuple((str(n), int(g)) for n, g in raw.get("ephemeral", []))
        return VmSpec(**raw)

    # --- stopping -------------------------------------------------------------------------

    def _qmp(self, instance_id: str, command: str) -> None:
        with contextlib.suppress(QmpError), Qmp(self._dir(instance_id) / "qmp.sock") as q:
            q.execute(command)

    def _wait_gone(self, instance_id: str, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while self._pid(instance_id):
            if time.monotonic() > deadline:
                return False
            time.sleep(0.1)
        return True

    def stop(self, instance_id: str, timeout: float) -> None:
        if not self._pid(instance_id):
            return
        if timeout > 0:
            self._qmp(instance_id, "system_powerdown")
            if self._wait_gone(instance_id, timeout):
                return
        self._halt(instance_id)

    def _halt(self, instance_id: str) -> None:
        """QMP quit (QEMU flushes its disks), and SIGKILL when even that does not end it."""
        self._qmp(instance_id, "quit")
        if self._wait_gone(instance_id, 5):
            return
        pid = self._pid(instance_id)
        if pid:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
            self._wait_gone(instance_id, 5)

    def restart(self, instance_id: str, reboots: int) -> None:
        spec = replace(self._spec(instance_id), reboots=reboots)
        self._halt(instance_id)
        # Recorded once the old VM is gone: a crash after this relaunches (the exit is not a
        # power-off) and does not reboot again; a crash before it repeats the whole reboot.
        self._save_spec(spec)
        self.launch(spec)

    def destroy(self, instance_id: str) -> None:
        self._halt(instance_id)
        shutil.rmtree(self._dir(instance_id), ignore_errors=True)

    def exited_for_reboot(self, instance_id: str) -> bool:
        trace = self._log_tail(instance_id)
        cause = exit_cause(trace)
        if cause == "unknown" and "runstate_set" not in trace:
            # No trace at all (an older QEMU, a build without the log backend).
            return not console_says_poweroff(self.console(instance_id))
        # A VM killed from outside or crashed was not powered off by its guest: bring it back.
        return cause != "poweroff"

    # --- EBS volumes ----------------------------------------------------------------------

    def volumes(self, instance_id: str) -> dict[str, bool]:
        if not self._pid(instance_id):
            return {}
        return hotplug.plugged(self._dir(instance_id) / "qmp.sock")

    def plug_volume(self, instance_id: str, volume_id: str, source: hotplug.VolumeSource) -> None:
        hotplug.plug(self._dir(instance_id) / "qmp.sock", volume_id, source)

    def unplug_volume(self, instance_id: str, volume_id: str) -> bool:
        if not self._pid(instance_id):
            return True  # nothing holds it any more
        return hotplug.unplug(self._dir(instance_id) / "qmp.sock", volume_id)

    # --- what is reported -----------------------------------------------------------------

    def console(self, instance_id: str) -> str:
        path = self._dir(instance_id) / "console.log"
        try:
            with path.open("rb") as f:
                f.seek(max(0, path.stat().st_size - CONSOLE_TAIL))
                return f.read().decode(errors="replace")
        except OSError:
            return ""

    def counters(self, instance_id: str) -> Counters | None:
        pid = self._pid(instance_id)
        if not pid:
            return None
        values: dict[str, float] = {}
        volumes: list[VolumeIo] = []
        with contextlib.suppress(OSError, ValueError, IndexError):
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            tick = os.sysconf("SC_CLK_TCK")
            values["cpu_seconds"] = (int(fields[11]) + int(fields[12])) / tick
            values["booted_at"] = _boot_time() + int(fields[19]) / tick
        with contextlib.suppress(QmpError), Qmp(self._dir(instance_id) / "qmp.sock") as q:
            for dev in q.execute("query-blockstats"):
                stats = dev.get("stats", {})
                volume = volume_io(dev)
                if volume is not None:
                    volumes.append(volume)
                    continue
                for key, name in (("disk_read_bytes", "rd_bytes"), ("disk_write_bytes", "wr_bytes"),
                                  ("disk_read_ops", "rd_operations"),
                                  ("disk_write_ops", "wr_operations")):  # fmt: skip
                    values[key] = values.get(key, 0) + stats.get(name, 0)
        values.update(self._net_counters(instance_id))
        return Counters(
            cpu_seconds=values.pop("cpu_seconds", 0.0),
            booted_at=values.pop("booted_at", 0.0),
            volumes=tuple(volumes),
            **{k: int(v) for k, v in values.items()},
        )

    def _net_counters(self, instance_id: str) -> dict[str, float]:
        """The tap's counters, seen from the host side: its tx is what the guest received."""
        try:
            spec = self._spec(instance_id)
        except (OSError, ValueError, TypeError):
            return {}
        stats = self._link_stats(spec.netns).get(spec.tap) if spec.tap else None
        if not stats:
            return {}
        return {
            "net_in_bytes": stats["tx"]["bytes"],
            "net_in_packets": stats["tx"]["packets"],
            "net_out_bytes": stats["rx"]["bytes"],
            "net_out_packets": stats["rx"]["packets"],
        }

    def _link_stats(self, netns: str) -> dict[str, Any]:
        with self._links_lock:
            at, links = self._links.get(netns, (0.0, {}))
            if time.monotonic() - at < LINK_STATS_TTL:
                return links
            done = run(in_netns(netns, ["ip", "-j", "-s", "link", "show"]), check=False)
            try:
                links = {i["ifname"]: i["stats64"] for i in json.loads(done.stdout or "[]")}
            except (ValueError, KeyError, TypeError):
                links = {}
            self._links[netns] = (time.monotonic(), links)
            return links


@functools.cache
def _boot_time() -> float:
    """The host's boot (epoch seconds): /proc/<pid>/stat gives a process's start after it."""
    for line in Path("/proc/stat").read_text().splitlines():
        if line.startswith("btime "):
            return float(line.split()[1])
    return 0.0


def volume_io(dev: dict[str, Any]) -> VolumeIo | None:
    """One entry of `query-blockstats`, when it is a hot-plugged EBS volume's disk (its qdev is
    the device `dev-<volume>`), as the volume's counters."""
    qdev = str(dev.get("qdev") or "")
    match = _VOLUME_QDEV.search(qdev)
    if match is None:
        return None
    stats: dict[str, Any] = dev.get("stats") or {}
    return VolumeIo(
        volume_id=match.group(1),
        read_bytes=int(stats.get("rd_bytes", 0)),
        write_bytes=int(stats.get("wr_bytes", 0)),
        read_ops=int(stats.get("rd_operations", 0)),
        write_ops=int(stats.get("wr_operations", 0)),
        read_seconds=int(stats.get("rd_total_time_ns", 0)) / 1e9,
        write_seconds=int(stats.get("wr_total_time_ns", 0)) / 1e9,
    )
