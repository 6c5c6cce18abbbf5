"""A hypervisor that runs nothing: for scale simulation and control-plane tests only.

Its "VMs" live in a journal (one JSON line per change, appended: a launch costs one write however
many VMs exist), so a restarted agent finds them again like real ones.
State changes are instant. `guest_poweroff` and `guest_reset` play what a guest can do by itself.
"""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path
from typing import Any

from mallee.node.hypervisor.base import Counters, VmInfo, VmSpec, VolumeIo
from mallee.node.hypervisor.hotplug import VolumeSource

JOURNAL = "fake-vms.jsonl"


class FakeHypervisor:
    kind = "fake"

    def __init__(self, run_dir: Path) -> None:
        run_dir.mkdir(parents=True, exist_ok=True)
        self.path = run_dir / JOURNAL
        self._lock = threading.RLock()
        self._vms = self.saved(run_dir)
        self._compact()

    @staticmethod
    def saved(run_dir: Path) -> dict[str, dict[str, Any]]:
        """The VMs as the journal in run_dir left them."""
        vms: dict[str, dict[str, Any]] = {}
        path = run_dir / JOURNAL
        if not path.exists():
            return vms
        for line in path.read_text().splitlines():
            try:
                instance_id, vm = json.loads(line)
            except ValueError:
                continue  # the end of a line the process was killed writing
            if vm is None:
                vms.pop(instance_id, None)
            else:
                vms[instance_id] = vm
        return vms

    def _compact(self) -> None:
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text("".join(json.dumps([i, vm]) + "\n" for i, vm in self._vms.items()))
        os.replace(tmp, self.path)
        self._journal = self.path.open("a")
        self._lines = len(self._vms)

    def _save(self, instance_id: str) -> None:
        self._journal.write(json.dumps([instance_id, self._vms.get(instance_id)]) + "\n")
        # To the OS, not the disk: a killed agent must find its VMs; a crashed host loses real
        # VMs too.
        self._journal.flush()
        self._lines += 1
        if self._lines > 4 * len(self._vms) + 1000:
            self._journal.close()
            self._compact()

    def running(self) -> set[str]:
        with self._lock:
            return {i for i, vm in self._vms.items() if vm["alive"]}

    def known(self) -> set[str]:
        with self._lock:
            return set(self._vms)

    def info(self, instance_id: str) -> VmInfo | None:
        with self._lock:
            vm = self._vms.get(instance_id)
            if vm is None:
                return None
            # A made-up pid, stable per VM, so callers can tell "the same process" apart.
            pid = 100000 + int(vm["boots"]) if vm["alive"] else None
            return VmInfo(instance_id, pid, self.kind, int(vm.get("reboots", 0)))

    def adopt(self) -> list[VmInfo]:
        found = [self.info(i) for i in sorted(self.running())]
        return [vm for vm in found if vm is not None]

    def launch(self, spec: VmSpec) -> None:
        with self._lock:
            vm = self._vms.get(spec.instance_id)
            if vm is not None and vm["alive"]:
                return
            self._boot(spec.instance_id, spec.reboots)
            # Volumes given at launch are plugged from the start, as QEMU's command line does.
            self._vms[spec.instance_id]["volumes"] = [v.volume_id for v in spec.volumes]
            self._save(spec.instance_id)

    def _boot(self, instance_id: str, reboots: int) -> None:
        vm = self._vms.setdefault(instance_id, {"boots": 0, "console": ""})
        # A new VM process has none of the old one's hot-plugged volumes, as with QEMU.
        vm.update(alive=True, boots=int(vm["boots"]) + 1, reboots=reboots, exit=None, volumes=[])
        vm["console"] = (
            f"{vm['console']}[fake] boot {vm['boots']} of {instance_id}\n"
            f"EUCA-READY instance-id={instance_id}\n"
        )
        self._save(instance_id)

    def _exit(self, instance_id: str, cause: str) -> None:
        with self._lock:
            vm = self._vms.get(instance_id)
            if vm is not None and vm["alive"]:
                vm.update(alive=False, exit=cause)
                self._save(instance_id)

    def stop(self, instance_id: str, timeout: float) -> None:
        self._exit(instance_id, "poweroff")

    def restart(self, instance_id: str, reboots: int) -> None:
        with self._lock:
            if instance_id in self._vms:
                self._boot(instance_id, reboots)

    def destroy(self, instance_id: str) -> None:
        with self._lock:
            if self._vms.pop(instance_id, None) is not None:
                self._save(instance_id)

    def exited_for_reboot(self, instance_id: str) -> bool:
        with self._lock:
            return self._vms.get(instance_id, {}).get("exit") == "reset"

    def guest_poweroff(self, instance_id: str) -> None:
        self._exit(instance_id, "poweroff")

    def guest_reset(self, instance_id: str) -> None:
        self._exit(instance_id, "reset")

    def console(self, instance_id: str) -> str:
        with self._lock:
            return str(self._vms.get(instance_id, {}).get("console", ""))

    def counters(self, instance_id: str) -> Counters | None:
        with self._lock:
            vm = self._vms.get(instance_id) or {}
            # A fake disk moves no bytes: each plugged volume is sampled at zero.
            volumes = tuple(VolumeIo(v) for v in vm.get("volumes", []))
        return Counters(volumes=volumes) if vm.get("alive") else None

    def volumes(self, instance_id: str) -> dict[str, bool]:
        with self._lock:
            vm = self._vms.get(instance_id) or {}
            return dict.fromkeys(vm.get("volumes", []), True) if vm.get("alive") else {}

    def plug_volume(self, instance_id: str, volume_id: str, source: VolumeSource) -> None:
        with self._lock:
            vm = self._vms.get(instance_id)
            if vm is None or not vm["alive"]:
                raise RuntimeError(f"{instance_id} is not running")
            if volume_id not in vm.setdefault("volumes", []):
                vm["volumes"].append(volume_id)
                self._save(instance_id)

    def unplug_volume(self, instance_id: str, volume_id: str) -> bool:
        with self._lock:
            vm = self._vms.get(instance_id)
            if vm is not None and volume_id in vm.get("volumes", []):
                vm["volumes"].remove(volume_id)
                self._save(instance_id)
            return True
