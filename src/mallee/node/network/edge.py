"""The node's EDGE reconciler (eucanetd): desired network state in, iptables and addresses out.

It polls one number, the cloud's network generation, a few times a second; when it moves (or
every REFRESH seconds, to pick up new nodes and repair anything changed by hand) it reads the
desired state, computes all rules, and applies them whole when they differ from what it last
applied. Applying is idempotent, so after a restart the first pass converges from any state.
"""

from __future__ import annotations

import ipaddress
import logging
import threading
import time
from dataclasses import dataclass

from mallee.network_config import NetworkConfig, parse
from mallee.node.network import iptables, links, public
from mallee.node.network.desired import EdgeState, load
from mallee.node.network.rules import (
    ANTISPOOF,
    DNAT,
    FWD,
    GROUP_PREFIXES,
    INSTANCE_PORTS,
    SNAT,
    EdgeRules,
    edge_rules,
)
from mallee.services.empyrean import properties
from mallee.store.db import Store
from mallee.store.tables.network import network_generation

log = logging.getLogger(__name__)

POLL = 0.2
REFRESH = 5.0
# Re-apply even unchanged rules this often, repairing changes made behind our back.
REAPPLY = 60.0


@dataclass
class Applied:
    generation: int = -1
    rules: EdgeRules | None = None
    addresses: frozenset[str] = frozenset()
    routes: tuple[tuple[str, str], ...] = ()
    at: float = 0.0


class EdgeReconciler:
    def __init__(
        self, store: Store, *, node_name: str, netns: str, subnet: str, public_ip: str
    ) -> None:
        self.store = store
        self.node_name = node_name
        self.netns = netns
        self.subnet = str(ipaddress.ip_network(subnet, strict=False))
        self.public_ip = public_ip
        self.applied = Applied()
        self._checked = 0.0
        self._config: NetworkConfig | None = None

    def setup(self) -> None:
        """The uplink and the jumps into our chains; repeated on every full pass."""
        config = parse(properties.get_json(self.store, "cloud.network.network_configuration"))
        if ipaddress.IPv4Address(self.public_ip) not in config.public_subnet:
            raise ValueError(
                f"node public IP {self.public_ip} is outside PublicSubnet {config.public_subnet}"
            )
        gateway = str(config.public_gateway)
        public.ensure_public_network(config.public_subnet, gateway)
        public.ensure_uplink(
            self.netns, self.node_name, self.public_ip, config.public_subnet, gateway
        )
        # Bridged VM-to-VM packets must cross FORWARD, where the groups are.
        links.ns(self.netns, "sysctl", "-qw", "net.bridge.bridge-nf-call-iptables=1", check=False)
        # Only made when missing: flushing here would open (or un-NAT) everything until the
        # pass that follows refills them.
        iptables.ensure_chain(self.netns, "filter", FWD)
        for chain in (DNAT, SNAT):
            iptables.ensure_chain(self.netns, "nat", chain)
        iptables.ensure_bridge_chain(self.netns, ANTISPOOF)
        iptables.ensure_jump(self.netns, "filter", "FORWARD", FWD, [])
        iptables.ensure_jump(self.netns, "nat", "PREROUTING", DNAT, [])
        iptables.ensure_jump(self.netns, "nat", "OUTPUT", DNAT, [])
        iptables.ensure_jump(self.netns, "nat", "POSTROUTING", SNAT, [])
        for parent in ("FORWARD", "INPUT"):
            iptables.ensure_bridge_jump(self.netns, parent, ANTISPOOF, ["-i", INSTANCE_PORTS])
        self._config = config

    def due(self, now: float) -> bool:
        """True when the desired state may have changed since the last pass."""
        if now - self._checked >= REFRESH:
            return True
        with self.store.read() as s:
            return network_generation(s) != self.applied.generation

    def reconcile(self, *, force: bool = False) -> bool:
        """One pass; True if anything was applied."""
        now = time.monotonic()
        if not force and not self.due(now):
            return False
        self._checked = now
        if self._config is None or force:
            self.setup()
        with self.store.read() as s:
            state = load(s, self.node_name)
        return self.apply(state, reapply=force or now - self.applied.at >= REAPPLY)

    def apply(self, state: EdgeState, *, reapply: bool = False) -> bool:
        started = time.monotonic()
        rules = edge_rules(state, self.subnet)
        addresses = frozenset(state.nat)
        routes = tuple(sorted(state.routes.items()))
        prev = self.applied
        changed = False
        if reapply or rules != prev.rules:
            iptables.replace_chains(self.netns, "filter", rules.filter, GROUP_PREFIXES)
            iptables.replace_chains(self.netns, "nat", rules.nat)
            iptables.replace_bridge_chain(self.netns, ANTISPOOF, rules.antispoof)
            changed = True
        if reapply or addresses != prev.addresses:
            public.set_hosted_addresses(self.netns, set(addresses))
            changed = True
        if reapply or routes != prev.routes:
            public.set_routes(self.netns, dict(routes))
            changed = True
        self.applied = Applied(
            state.generation, rules, addresses, routes, started if reapply else prev.at
        )
        if changed:
            log.info(
                "network generation %d applied in %.3f s (%d instances, %d groups)",
                state.generation,
                time.monotonic() - started,
                len(state.instances),
                len(state.rules),
            )
        return changed

    def run(self, stop: threading.Event) -> None:
        while not stop.is_set():
            try:
                self.reconcile(force=self.applied.rules is None)
            except Exception:
                log.exception("network reconcile failed")
                self._config = None
            stop.wait(POLL)
