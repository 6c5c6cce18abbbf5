"""The node's load balancer workers: one HAProxy in a namespace of its own per worker row
placed on this node, kept as the ELB rows say.

A thread polls the ELB generation and this node's worker rows four times a second. When the
generation moves (or a worker's `applied_generation` lags, a drain ends, or every REFRESH to
follow the nodes' routes), it renders each worker's configuration from the rows and starts
HAProxy, or reloads it seamlessly when the configuration differs from the file it runs. Every
second it reads each HAProxy's `show stat` and writes the health rows that changed; every
HEAL_EVERY it checks that each HAProxy and namespace is still there. Everything is found
again from disk and the kernel (pid file + command line, the namespace, the configuration
file), so a restarted agent adopts running workers without touching their connections.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import re
import shutil
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import delete, update
from sqlalchemy.orm import Session

from mallee.identity.server_certificates import pem_bundle
from mallee.network_config import NetworkConfig, parse
from mallee.node.lb import netns, rows, vpc
from mallee.node.lb.access_logs import AccessLogs
from mallee.node.lb.config import Paths, render
from mallee.node.lb.counters import CounterRows
from mallee.node.lb.desired import Balancer, Worker, backends, next_change
from mallee.node.lb.haproxy import Haproxy
from mallee.node.lb.health import parse_stat
from mallee.node.network import links
from mallee.node.network.names import lb_netns_for, public_netns_for
from mallee.registry import properties
from mallee.store.db import Store
from mallee.store.tables.elb import ElbInstanceHealth, ElbWorker, elb_generation
from mallee.store.tables.network import network_generation
from mallee.store.upsert import upsert

log = logging.getLogger(__name__)

POLL = 0.25
HEALTH_EVERY = 1.0
HEAL_EVERY = 2.0
REFRESH = 5.0
# A worker that failed to apply is tried again after this long, not on every poll.
RETRY_AFTER = 2.0
SOCKET_DIR = Path("/run/mallee/elb")
LIVE = ("pending", "running")

# arn -> the PEM bundle (certificate, chain, key) of an IAM server certificate, or None.
PemSource = Callable[[Session, str], bytes | None]


def _pem_bundle(s: Session, arn: str, data_dir: Path) -> bytes | None:
    return pem_bundle(s, arn, data_dir)


@dataclass
class _Running:
    """What this agent applied to one worker."""

    lb_id: str
    instances: tuple[str, ...]
    network: tuple[object, ...] = ()
    in_vpc: bool = False


class ElbWorkers:
    def __init__(
        self,
        store: Store,
        *,
        cloud_id: str,
        node_name: str,
        data_dir: Path,
        pem_source: PemSource | None = None,
        socket_dir: Path = SOCKET_DIR,
    ) -> None:
        self.store = store
        self.cloud_id = cloud_id
        self.node_name = node_name
        self.public_netns = public_netns_for(cloud_id)
        self.run_root = data_dir / "elb" / re.sub(r"[^A-Za-z0-9_.-]", "-", node_name)
        self.socket_dir = socket_dir
        self.pem_source = pem_source or functools.partial(_pem_bundle, data_dir=data_dir)
        self.generation = -1
        # The network generation (groups, a VPC's interfaces) last applied.
        self.net_generation = -1
        self._running: dict[str, _Running] = {}
        # worker id -> (lb id, instance id) -> (state, reason, description) in the database.
        self._written: dict[str, dict[tuple[str, str], tuple[str, str, str]]] = {}
        self._next_change: float | None = None
        self._retry_at = 0.0
        self._refreshed = 0.0
        self._healed = time.monotonic()
        self._polled = 0.0
        self._force = True
        self.counters = CounterRows(store)
        self.access_logs = AccessLogs(store, data_dir)

    def haproxy(self, worker_id: str) -> Haproxy:
        return Haproxy(
            lb_netns_for(self.cloud_id, worker_id), self.run_root / worker_id, self.socket_dir
        )

    # --- the loop -------------------------------------------------------------------------

    def run(self, stop: threading.Event) -> None:
        while not stop.is_set():
            try:
                self.reconcile_once()
            except Exception:
                log.exception("ELB workers' pass failed")
                self._force = True
                stop.wait(RETRY_AFTER)
            stop.wait(POLL)

    def reconcile_once(self) -> None:
        now, mono = time.time(), time.monotonic()
        with self.store.read() as s:
            gen = elb_generation(s)
            net_gen = network_generation(s)
            mine = rows.workers(s, self.node_name)
        if net_gen != self.net_generation:
            self.net_generation = net_gen
            self._force = True
        if self._due(gen, mine, now, mono):
            self._refreshed = mono
            self._force = False
            self.apply(gen, mine, now)
        if mono - self._polled >= HEALTH_EVERY:
            self._polled = mono
            self.report_health()
        if mono - self._healed >= HEAL_EVERY:
            self._healed = mono
            self.heal()

    def _due(self, gen: int, mine: list[Worker], now: float, mono: float) -> bool:
        if self._force or gen != self.generation or mono - self._refreshed >= REFRESH:
            return True
        if self._next_change is not None and now >= self._next_change:
            return True
        waiting = any(
            w.state == "deleting"
            or (w.state in LIVE and w.public_ip and w.applied_generation != gen)
            for w in mine
        )
        return waiting and mono >= self._retry_at

    # --- applying the rows ----------------------------------------------------------------

    def apply(self, gen: int, mine: list[Worker], now: float) -> None:
        live = [w for w in mine if w.state in LIVE and w.public_ip]
        with self.store.read() as s:
            lbs = rows.balancers(s, {w.lb_id for w in live})
            routes = rows.node_routes(s)
            certs = self._pems(s, lbs.values())
            sides = vpc.sides(
                s, self.cloud_id, self.node_name, [(w.id, w.lb_id, w.zone) for w in live]
            )
        config = parse(properties.get_json(self.store, "cloud.network.network_configuration"))
        failed = False
        live_ids = {w.id for w in live}
        for w in mine:
            try:
                if w.state == "deleting":
                    self.stop(w.id)
                    self._stopped(w.id)
                elif w.id in live_ids and w.lb_id in lbs:
                    self._run(w, lbs[w.lb_id], gen, now, config, routes, certs, sides.get(w.id))
            except vpc.LegNotReady as why:
                log.info("ELB worker %s waits for its VPC subnet: %s", w.id, why)
                failed = True
            except Exception:
                log.exception("ELB worker %s failed to apply; trying again", w.id)
                failed = True
        orphans = self._orphans(live_ids)
        if orphans:
            with self.store.read() as s:
                moved = rows.placed_elsewhere(s, orphans, self.node_name)
            for orphan in orphans:
                log.info("ELB worker %s is not this node's (any more): stopping it", orphan)
                # Moved to a node on this same host: its namespace is that node's now.
                self.stop(orphan, keep_netns=orphan in moved)
        changes = [c for w in live if w.lb_id in lbs if (c := next_change(lbs[w.lb_id], now))]
        self._next_change = min(changes) if changes else None
        self.generation = gen
        if failed:
            self._retry_at = time.monotonic() + RETRY_AFTER

    def _run(
        self,
        w: Worker,
        lb: Balancer,
        gen: int,
        now: float,
        config: NetworkConfig,
        routes: dict[str, str],
        certs: dict[str, bytes],
        side: vpc.VpcSide | None = None,
    ) -> None:
        hp = self.haproxy(w.id)
        if side is not None:
            # Its back ends are the VPC's, reached through its leg: the nodes' EDGE subnets
            # are no business of its, and may overlap the VPC's block.
            routes = {}
        network = (
            w.public_ip,
            str(config.public_subnet),
            str(config.public_gateway),
            tuple(sorted(routes.items())),
            side,
        )
        known = self._running.get(w.id)
        if known is None or known.network != network or not links.exists(hp.netns):
            netns.ensure(
                hp.netns,
                self.public_netns,
                w.id,
                str(w.public_ip),
                config.public_subnet,
                str(config.public_gateway),
                routes,
            )
        if side is not None:
            vpc.ensure_leg(hp.netns, side.leg)
            vpc.guard_listeners(hp.netns, side.ingress)
        chosen = backends(lb, w.zone, now)
        pems = self._write_pems(hp.run_dir, lb, certs)
        logs = hp.stats_socket.with_suffix(".log")
        self.access_logs.ensure(w.id, logs, hp.run_dir)
        rendered = render(lb, chosen, Paths(hp.stats_socket, hp.server_state, logs), pems)
        if rendered.skipped:
            log.warning(
                "ELB worker %s: no certificate for listener(s) %s; left out", w.id, rendered.skipped
            )
        changed = rendered.text != hp.current()
        if changed:
            hp.write(rendered.text)
        if hp.pid() is None:
            log.info("ELB worker %s of %s: starting HAProxy in %s", w.id, lb.id, hp.netns)
            hp.start()
        elif changed:
            log.info("ELB worker %s of %s: reloading HAProxy", w.id, lb.id)
            hp.reload()
        self._running[w.id] = _Running(
            lb.id, tuple(b.instance_id for b in chosen), network, side is not None
        )
        if w.state == "pending" or w.applied_generation != gen:
            self._applied(w.id, gen)

    def _applied(self, worker_id: str, gen: int) -> None:
        """HAProxy answers with this generation's configuration."""
        with self.store.session() as s:
            s.execute(
                update(ElbWorker)
                .where(
                    ElbWorker.id == worker_id,
                    ElbWorker.node == self.node_name,
                    ElbWorker.state.in_(LIVE),
                )
                .values(applied_generation=gen)
            )
            s.execute(
                update(ElbWorker)
                .where(
                    ElbWorker.id == worker_id,
                    ElbWorker.node == self.node_name,
                    ElbWorker.state == "pending",
                )
                .values(state="running")
            )

    def _stopped(self, worker_id: str) -> None:
        with self.store.session() as s:
            s.execute(delete(ElbInstanceHealth).where(ElbInstanceHealth.worker_id == worker_id))
            s.execute(
                update(ElbWorker)
                .where(
                    ElbWorker.id == worker_id,
                    ElbWorker.node == self.node_name,
                    ElbWorker.state == "deleting",
                )
                .values(state="stopped")
            )

    def stop(self, worker_id: str, *, keep_netns: bool = False) -> None:
        """HAProxy stopped, the namespace (and its veth) deleted, the run directory gone."""
        hp = self.haproxy(worker_id)
        hp.stop(only_ours=keep_netns)
        if not keep_netns:
            netns.delete(hp.netns)
        shutil.rmtree(hp.run_dir, ignore_errors=True)
        self._running.pop(worker_id, None)
        self._written.pop(worker_id, None)
        self.counters.forget(worker_id)
        self.access_logs.forget(worker_id)

    def _orphans(self, kept: set[str]) -> list[str]:
        """Run directories of workers no longer placed here, e.g. moved while we were down."""
        if not self.run_root.is_dir():
            return []
        found = [p.name for p in self.run_root.iterdir() if p.is_dir()]
        return sorted(n for n in found if n not in kept and re.fullmatch(r"elbw-[0-9a-f]+", n))

    def _pems(self, s: Session, lbs: Iterable[Balancer]) -> dict[str, bytes]:
        wanted = {
            listener.ssl_certificate_id
            for lb in lbs
            for listener in lb.listeners
            if listener.protocol in ("HTTPS", "SSL") and listener.ssl_certificate_id
        }
        found = {}
        for arn in sorted(wanted):
            try:
                pem = self.pem_source(s, arn)
            except Exception:
                # One unreadable certificate (its key unsealable here) leaves out its
                # listeners, not every worker's whole configuration.
                log.exception("server certificate %s could not be read", arn)
                continue
            if pem is not None:
                found[arn] = pem
        return found

    def _write_pems(self, run_dir: Path, lb: Balancer, certs: dict[str, bytes]) -> dict[str, Path]:
        out = {}
        for listener in lb.listeners:
            pem = certs.get(listener.ssl_certificate_id)
            if pem is None:
                continue
            name = hashlib.sha256(listener.ssl_certificate_id.encode()).hexdigest()[:16]
            path = run_dir / "certs" / f"{name}.pem"
            if not path.exists() or path.read_bytes() != pem:
                path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
                tmp = path.with_suffix(".new")
                tmp.touch(mode=0o600)
                tmp.write_bytes(pem)
                tmp.replace(path)
            out[listener.ssl_certificate_id] = path
        return out

    # --- health and healing ---------------------------------------------------------------

    def report_health(self) -> None:
        for worker_id, known in list(self._running.items()):
            try:
                self._report(worker_id, known)
            except Exception:
                log.exception("ELB worker %s: health not reported", worker_id)
            self.counters.sample(worker_id, known.lb_id, self.haproxy(worker_id).command)
            self.access_logs.deliver_due(worker_id, self.run_root / worker_id)

    def _report(self, worker_id: str, known: _Running) -> None:
        hp = self.haproxy(worker_id)
        try:
            seen = parse_stat(hp.command("show stat"))
        except (OSError, ValueError) as err:
            log.debug("ELB worker %s: no stats (%s)", worker_id, err)
            return
        written = self._written.get(worker_id)
        if written is None:
            with self.store.read() as s:
                written = rows.health_rows(s, worker_id)
        now = time.time()
        changed: dict[tuple[str, str], tuple[str, str, str]] = {}
        for iid in known.instances:
            health = seen.get(iid)
            if health is None:
                continue  # a reload in progress: the old worker answered
            value = (health.state, health.reason_code, health.description)
            if written.get((known.lb_id, iid)) != value:
                changed[(known.lb_id, iid)] = value
        gone = [key for key in written if key[0] != known.lb_id or key[1] not in known.instances]
        if changed or gone:
            with self.store.session() as s:
                upsert(s, ElbInstanceHealth, [
                    {"lb_id": lb_id, "instance_id": iid, "worker_id": worker_id, "state": state,
                     "reason_code": code, "description": text, "updated_at": now}
                    for (lb_id, iid), (state, code, text) in changed.items()
                ])  # fmt: skip
                for lb_id, iid in gone:
                    s.execute(
                        delete(ElbInstanceHealth).where(
                            ElbInstanceHealth.lb_id == lb_id,
                            ElbInstanceHealth.instance_id == iid,
                            ElbInstanceHealth.worker_id == worker_id,
                        )
                    )
        for key in gone:
            written.pop(key, None)
        written.update(changed)
        self._written[worker_id] = written

    def heal(self) -> None:
        """A HAProxy that died, or a namespace deleted under it: the next pass starts again."""
        for worker_id in list(self._running):
            hp = self.haproxy(worker_id)
            if not links.exists(hp.netns):
                log.warning("ELB worker %s lost its namespace: building it again", worker_id)
                hp.stop()
                self._running.pop(worker_id, None)
                self._force = True
            elif hp.pid() is None:
                log.warning("ELB worker %s: HAProxy is gone; starting it again", worker_id)
                self._force = True
            elif self._running[worker_id].in_vpc and not vpc.has_leg(hp.netns):
                # Its VPC's namespace was rebuilt (drift), and the veth went with it.
                log.warning("ELB worker %s lost its VPC leg: plugging it again", worker_id)
                self._running.pop(worker_id, None)
                self._force = True
