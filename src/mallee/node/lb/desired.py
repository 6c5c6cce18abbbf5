"""What one load balancer worker must run, as plain values read from the ELB rows.

`rows.py` reads these from the database; `config.py` turns them into HAProxy's configuration.
Keeping them plain makes "rows -> configuration" a pure function the unit tests drive
without a database.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class Listener:
    lb_port: int
    protocol: str  # HTTP | HTTPS | TCP | SSL
    instance_port: int
    instance_protocol: str
    ssl_certificate_id: str = ""
    policy_names: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Policy:
    name: str
    type_name: str
    attributes: tuple[tuple[str, str], ...] = ()

    def attribute(self, name: str) -> str | None:
        return next((v for k, v in self.attributes if k == name), None)


@dataclass(frozen=True, slots=True)
class Registered:
    """A registered instance, with what its EC2 row says now."""

    instance_id: str
    state: str  # the instance's EC2 state
    private_ip: str | None
    zone: str
    # Epoch seconds: set once deregistered with connection draining on.
    drain_until: float | None = None


@dataclass(frozen=True)
class Balancer:
    id: str
    hc_target: str = "TCP:80"
    hc_interval: int = 30
    hc_timeout: int = 5
    hc_unhealthy: int = 2
    hc_healthy: int = 10
    cross_zone: bool = False
    draining_enabled: bool = False
    draining_timeout: int = 300
    idle_timeout: int = 60
    access_log: bool = False
    listeners: tuple[Listener, ...] = ()
    policies: dict[str, Policy] = field(default_factory=dict)
    # instance port -> the policy names of SetLoadBalancerPoliciesForBackendServer
    backend_policies: dict[int, tuple[str, ...]] = field(default_factory=dict)
    registered: tuple[Registered, ...] = ()


@dataclass(frozen=True, slots=True)
class Backend:
    instance_id: str
    ip: str
    draining: bool


@dataclass(frozen=True, slots=True)
class Worker:
    id: str
    lb_id: str
    zone: str
    state: str
    public_ip: str | None
    applied_generation: int


def backends(lb: Balancer, zone: str, now: float) -> tuple[Backend, ...]:
    """The back ends a worker of `zone` sends to: running instances with an address, of its
    zone unless cross-zone; a deregistered one stays, draining, until its drain ends."""
    chosen = []
    for r in sorted(lb.registered, key=lambda r: r.instance_id):
        if r.state != "running" or not r.private_ip:
            continue
        if not lb.cross_zone and r.zone != zone:
            continue
        if r.drain_until is not None and r.drain_until <= now:
            continue
        chosen.append(Backend(r.instance_id, r.private_ip, r.drain_until is not None))
    return tuple(chosen)


def next_change(lb: Balancer, now: float) -> float | None:
    """When the back ends change without any row changing: the next drain that ends."""
    ends = [r.drain_until for r in lb.registered if r.drain_until and r.drain_until > now]
    return min(ends) if ends else None


def json_names(text: str) -> tuple[str, ...]:
    return tuple(str(n) for n in json.loads(text or "[]"))


def json_pairs(text: str) -> tuple[tuple[str, str], ...]:
    return tuple((str(k), str(v)) for k, v in json.loads(text or "[]"))
