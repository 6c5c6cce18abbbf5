"""A hypervisor that runs nothing: for scale simulation and control-plane tests only.

Its "VMs" are entries in a JSON file, so a restarted agent finds them again like real ones.
"""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path

from mallee.node.hypervisor.base import VmSpec


class FakeHypervisor:
    kind = "fake"

    def __init__(self, run_dir: Path) -> None:
        run_dir.mkdir(parents=True, exist_ok=True)
        self.path = run_dir / "fake-vms.json"
        self._lock = threading.RLock()
        self._vms: dict[str, dict[str, object]] = (
            json.loads(self.path.read_text()) if self.path.exists() else {}
        )

    def _save(self) -> None:
        with self._lock:
            tmp = self.path.with_suffix(".tmp")
            tmp.write_text(json.dumps(self._vms))
            os.replace(tmp, self.path)

    def running(self) -> set[str]:
        with self._lock:
            return {i for i, vm in self._vms.items() if vm["alive"]}

    def known(self) -> set[str]:
        with self._lock:
            return set(self._vms)

    def launch(self, spec: VmSpec) -> None:
        with self._lock:
            self._launch(spec)

    def _launch(self, spec: VmSpec) -> None:
        boots = int(str(self._vms.get(spec.instance_id, {}).get("boots", 0))) + 1
        iid = spec.instance_id
        console = f"[fake] boot {boots} of {iid}\nEUCA-READY instance-id={iid}\n"
        self._vms[iid] = {"alive": True, "boots": boots, "console": console}
        self._save()

    def stop(self, instance_id: str, timeout: float) -> None:
        if instance_id in self._vms:
            self._vms[instance_id]["alive"] = False
            self._save()

    def restart(self, instance_id: str) -> None:
        self.stop(instance_id, 0)
        vm = self._vms.get(instance_id)
        if vm is not None:
            vm["alive"] = True
            vm["boots"] = int(str(vm["boots"])) + 1
            vm["console"] = f"{vm['console']}[fake] boot {vm['boots']} of {instance_id}\n"
            self._save()

    def destroy(self, instance_id: str) -> None:
        if self._vms.pop(instance_id, None) is not None:
            self._save()

    def exited_for_reboot(self, instance_id: str) -> bool:
        return False

    def console(self, instance_id: str) -> str:
        return str(self._vms.get(instance_id, {}).get("console", ""))

    def counters(self, instance_id: str) -> dict[str, float]:
        return {"cpu_seconds": 0.0} if instance_id in self.running() else {}
