"""`mallee node`: make this node's VMs match the instance rows placed on it.

Every transition the agent makes is a conditional UPDATE (`WHERE state = expected`), and what it
does to a VM is found again from disk after a restart, so killing the agent at any moment and
starting it again neither repeats nor loses a step. Slow steps (boots, graceful stops) run on a
small thread pool, one at a time per instance.
"""

from __future__ import annotations

import functools
import logging
import os
import shutil
import socket
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Protocol

from sqlalchemy import select, update

from mallee.config import Settings
from mallee.node.hypervisor.base import Hypervisor, VmSpec
from mallee.node.image_cache import ImageCache
from mallee.runloop import stop_on_signals
from mallee.services.empyrean import registry
from mallee.services.empyrean.heartbeat import Heartbeat, interval_for
from mallee.store import Store
from mallee.store.tables.compute import InstanceConsole, InstanceCounters, NodeRow
from mallee.store.tables.ec2 import Ec2Instance

log = logging.getLogger(__name__)

CMDLINE = (
    "console=ttyS0 quiet panic=1 cryptomgr.notests i8042.noaux i8042.nokbd i8042.nopnp "
    "i8042.dumbkbd 8250.nr_uarts=1 root=/dev/vda1"
)
STOP_TIMEOUT = 30.0
TERMINATE_TIMEOUT = 5.0
TICK = 0.25
REPORT_EVERY = 5.0


class NicPlane(Protocol):
    """The parts of mallee.node.network.DataPlane the agent uses."""

    @property
    def netns(self) -> str: ...

    def ensure(self) -> None: ...

    def plug(self, instance_id: str, mac: str, ip: str) -> Any: ...

    def unplug(self, instance_id: str) -> None: ...

    def plugged(self) -> set[str]: ...


def _needs_work(state: str, alive: bool, reboot_due: bool) -> bool:
    """Cheap pre-check so a node with many settled instances does not queue a step for each."""
    if state == "running":
        return not alive or reboot_due
    if state == "stopped":
        return alive
    return True


class NodeAgent:
    def __init__(
        self,
        store: Store,
        settings: Settings,
        hypervisor: Hypervisor,
        plane: NicPlane | None,
        name: str,
        *,
        threads: int = 4,
    ) -> None:
        self.store = store
        self.settings = settings
        self.hv = hypervisor
        self.plane = plane
        self.name = name
        self.cache = ImageCache(settings.data_dir / "image-cache", store)
        self._pool = ThreadPoolExecutor(threads) if threads else None
        self._busy: set[str] = set()
        self._lock = threading.Lock()
        self._reported = 0.0
        # What was last written per instance, so unchanged consoles and counters are not.
        self._written: dict[str, tuple[int, tuple[float, ...]]] = {}

    # --- the loop ---------------------------------------------------------------------------

    def reconcile_once(self) -> None:
        alive = self.hv.running()
        mine = self._states()
        due = [i for i, (state, reboot) in mine.items() if _needs_work(state, i in alive, reboot)]
        for row in self._rows(due):
            self._submit(row.id, functools.partial(self._step, row, row.id in alive))
        for orphan in (self._known() - set(mine)) | (self._plugged() - set(mine)):
            self._submit(orphan, functools.partial(self._forget, orphan))
        if time.monotonic() - self._reported >= REPORT_EVERY:
            self._reported = time.monotonic()
            self.report({i: state for i, (state, _) in mine.items()})

    def _states(self) -> dict[str, tuple[str, bool]]:
        """id -> (state, reboot due) of this node's instances: a light query, every tick."""
        with self.store.read() as s:
            found = s.execute(
                select(
                    Ec2Instance.id,
                    Ec2Instance.state,
                    Ec2Instance.reboots_requested > Ec2Instance.reboots_done,
                ).where(Ec2Instance.node == self.name, Ec2Instance.state != "terminated")
            ).all()
        return {i: (state, bool(reboot)) for i, state, reboot in found}

    def _rows(self, ids: list[str]) -> list[Ec2Instance]:
        if not ids:
            return []
        with self.store.read() as s:
            return list(s.scalars(select(Ec2Instance).where(Ec2Instance.id.in_(ids))).all())

    def _known(self) -> set[str]:
        known: Callable[[], set[str]] | None = getattr(self.hv, "known", None)
        return known() if known else self.hv.running()

    def _plugged(self) -> set[str]:
        return self.plane.plugged() if self.plane else set()

    def _submit(self, instance_id: str, work: Callable[[], None]) -> None:
        with self._lock:
            if instance_id in self._busy:
                return
            self._busy.add(instance_id)

        def job() -> None:
            try:
                work()
            except Exception:
                log.exception("step for %s failed; retrying next tick", instance_id)
            finally:
                with self._lock:
                    self._busy.discard(instance_id)

        if self._pool is None:
            job()
        else:
            self._pool.submit(job)

    def drain(self) -> None:
        """Wait for the steps in flight (tests; a clean shutdown)."""
        while True:
            with self._lock:
                if not self._busy:
                    return
            time.sleep(0.02)

    # --- one instance -------------------------------------------------------------------------

    def _step(self, row: Ec2Instance, alive: bool) -> None:
        if row.state == "pending":
            if not alive and not self._launch(row):
                return
            self._move(row.id, "pending", "running")
        elif row.state == "running":
            self._running(row, alive)
        elif row.state == "stopping":
            self.hv.stop(row.id, STOP_TIMEOUT)
            self._save_console(row.id)
            self._move(row.id, "stopping", "stopped")
        elif row.state == "stopped" and alive:
            self.hv.stop(row.id, STOP_TIMEOUT)
        elif row.state == "shutting-down":
            self._save_console(row.id)
            self.hv.stop(row.id, TERMINATE_TIMEOUT)
            self._forget(row.id)
            self._move(row.id, "shutting-down", "terminated", terminated_at=time.time())

    def _running(self, row: Ec2Instance, alive: bool) -> None:
        if not alive:
            if self.hv.exited_for_reboot(row.id):
                self.hv.restart(row.id)
                return
            # The guest powered itself off: an instance-store instance is gone for good.
            self._save_console(row.id)
            self._forget(row.id)
            code = "Client.InstanceInitiatedShutdown"
            self._move(
                row.id, "running", "terminated", terminated_at=time.time(),
                state_reason_code=code, state_reason_message=f"{code}: Instance initiated shutdown",
            )  # fmt: skip
        elif row.reboots_requested > row.reboots_done:
            self.hv.restart(row.id)
            with self.store.session() as s:
                s.execute(
                    update(Ec2Instance)
                    .where(Ec2Instance.id == row.id)
                    .values(reboots_done=row.reboots_requested)
                )

    def _launch(self, row: Ec2Instance) -> bool:
        try:
            spec = self._spec(row)
            self.hv.launch(spec)
            return True
        except Exception as err:
            log.warning("%s failed to launch: %s", row.id, err)
            console = self.hv.console(row.id) + f"\n[mallee] launch failed: {err}\n"
            self._write_console(row.id, console)
            self._forget(row.id)
            self._move(
                row.id, "pending", "terminated", terminated_at=time.time(),
                state_reason_code="Server.InternalError",
                state_reason_message=f"Server.InternalError: {err}"[:2000],
            )  # fmt: skip
            return False

    def _spec(self, row: Ec2Instance) -> VmSpec:
        if not row.kernel_id:
            raise RuntimeError(f"{row.image_id} names no kernel image; cannot boot it")
        nic = self.plane.plug(row.id, row.mac or "", row.private_ip or "") if self.plane else None
        return VmSpec(
            instance_id=row.id,
            cores=row.cores,
            memory_mb=row.memory_mb,
            kernel=self.cache.path(row.kernel_id),
            ramdisk=self.cache.path(row.ramdisk_id) if row.ramdisk_id else None,
            root=self.cache.path(row.image_id),
            cmdline=CMDLINE,
            netns=nic.netns if nic else "",
            tap=nic.tap if nic else "",
            mac=row.mac or "",
        )

    def _forget(self, instance_id: str) -> None:
        self.hv.destroy(instance_id)
        if self.plane:
            self.plane.unplug(instance_id)

    def _move(self, instance_id: str, expected: str, new: str, **fields: Any) -> bool:
        with self.store.session() as s:
            done = s.execute(
                update(Ec2Instance)
                .where(Ec2Instance.id == instance_id, Ec2Instance.state == expected)
                .values(state=new, state_changed_at=time.time(), **fields)
            )
        moved = bool(getattr(done, "rowcount", 0))
        if moved:
            log.info("%s: %s -> %s", instance_id, expected, new)
        return moved

    # --- what the node reports ----------------------------------------------------------------

    def _save_console(self, instance_id: str) -> None:
        text = self.hv.console(instance_id)
        if text:
            self._write_console(instance_id, text)

    def _write_console(self, instance_id: str, text: str) -> None:
        with self.store.session() as s:
            s.merge(InstanceConsole(instance_id=instance_id, output=text, updated_at=time.time()))

    def report(self, states: dict[str, str]) -> None:
        with self.store.session() as s:
            s.merge(self._node_row())
        now = time.time()
        self._written = {k: v for k, v in self._written.items() if k in states}
        for instance_id, state in states.items():
            if state not in ("pending", "running"):
                continue
            console = self.hv.console(instance_id)
            counters = self.hv.counters(instance_id)
            seen = (len(console), tuple(counters.values()))
            if self._written.get(instance_id) == seen:
                continue
            self._written[instance_id] = seen
            with self.store.session() as s:
                if console:
                    s.merge(
                        InstanceConsole(instance_id=instance_id, output=console, updated_at=now)
                    )
                if counters:
                    values = {k: (v if k == "cpu_seconds" else int(v)) for k, v in counters.items()}
                    s.merge(InstanceCounters(instance_id=instance_id, sampled_at=now, **values))

    def _node_row(self) -> NodeRow:
        st = self.settings
        return NodeRow(
            name=self.name,
            zone=st.zone,
            hypervisor=self.hv.kind,
            cores=st.node_cores or 4 * (os.cpu_count() or 1),
            memory_mb=st.node_memory_mb or _memory_mb(),
            disk_gb=st.node_disk_gb or shutil.disk_usage(st.data_dir).total >> 30,
            subnet=st.node_subnet,
            netns=self.plane.netns if self.plane else "",
            reported_at=time.time(),
        )


def _memory_mb() -> int:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            return int(line.split()[1]) // 1024
    return 1024


def _hypervisor(settings: Settings, store: Store, name: str) -> Hypervisor:
    run_dir = settings.data_dir / "nodes" / name
    if settings.hypervisor == "fake":
        from mallee.node.hypervisor.fake import FakeHypervisor

        return FakeHypervisor(run_dir)
    from mallee.images.default import default_image_paths
    from mallee.node.hypervisor.probe import choose_accel
    from mallee.node.hypervisor.qemu import QemuHypervisor

    image = default_image_paths(settings.image_dir)
    if settings.hypervisor == "auto" and image is None:
        accel = "tcg"
    else:
        kernel, ramdisk = (image.kernel, image.ramdisk) if image else (Path(), Path())
        accel = choose_accel(settings.hypervisor, kernel, ramdisk, run_dir)
    return QemuHypervisor(run_dir / "instances", accel)


def run_node(settings: Settings) -> int:
    store = Store(settings.database_url)
    host = socket.gethostname()
    name = settings.node_name or f"node-{host}"
    hv = _hypervisor(settings, store, name)
    plane: NicPlane | None = None
    if hv.kind != "fake":
        from mallee.node.network import DataPlane

        plane = DataPlane(
            node_name=name,
            subnet=settings.node_subnet,
            data_dir=settings.data_dir,
            db_url=settings.database_url,
            region=settings.region,
        )
        plane.ensure()
    agent = NodeAgent(store, settings, hv, plane, name)
    service_id = registry.register_self(
        # 8775: the Eucalyptus NC port (the agent listens on none; the registry wants one).
        store,
        type="node",
        name=name,
        host=host,
        port=8775,
        partition=settings.zone,
    )
    agent.report({})
    beat = Heartbeat(store, service_id, interval=interval_for(settings.heartbeat_timeout))
    beat.start()
    stop = stop_on_signals()
    log.info("node %s up (%s), adopting %d running VMs", name, hv.kind, len(hv.running()))
    try:
        while not stop.is_set():
            try:
                agent.reconcile_once()
            except Exception:
                log.exception("reconcile failed")
            stop.wait(TICK)
    finally:
        # The VMs keep running: the next agent adopts them.
        agent.drain()
        beat.stop()
        store.dispose()
    return 0
