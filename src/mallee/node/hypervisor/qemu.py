"""QEMU with QMP: one daemonized process per instance, state kept in its run directory.

run_dir/<instance>/: spec.json, root.qcow2 (overlay), console.log, qmp.sock, qemu.pid. The agent
can die at any time: `running()` finds the VMs again from these files and /proc, so a new agent
adopts them instead of starting them twice.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
import signal
import time
from dataclasses import asdict
from pathlib import Path

from mallee.node.host import in_netns, run
from mallee.node.hypervisor.base import VmSpec
from mallee.node.hypervisor.qmp import Qmp, QmpError

log = logging.getLogger(__name__)

QBOOT = Path("/usr/share/qemu/qboot.rom")
CONSOLE_TAIL = 64 * 1024


class QemuHypervisor:
    def __init__(self, run_dir: Path, accel: str = "tcg") -> None:
        self.run_dir = run_dir
        self.kind = accel
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

    def running(self) -> set[str]:
        if not self.run_dir.exists():
            return set()
        return {d.name for d in self.run_dir.iterdir() if d.is_dir() and self._pid(d.name)}

    def known(self) -> set[str]:
        """Every instance with a run directory, alive or not."""
        return (
            {d.name for d in self.run_dir.iterdir() if d.is_dir()}
            if self.run_dir.exists()
            else set()
        )

    def _argv(self, spec: VmSpec, d: Path) -> list[str]:
        accel = "kvm" if self.kind == "kvm" else "tcg,tb-size=32"
        argv = [
            "qemu-system-x86_64", "-name", spec.instance_id, "-machine", "pc", "-accel", accel,
            "-m", str(max(spec.memory_mb, 128)), "-smp", str(max(spec.cores, 1)),
            "-nodefaults", "-no-user-config", "-display", "none", "-no-reboot",
            "-kernel", str(spec.kernel), "-append", spec.cmdline,
            "-blockdev",
            f"driver=qcow2,node-name=root,file.driver=file,file.filename={d / 'root.qcow2'}",
            "-device", "virtio-blk-pci,drive=root,id=rootdisk",
            "-chardev", f"file,id=ser0,path={d / 'console.log'},append=on",
            "-serial", "chardev:ser0",
            "-qmp", f"unix:{d / 'qmp.sock'},server=on,wait=off",
            "-pidfile", str(d / "qemu.pid"), "-daemonize",
        ]  # fmt: skip
        if QBOOT.exists():
            argv += ["-bios", str(QBOOT)]
        if spec.ramdisk is not None:
            argv += ["-initrd", str(spec.ramdisk)]
        if spec.tap:
            argv += [
                "-netdev", f"tap,id=net0,ifname={spec.tap},script=no,downscript=no",
                "-device", f"virtio-net-pci,netdev=net0,mac={spec.mac},romfile=",
            ]  # fmt: skip
        return argv

    def launch(self, spec: VmSpec) -> None:
        d = self._dir(spec.instance_id)
        d.mkdir(parents=True, exist_ok=True)
        (d / "spec.json").write_text(json.dumps(asdict(spec), default=str))
        overlay = d / "root.qcow2"
        if not overlay.exists():
            run(["qemu-img", "create", "-q", "-f", "qcow2", "-b", str(spec.root), "-F", "qcow2",
                 str(overlay)])  # fmt: skip
        (d / "qmp.sock").unlink(missing_ok=True)
        with (d / "console.log").open("ab") as console:
            console.write(f"\n[mallee] starting {spec.instance_id} ({self.kind})\n".encode())
        try:
            run(in_netns(spec.netns, self._argv(spec, d)), timeout=60)
        except Exception as err:
            with (d / "console.log").open("ab") as console:
                console.write(f"[mallee] QEMU failed to start: {err}\n".encode())
            raise
        self._wait_qmp(d)

    def _wait_qmp(self, d: Path, timeout: float = 10) -> None:
        deadline = time.monotonic() + timeout
        while True:
            try:
                with Qmp(d / "qmp.sock") as q:
                    q.execute("query-status")
                    return
            except QmpError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    def _spec(self, instance_id: str) -> VmSpec:
        raw = json.loads((self._dir(instance_id) / "spec.json").read_text())
        for key in ("kernel", "root"):
            raw[key] = Path(raw[key])
        raw["ramdisk"] = Path(raw["ramdisk"]) if raw.get("ramdisk") else None
        return VmSpec(**raw)

    def _qmp(self, instance_id: str, command: str) -> None:
        with contextlib.suppress(QmpError, OSError), Qmp(self._dir(instance_id) / "qmp.sock") as q:
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
        self._qmp(instance_id, "system_powerdown")
        if self._wait_gone(instance_id, timeout):
            return
        self._qmp(instance_id, "quit")
        if self._wait_gone(instance_id, 3):
            return
        pid = self._pid(instance_id)
        if pid:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
            self._wait_gone(instance_id, 5)

    def restart(self, instance_id: str) -> None:
        if self._pid(instance_id):
            self._qmp(instance_id, "quit")
            self._wait_gone(instance_id, 5)
        self.launch(self._spec(instance_id))

    def destroy(self, instance_id: str) -> None:
        self.stop(instance_id, timeout=0)
        shutil.rmtree(self._dir(instance_id), ignore_errors=True)

    def exited_for_reboot(self, instance_id: str) -> bool:
        # With -no-reboot the kernel's last words tell a reboot from a power-off.
        tail = self.console(instance_id)[-4096:]
        return tail.rfind("reboot: Restarting system") > tail.rfind("reboot: Power down")

    def console(self, instance_id: str) -> str:
        path = self._dir(instance_id) / "console.log"
        try:
            with path.open("rb") as f:
                f.seek(max(0, path.stat().st_size - CONSOLE_TAIL))
                return f.read().decode(errors="replace")
        except OSError:
            return ""

    def counters(self, instance_id: str) -> dict[str, float]:
        pid = self._pid(instance_id)
        if not pid:
            return {}
        out: dict[str, float] = {}
        with contextlib.suppress(OSError, ValueError):
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            out["cpu_seconds"] = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        with contextlib.suppress(QmpError, OSError), Qmp(self._dir(instance_id) / "qmp.sock") as q:
            for dev in q.execute("query-blockstats"):
                stats = dev.get("stats", {})
                out["disk_read_bytes"] = out.get("disk_read_bytes", 0) + stats.get("rd_bytes", 0)
                out["disk_write_bytes"] = out.get("disk_write_bytes", 0) + stats.get("wr_bytes", 0)
                out["disk_read_ops"] = out.get("disk_read_ops", 0) + stats.get("rd_operations", 0)
                out["disk_write_ops"] = out.get("disk_write_ops", 0) + stats.get("wr_operations", 0)
        out.update(self._net_counters(instance_id))
        return out

    def _net_counters(self, instance_id: str) -> dict[str, float]:
        """The tap's counters, seen from the host side: its tx is what the guest received."""
        try:
            spec = self._spec(instance_id)
        except (OSError, ValueError, TypeError):
            return {}
        if not spec.tap:
            return {}
        done = run(in_netns(spec.netns, ["ip", "-j", "-s", "link", "show", spec.tap]), check=False)
        try:
            stats = json.loads(done.stdout)[0]["stats64"]
        except (ValueError, IndexError, KeyError):
            return {}
        return {
            "net_in_bytes": stats["tx"]["bytes"],
            "net_in_packets": stats["tx"]["packets"],
            "net_out_bytes": stats["rx"]["bytes"],
            "net_out_packets": stats["rx"]["packets"],
        }
