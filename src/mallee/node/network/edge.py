"""The node's EDGE reconciler (eucanetd): desired network state in, iptables and addresses out.

It polls one number, the cloud's network generation, a few times a second; when it moves (or
every REFRESH seconds, to pick up new nodes) it reads the desired state, computes all rules,
and applies them whole when they differ from what it last applied. Every VERIFY seconds it
also looks at what is really there (drift.py): a chain flushed, a route or address deleted, a
namespace rebuilt by someone else, and applies everything again. Applying is idempotent, so
after a restart the first pass converges from any state.
"""

from __future__ import annotations

import ipaddress
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from mallee.commands import in_netns, run
from mallee.network_config import NetworkConfig, parse
from mallee.node.network import drift, iptables, links, public
from mallee.node.network.desired import EdgeState, load
from mallee.node.network.rules import (
    ANTISPOOF,
    DNAT,
    FWD,
    GROUP_PREFIXES,
    INSTANCE_PORTS,
    PUBLIC_DEVICE,
    SNAT,
    EdgeRules,
    edge_rules,
)
from mallee.registry import properties
from mallee.store.db import Store
from mallee.store.tables.network import network_generation

log = logging.getLogger(__name__)

POLL = 0.2
REFRESH = 5.0
# How often what is really there is compared with what was applied (six short commands).
VERIFY = 2.0


@dataclass
class Applied:
    generation: int = -1
    rules: EdgeRules | None = None
    addresses: frozenset[str] = frozenset()
    routes: tuple[tuple[str, str], ...] = ()


class EdgeReconciler:
    def __init__(
        self,
        store: Store,
        *,
        node_name: str,
        netns: str,
        public_netns: str,
        subnet: str,
        public_ip: str,
    ) -> None:
        self.store = store
        self.node_name = node_name
        self.netns = netns
        self.public_netns = public_netns
        self.subnet = str(ipaddress.ip_network(subnet, strict=False))
        self.public_ip = public_ip
        self.applied = Applied()
        self._checked = 0.0
        self._verified = 0.0
        self._config: NetworkConfig | None = None
        # What the kernel showed right after the last change: the reference for drift.
        self._baseline: drift.Observation | None = None

    def setup(self) -> None:
        """The uplink and the jumps into our chains; repeated on every full pass."""
        config = parse(properties.get_json(self.store, "cloud.network.network_configuration"))
        if ipaddress.IPv4Address(self.public_ip) not in config.public_subnet:
            raise ValueError(
                f"node public IP {self.public_ip} is outside PublicSubnet {config.public_subnet}"
            )
        gateway = str(config.public_gateway)
        public.ensure_public_network(self.public_netns, config.public_subnet, gateway)
        public.ensure_uplink(
            self.netns,
            self.public_netns,
            self.node_name,
            self.public_ip,
            config.public_subnet,
            gateway,
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
        if not links.exists(self.netns):
            return False  # the node agent builds it again (DataPlane.heal), then we refill it
        if not force and now - self._verified >= VERIFY:
            self._verified = now
            found = self.drift()
            if found:
                log.warning("network state of %s drifted (%s): applying it again",
                            self.netns, "; ".join(found))  # fmt: skip
                force = True
        if not force and not self.due(now):
            return False
        self._checked = now
        set_up = self._config is None or force
        if set_up:
            self.setup()
        with self.store.read() as s:
            state = load(s, self.node_name)
        changed = self.apply(state, reapply=force)
        if set_up or changed:
            self._baseline = self.observe()
        return changed

    def observe(self) -> drift.Observation:
        """What is really there of what this reconciler makes (drift.py)."""
        rules = self.applied.rules
        if rules is None:
            return {}

        def shown(netns: str, *argv: str) -> str | None:
            done = run(in_netns(netns, argv), check=False)
            return done.stdout if done.returncode == 0 else None

        outputs = {
            "filter": shown(self.netns, "iptables-save", "-t", "filter"),
            "nat": shown(self.netns, "iptables-save", "-t", "nat"),
            "bridge": shown(self.netns, "ebtables", "-t", "filter", "-L"),
            "uplink": shown(self.netns, "ip", "-j", "addr", "show", "dev", PUBLIC_DEVICE),
            "routes": shown(self.netns, "ip", "-j", "-4", "route", "show", "dev", PUBLIC_DEVICE),
            "public": shown(self.public_netns, "ip", "-j", "addr", "show"),
        }
        peer = public.peer_name(self.node_name)
        parse: dict[str, Callable[[str], tuple[str, ...]]] = {
            "filter": lambda text: drift.iptables_rules(text, rules.filter),
            "nat": lambda text: drift.iptables_rules(text, rules.nat),
            "bridge": lambda text: drift.bridge_rules(text, ANTISPOOF),
            "uplink": lambda text: drift.interfaces(text, {PUBLIC_DEVICE}),
            "routes": drift.routes,
            "public": lambda text: drift.interfaces(text, {public.PUBLIC_BRIDGE, peer}),
        }
        return {
            part: drift.MISSING if text is None else parse[part](text)
            for part, text in outputs.items()
        }

    def drift(self) -> list[str]:
        """How what is there differs from what was there after the last change."""
        if self._baseline is None:
            return []
        return drift.differences(self._baseline, self.observe())

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
        self.applied = Applied(state.generation, rules, addresses, routes)
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
                self._baseline = None
            stop.wait(POLL)
