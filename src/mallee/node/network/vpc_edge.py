"""The node's VPC reconciler: the same loop as EDGE's (edge.py), for user VPCs.

It polls the network generation; when it moves (or every REFRESH seconds) it reads the desired
state (vpc_desired), computes every VPC namespace's plan (vpc_rules, pure) and applies the plans
that differ from what it applied last (vpc_apply, idempotent); namespaces of VPCs no longer on
this node, and their NAT gateways, are deleted. Every VERIFY seconds it checks that each
applied namespace still exists, and every FULL seconds it applies everything again, which
repairs any drift inside them. A restart converges from any state in its first pass.

It also moves the states of the NAT gateways it runs (services/ec2/nat_gateways.py): `pending`
becomes `available` once its VPC's namespace and the gateway were applied, and `deleting`
becomes `deleted` once its namespace is gone. Both are conditional UPDATEs from the state
read, so the api deleting a gateway meanwhile wins, and a pass repeated after a crash finds
nothing left to move.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from pathlib import Path

from sqlalchemy import update

from mallee.node.network import links
from mallee.node.network.names import check_cloud_id
from mallee.node.network.vpc_apply import apply_nat, apply_vpc, set_proxies, set_vxlan_input
from mallee.node.network.vpc_desired import VpcState, load
from mallee.node.network.vpc_names import nat_netns, nat_prefix, vpc_netns, vpc_prefix
from mallee.node.network.vpc_rules import VpcPlan, node_plans, vxlan_input_rules
from mallee.node.network.vpc_servers import VpcServers
from mallee.store.db import Store
from mallee.store.tables.network import network_generation
from mallee.store.tables.vpc import Ec2NatGateway

log = logging.getLogger(__name__)

POLL = 0.2
REFRESH = 5.0
VERIFY = 2.0
FULL = 30.0


class VpcReconciler:
    def __init__(
        self,
        store: Store,
        *,
        cloud_id: str,
        node_name: str,
        netns: str,
        public_ip: str,
        servers: VpcServers | None = None,
    ) -> None:
        self.store = store
        self.cloud_id = check_cloud_id(cloud_id)
        self.node_name = node_name
        self.netns = netns
        self.public_ip = public_ip
        # DHCP and metadata in each VPC namespace (None: plumbing and rules only, for benches).
        self.servers = servers
        self.generation = -1
        self.applied: dict[str, VpcPlan] = {}
        self._checked = self._verified = 0.0
        self._full = -FULL

    def due(self, now: float) -> bool:
        if now - self._checked >= REFRESH:
            return True
        with self.store.read() as s:
            return network_generation(s) != self.generation

    def reconcile(self, *, force: bool = False) -> bool:
        """One pass; True if anything was applied."""
        now = time.monotonic()
        if not links.exists(self.netns):
            return False  # the node agent builds it again first
        if now - self._full >= FULL:
            force, self._full = True, now
        if not force and now - self._verified >= VERIFY:
            self._verified = now
            force = any(not self._intact(p) for p in self.applied.values())
        if not force and not self.due(now):
            return False
        self._checked = now
        with self.store.read() as s:
            state = load(s, self.node_name)
        # Rebuilt from the nodes every pass: a node added or gone changes who may send.
        set_vxlan_input(self.netns, vxlan_input_rules(state.nodes, self.public_ip))
        changed = self.apply(node_plans(state, self.cloud_id), state.generation, force=force)
        self.nat_states(state)
        return changed

    def nat_states(self, state: VpcState) -> None:
        """This node's NAT gateways that came up `available`, the deleted ones `deleted`."""
        up = [
            nat.id
            for vpc in state.vpcs
            for nat in vpc.nats
            if nat.node == self.node_name
            and nat.state == "pending"
            and vpc_netns(self.cloud_id, self.node_name, vpc.vni) in self.applied
            and links.exists(nat_netns(self.cloud_id, self.node_name, nat.id))
        ]
        down = [
            nat_id
            for nat_id in state.deleting
            if not links.exists(nat_netns(self.cloud_id, self.node_name, nat_id))
        ]
        if not up and not down:
            return
        g = Ec2NatGateway
        with self.store.session() as s:
            if up:
                s.execute(
                    update(g)
                    .where(g.id.in_(up), g.state == "pending")
                    .values(state="available")
                    .execution_options(synchronize_session=False)
                )
            if down:
                s.execute(
                    update(g)
                    .where(g.id.in_(down), g.state == "deleting")
                    .values(
                        state="deleted", deleted_at=dt.datetime.now(dt.UTC).replace(microsecond=0)
                    )
                    .execution_options(synchronize_session=False)
                )
        log.info("NAT gateways available: %s; deleted: %s", ", ".join(up) or "none",
                 ", ".join(down) or "none")  # fmt: skip

    def apply(self, plans: dict[str, VpcPlan], generation: int, *, force: bool = False) -> bool:
        started = time.monotonic()
        changed = [ns for ns, p in plans.items() if force or self.applied.get(ns) != p]
        failed = {ns for ns in changed if not self._apply_one(plans[ns], force)}
        wanted_nats = {n.netns for p in plans.values() for n in p.nats}
        gone = self._stale(set(plans), wanted_nats)
        if changed or gone:
            public = {pub for p in plans.values() for pub, _ in p.public}
            public |= {n.public_ip for p in plans.values() for n in p.nats}
            set_proxies(self.netns, public)
        paths = time.monotonic() - started
        # The data path first, whole, then the servers: a metadata server takes seconds to
        # start, and guests must not wait for it to be reachable (bench/vpc_http.py).
        failed |= {ns for ns in changed if ns not in failed and not self._serve(plans[ns])}
        # A namespace that failed is left out: its next pass applies it from scratch.
        self.applied = {ns: p for ns, p in plans.items() if ns not in failed}
        self.generation = generation
        if changed or gone:
            log.info("VPC generation %d applied in %.3f s, servers after %.3f s (%d namespaces, "
                     "%d removed)", generation, time.monotonic() - started, paths, len(changed),
                     len(gone))  # fmt: skip
        return bool(changed or gone)

    def _serve(self, plan: VpcPlan) -> bool:
        """DHCP and metadata of one VPC namespace; False if they could not be started."""
        if self.servers is None:
            return True
        try:
            self.servers.ensure(plan)
        except Exception:
            log.exception("VPC %s (%s): servers failed; retried next pass", plan.vpc_id, plan.netns)
            return False
        return True

    def _apply_one(self, plan: VpcPlan, force: bool) -> bool:
        """Apply one VPC namespace's data path and NAT gateways; False if any part failed.
        One tenant's rows that the kernel refuses must not stop every other VPC on the node."""
        previous = None if force else self.applied.get(plan.netns)
        try:
            apply_vpc(plan, self.netns, self.public_ip, previous)
            if previous is None or previous.nats != plan.nats:
                for nat in plan.nats:
                    apply_nat(nat, plan.netns, self.netns)
        except Exception:
            log.exception("VPC %s (%s) failed to apply; retried next pass", plan.vpc_id, plan.netns)
            return False
        return True

    def _stale(self, vpcs: set[str], nats: set[str]) -> list[str]:
        """This cloud's VPC and NAT namespaces on the host that no plan wants, deleted (a
        VPC namespace's veths and VXLAN devices go with it)."""
        prefixes = (
            vpc_prefix(self.cloud_id, self.node_name),
            nat_prefix(self.cloud_id, self.node_name),
        )
        run_dir = Path("/run/netns")
        found = [p.name for p in run_dir.iterdir()] if run_dir.exists() else []
        gone = sorted(n for n in found if n.startswith(prefixes) and n not in vpcs | nats)
        for ns in gone:
            if self.servers is not None:
                self.servers.stop(ns)
            links.delete_netns(ns)
        return gone

    def _intact(self, plan: VpcPlan) -> bool:
        """Its namespace is there, and so are its servers."""
        if not links.exists(plan.netns):
            return False
        return self.servers is None or self.servers.alive(plan)

    def teardown(self) -> None:
        self._stale(set(), set())
        self.applied = {}

    def run(self, stop: threading.Event) -> None:
        while not stop.is_set():
            try:
                self.reconcile()
            except Exception:
                log.exception("VPC reconcile failed")
                self.applied = {}
            stop.wait(POLL)
