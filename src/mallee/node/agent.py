"""`mallee node`: make this node's VMs match the instance rows placed on it.

Every transition the agent makes is a conditional UPDATE (`WHERE state = expected`), and what it
does to a VM is found again from disk after a restart, so killing the agent at any moment and
starting it again neither repeats nor loses a step. Slow steps (boots, graceful stops) run on a
small thread pool, one at a time per instance; each step reads its row afresh when it starts, so
a decision is never taken on a row another step changed meanwhile.
"""

from __future__ import annotations

import functools
import logging
import os
import shutil
import socket
import threading
import time
from collections.abc import Callable, Collection, Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Protocol

from sqlalchemy import bindparam, select, update
from sqlalchemy.exc import SQLAlchemyError

from mallee.config import Settings
from mallee.node.boot_disks import NoRootVolume, NotReady, boot_disks
from mallee.node.hypervisor.base import Hypervisor, LaunchError, VmSpec
from mallee.node.image_cache import ImageCache
from mallee.node.transitions import Transitions
from mallee.node.volumes import VolumePlugs
from mallee.registry import components
from mallee.registry.heartbeat import Heartbeat, interval_for
from mallee.runloop import stop_on_signals, wait_for_work
from mallee.store import Store
from mallee.store.prepared import Prepared, detached
from mallee.store.tables.compute import (
    InstanceConsole,
    InstanceCounters,
    NodeRow,
    VolumeCounters,
)
from mallee.store.tables.ec2 import Ec2Instance
from mallee.store.upsert import upsert

log = logging.getLogger(__name__)

CMDLINE = (
    "console=ttyS0 quiet panic=1 cryptomgr.notests i8042.noaux i8042.nokbd i8042.nopnp "
    "i8042.dumbkbd 8250.nr_uarts=1 root=/dev/vda1"
)
STOP_TIMEOUT = 30.0
TERMINATE_TIMEOUT = 5.0
TICK = 0.25
REPORT_EVERY = 5.0
SAMPLE_REFRESH = 30.0
REPORT_BATCH = 200
# How often the data plane's real state is checked and repaired (the plane's heal): the agent
# keeps dnsmasq, the metadata server and its VMs' taps, EDGE's and those in VPC namespaces.
HEAL_EVERY = 2.0
# A guest that keeps crashing is relaunched ever more slowly (seconds between attempts).
CRASH_WINDOW = 300.0
CRASH_FREE_RELAUNCHES = 3
CRASH_MAX_DELAY = 60.0

_WAITING = Prepared(
    select(Ec2Instance.id)
    .where(
        Ec2Instance.node == bindparam("node"),
        Ec2Instance.state.in_(("pending", "stopping", "shutting-down")),
    )
    .limit(1)
)
# Every step reads its instance first: prepared, it costs a tenth of an ORM get.
_INSTANCE = Prepared(select(*Ec2Instance.__table__.c).where(Ec2Instance.id == bindparam("id")))


class PluggedNic(Protocol):
    """Where a VM's network port is: QEMU starts in `netns` and opens `tap` there."""

    @property
    def netns(self) -> str: ...

    @property
    def tap(self) -> str: ...

    @property
    def mtu(self) -> int: ...


class NicPlane(Protocol):
    """What the agent asks of the node's network (mallee.node.network.ports.Ports): it puts
    each instance's port where its network is, EDGE's node namespace or its VPC's, so the
    agent never needs to know which."""

    @property
    def netns(self) -> str: ...

    def heal(self, running: Collection[str]) -> set[str]: ...

    def plug(self, instance_id: str, mac: str, ip: str) -> PluggedNic: ...

    def unplug(self, instance_id: str) -> None: ...

    def plugged(self) -> set[str]: ...


def _needs_work(state: str, alive: bool, reboot_due: bool) -> bool:
    """Cheap pre-check so a node with many settled instances does not queue a step for each."""
    if state == "running":
        return not alive or reboot_due
    if state == "stopped":
        return alive
    return True


class _Crashes:
    """Recent unexpected exits per instance, to slow down relaunching a crash loop."""

    def __init__(self) -> None:
        self._at: dict[str, list[float]] = {}

    def may_relaunch(self, instance_id: str, now: float) -> bool:
        recent = [t for t in self._at.get(instance_id, []) if now - t < CRASH_WINDOW]
        self._at[instance_id] = recent
        if len(recent) < CRASH_FREE_RELAUNCHES:
            return True
        delay = min(CRASH_MAX_DELAY, 2.0 ** (len(recent) - CRASH_FREE_RELAUNCHES + 1))
        return now - recent[-1] >= delay

    def record(self, instance_id: str, now: float) -> None:
        self._at.setdefault(instance_id, []).append(now)

    def forget(self, instance_id: str) -> None:
        self._at.pop(instance_id, None)


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
        self.cache = ImageCache(settings.data_dir / "image-cache", store, self._read_blob)
        self._pool = ThreadPoolExecutor(threads) if threads else None
        self._busy: set[str] = set()
        self._lock = threading.Lock()
        self._reported = 0.0
        self._healed = time.monotonic()
        self._crashes = _Crashes()
        self._transitions = Transitions(store)
        # EBS volumes of this node's running instances, plugged into their VMs.
        self.volumes = VolumePlugs(store, hypervisor, name)
        # What was last written per instance, so unchanged consoles and counters are not.
        self._written: dict[str, tuple[int, tuple[float, ...]]] = {}

    # --- the loop ---------------------------------------------------------------------------

    def _read_blob(self, blob_id: str) -> Iterable[bytes | memoryview]:
        from mallee.objectstore.backends import make_backend

        return make_backend(self.settings, self.store).read(blob_id)

    def adopt(self) -> int:
        """At start: the VMs a previous agent left running are ours to carry on with."""
        return len(self.hv.adopt())

    def reconcile_once(self) -> bool:
        """One pass; whether any instance or orphan wanted work (steps of earlier passes
        still in flight count: the loop then waits its whole tick before looking again)."""
        alive = self.hv.running()
        mine = self._states()
        busy = False
        for iid, (state, reboot) in mine.items():
            if _needs_work(state, iid in alive, reboot):
                self._submit(iid, functools.partial(self._step, iid))
                busy = True
        for orphan in (self.hv.known() | self._plugged()) - set(mine):
            self._submit(orphan, functools.partial(self._orphan, orphan))
            busy = True
        live = {i for i, (state, _) in mine.items() if state == "running" and i in alive}
        busy = self.volumes.reconcile(live, self._submit) or busy
        if time.monotonic() - self._reported >= REPORT_EVERY:
            self._reported = time.monotonic()
            self.report({i: state for i, (state, _) in mine.items()})
        if self.plane and time.monotonic() - self._healed >= HEAL_EVERY:
            self._healed = time.monotonic()
            running = [i for i, (state, _) in mine.items() if state == "running" and i in alive]
            for instance_id in self.plane.heal(running):
                vm = self.hv.info(instance_id)
                pid = vm.pid if vm else None
                self._submit(instance_id, functools.partial(self._replug, instance_id, pid))
                busy = True
        return busy

    def has_work(self) -> bool:
        """Whether one of this node's instances waits to be started, stopped or terminated
        (an indexed read, cheap enough to ask many times a second between passes)."""
        return _WAITING.first(self.store.read_engine, node=self.name) is not None

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

    def _row(self, instance_id: str) -> Ec2Instance | None:
        found = _INSTANCE.first(self.store.read_engine, id=instance_id)
        if found is None or found.node != self.name or found.state == "terminated":
            return None
        return detached(Ec2Instance, found)

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

    def _alive(self, instance_id: str) -> bool:
        vm = self.hv.info(instance_id)
        return vm is not None and vm.pid is not None

    def _step(self, instance_id: str) -> None:
        row = self._row(instance_id)
        if row is None:
            return  # gone or moved on since the tick looked: the orphan sweep handles its VM
        alive = self._alive(instance_id)
        if row.state == "pending":
            if alive or self._launch(row, "pending"):
                self._move(row.id, "pending", "running")
        elif row.state == "running":
            self._running(row, alive)
        elif row.state == "stopping":
            self.hv.stop(row.id, STOP_TIMEOUT)
            self._save_console(row.id)
            if self.plane:
                self.plane.unplug(row.id)  # a stopped VM holds no port; a start plugs anew
            self._move(row.id, "stopping", "stopped")
        elif row.state == "stopped" and alive:
            self.hv.stop(row.id, STOP_TIMEOUT)
        elif row.state == "shutting-down":
            self._terminate(row)

    def _terminate(self, row: Ec2Instance) -> None:
        self._save_console(row.id)
        self.hv.stop(row.id, TERMINATE_TIMEOUT)
        self._forget(row.id)
        reason: dict[str, Any] = {}
        if row.state_reason_code is None:
            code = "Client.UserInitiatedShutdown"
            reason = dict(state_reason_code=code, state_reason_message=f"{code}: User initiated "
                          "shutdown")  # fmt: skip
        self._move(row.id, "shutting-down", "terminated", terminated_at=time.time(), **reason)

    def _replug(self, instance_id: str, pid: int | None) -> None:
        """The VM (QEMU `pid`) lost its tap: a running QEMU cannot be handed a new one, so it
        starts again on a fresh tap, as after a crash (its disk kept)."""
        row = self._row(instance_id)
        vm = self.hv.info(instance_id)
        if row is None or row.state != "running" or vm is None or vm.pid is None:
            return  # stopped or gone meanwhile: the usual steps take it from here
        if vm.pid != pid:
            return  # started again since (with its tap)
        log.warning("%s lost its network port: starting its VM again on a new one", row.id)
        self.hv.stop(row.id, 0)
        self._launch(row, "running", reboots=vm.reboots)

    def _orphan(self, instance_id: str) -> None:
        """A VM or NIC here whose row is terminated, missing or on another node."""
        if self._row(instance_id) is None:
            log.info("%s is not this node's (any more): removing its VM", instance_id)
            self._forget(instance_id)

    def _running(self, row: Ec2Instance, alive: bool) -> None:
        if not alive:
            self._exited(row)
        elif row.reboots_requested > row.reboots_done:
            vm = self.hv.info(row.id)
            # A VM that already applied this reboot (the agent died before recording it).
            if vm is None or vm.reboots < row.reboots_requested:
                log.info("%s: reboot", row.id)
                self.hv.restart(row.id, row.reboots_requested)
            with self.store.session() as s:
                s.execute(
                    update(Ec2Instance)
                    .where(
                        Ec2Instance.id == row.id,
                        Ec2Instance.reboots_done < row.reboots_requested,
                    )
                    .values(reboots_done=row.reboots_requested)
                )

    def _exited(self, row: Ec2Instance) -> None:
        """The VM of a running instance is gone, and nobody here stopped it."""
        vm = self.hv.info(row.id)
        if vm is None or self.hv.exited_for_reboot(row.id):
            now = time.time()
            if not self._crashes.may_relaunch(row.id, now):
                return
            self._crashes.record(row.id, now)
            log.info("%s exited without powering off: relaunching", row.id)
            self._launch(row, "running", reboots=vm.reboots if vm else row.reboots_done)
            return
        self._save_console(row.id)
        code = "Client.InstanceInitiatedShutdown"
        reason = dict(state_reason_code=code, state_reason_message=f"{code}: Instance initiated "
                      "shutdown")  # fmt: skip
        if row.root_device_type == "ebs" and row.shutdown_behavior == "stop":
            self._move(row.id, "running", "stopped", **reason)
            return
        # An instance-store instance that powers itself off is gone for good (AWS).
        self._forget(row.id)
        self._move(row.id, "running", "terminated", terminated_at=time.time(), **reason)

    def _launch(self, row: Ec2Instance, expected: str, reboots: int | None = None) -> bool:
        try:
            spec = self._spec(row, row.reboots_done if reboots is None else reboots)
            self.hv.launch(spec)
            return True
        except NotReady as waiting:
            log.debug("%s waits: %s", row.id, waiting)
            return False
        except NoRootVolume as err:
            # Nothing was made for the VM yet; the instance and its volumes are kept, stopped,
            # for a volume to be attached at its root.
            log.warning("%s cannot start: %s", row.id, err)
            code = "Client.InternalError"
            self._move(row.id, expected, "stopped", state_reason_code=code,
                       state_reason_message=f"{code}: {err}")  # fmt: skip
            return False
        except SQLAlchemyError:
            raise  # the database, not the instance: try again next tick
        except Exception as err:
            log.warning("%s failed to launch: %s", row.id, err)
            console = self.hv.console(row.id) + f"\n[mallee] launch failed: {err}\n"
            self._write_console(row.id, console)
            self._forget(row.id)
            self._move(
                row.id, expected, "terminated", terminated_at=time.time(),
                state_reason_code="Server.InternalError",
                state_reason_message=f"Server.InternalError: {err}"[:2000],
                transition_reason="Server.InternalError: the instance failed to start",
            )  # fmt: skip
            return False

    def _spec(self, row: Ec2Instance, reboots: int) -> VmSpec:
        if not row.kernel_id:
            raise LaunchError(f"{row.image_id} names no kernel image; cannot boot it")
        if self.plane and not (row.mac and row.private_ip):
            raise LaunchError(f"{row.id} was placed without a MAC and private address")
        ebs = row.root_device_type == "ebs"
        # Before anything is made for the VM: a launch waiting for its volumes costs nothing.
        disks = boot_disks(
            self.store, row.id, row.root_device_name, ebs, row.block_device_mappings, row.disk_gb
        )
        kernel = self.cache.path(row.kernel_id)
        ramdisk = self.cache.path(row.ramdisk_id) if row.ramdisk_id else None
        # An EBS-backed instance boots from its root volume: its image has no file.
        root = Path() if ebs else self.cache.path(row.image_id)
        nic = self.plane.plug(row.id, row.mac or "", row.private_ip or "") if self.plane else None
        return VmSpec(
            instance_id=row.id,
            cores=row.cores,
            memory_mb=row.memory_mb,
            kernel=kernel,
            ramdisk=ramdisk,
            root=root,
            cmdline=CMDLINE,
            netns=nic.netns if nic else "",
            tap=nic.tap if nic else "",
            mtu=nic.mtu if nic else 0,
            mac=row.mac or "",
            reboots=reboots,
            disk_gb=row.disk_gb,
            root_volume=disks.root_volume,
            volumes=disks.volumes,
            ephemeral=disks.ephemeral,
        )

    def _forget(self, instance_id: str) -> None:
        self.hv.destroy(instance_id)
        if self.plane:
            self.plane.unplug(instance_id)
        self._crashes.forget(instance_id)

    def _move(self, instance_id: str, expected: str, new: str, **fields: Any) -> bool:
        return self._transitions.move(instance_id, expected, new, **fields)

    # --- what the node reports ----------------------------------------------------------------

    def _save_console(self, instance_id: str) -> None:
        text = self.hv.console(instance_id)
        if text:
            self._write_console(instance_id, text)

    def _write_console(self, instance_id: str, text: str) -> None:
        with self.store.session() as s:
            s.merge(InstanceConsole(instance_id=instance_id, output=text, updated_at=time.time()))

    def report(self, states: dict[str, str]) -> None:
        """The node's row, and each live instance's console and counters that changed."""
        with self.store.session() as s:
            s.merge(self._node_row())
        now = time.time()
        self._written = {k: v for k, v in self._written.items() if k in states}
        consoles: list[dict[str, Any]] = []
        counters: list[dict[str, Any]] = []
        volumes: list[dict[str, Any]] = []
        for instance_id, state in states.items():
            if state in ("pending", "running"):
                self._changed(instance_id, now, consoles, counters, volumes)
        # Batched: one transaction per few hundred rows, not one per instance.
        for entity, rows in (
            (InstanceConsole, consoles),
            (InstanceCounters, counters),
            (VolumeCounters, volumes),
        ):
            for start in range(0, len(rows), REPORT_BATCH):
                with self.store.session() as s:
                    upsert(s, entity, rows[start : start + REPORT_BATCH])

    def _changed(
        self,
        instance_id: str,
        now: float,
        consoles: list[dict[str, Any]],
        counters: list[dict[str, Any]],
        volumes: list[dict[str, Any]],
    ) -> None:
        """Adds the instance's console and counters, and its volumes' counters (sampled with
        them: one QMP query per VM), to the lists when they changed."""
        console = self.hv.console(instance_id)
        sample = self.hv.counters(instance_id)
        values = sample.values() if sample else {}
        plugged = sample.volumes if sample else ()
        # The console is a fixed-size tail once it is long: compare content, not length.
        # The counters are rewritten at least every SAMPLE_REFRESH, even unchanged: a fresh
        # `sampled_at` says the VM is alive (CloudWatch's StatusCheckFailed_Instance reads it).
        seen = (
            hash(console),
            tuple(float(v) for v in values.values())
            + tuple(float(v) for io in plugged for v in io.values().values())
            + (now // SAMPLE_REFRESH,),
        )
        before = self._written.get(instance_id)
        if before == seen:
            return
        self._written[instance_id] = seen
        if console and (before is None or before[0] != seen[0]):
            consoles.append({"instance_id": instance_id, "output": console, "updated_at": now})
        if sample:
            counters.append({"instance_id": instance_id, "sampled_at": now, **values})
        volumes += [
            {"volume_id": io.volume_id, "instance_id": instance_id, "sampled_at": now,
             **io.values()}
            for io in plugged
        ]  # fmt: skip

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
            public_ip=st.node_public_ip if self.plane else "",
            netns=self.plane.netns if self.plane else "",
            reported_at=time.time(),
        )


def _memory_mb() -> int:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            return int(line.split()[1]) // 1024
    return 1024


def _hypervisor(settings: Settings, name: str) -> Hypervisor:
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


def node_name(settings: Settings) -> str:
    """This host's node: the configured name, else node-<hostname>."""
    return settings.node_name or f"node-{socket.gethostname()}"


def run_node(settings: Settings) -> int:
    store = Store(settings.database_url)
    host = socket.gethostname()
    name = node_name(settings)
    hv = _hypervisor(settings, name)
    ports: NicPlane | None = None
    edge: threading.Thread | None = None
    stop = stop_on_signals()
    if hv.kind != "fake":
        from mallee.node.network import DataPlane
        from mallee.node.network.dataplane import DataPlaneBusyError
        from mallee.node.network.edge import EdgeReconciler
        from mallee.node.network.identity import cloud_id
        from mallee.node.network.names import public_netns_for
        from mallee.node.network.ports import Ports
        from mallee.node.network.vpc_edge import VpcReconciler
        from mallee.node.network.vpc_ports import VpcPorts
        from mallee.node.network.vpc_servers import VpcServers

        try:
            cloud = cloud_id(store)
            plane = DataPlane(
                cloud_id=cloud,
                node_name=name,
                subnet=settings.node_subnet,
                data_dir=settings.data_dir,
                db_url=settings.database_url,
                region=settings.region,
            )
            plane.claim()
        except (DataPlaneBusyError, RuntimeError) as err:
            # Not yet initialised (`mallee init`), or this node runs already.
            log.error("node %s not started: %s", name, err)
            store.dispose()
            return 1
        plane.ensure()
        reconciler = EdgeReconciler(
            store,
            node_name=name,
            netns=plane.netns,
            public_netns=public_netns_for(cloud),
            subnet=settings.node_subnet,
            public_ip=settings.node_public_ip,
        )
        edge = threading.Thread(target=reconciler.run, args=(stop,), name="edge", daemon=True)
        edge.start()
        servers = VpcServers(plane.run_dir / "vpc", node_name=name, db_url=settings.database_url,
                             region=settings.region)  # fmt: skip
        vpcs = VpcReconciler(store, cloud_id=cloud, node_name=name, netns=plane.netns,
                             public_ip=settings.node_public_ip, servers=servers)  # fmt: skip
        threading.Thread(target=vpcs.run, args=(stop,), name="vpc", daemon=True).start()
        from mallee.node.lb.workers import ElbWorkers

        lbs = ElbWorkers(store, cloud_id=cloud, node_name=name, data_dir=settings.data_dir)
        threading.Thread(target=lbs.run, args=(stop,), name="elb", daemon=True).start()
        ports = Ports(plane, VpcPorts(store, cloud_id=cloud, node_name=name))
    agent = NodeAgent(store, settings, hv, ports, name)
    # 8775: the Eucalyptus NC port (the agent listens on none; the registry wants one).
    service_id = components.register_self(
        store, type="node", name=name, host=host, port=8775, partition=settings.zone
    )
    log.info("node %s up (%s), adopting %d running VMs", name, hv.kind, agent.adopt())
    agent.report({})
    beat = Heartbeat(store, service_id, interval=interval_for(settings.heartbeat_timeout))
    beat.start()
    try:
        while not stop.is_set():
            try:
                busy = agent.reconcile_once()
            except Exception:
                log.exception("reconcile failed")
                busy = True
            # Under load a pass waits out its tick, so the next one takes a whole batch; an
            # idle node starts on a new launch as soon as it is placed here.
            if busy:
                stop.wait(TICK)
            else:
                wait_for_work(stop, TICK, agent.has_work)
    finally:
        # The VMs keep running: the next agent adopts them.
        agent.drain()
        if edge is not None:
            edge.join(timeout=10)
        beat.stop()
        store.dispose()
    return 0
