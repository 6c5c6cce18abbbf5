"""What the cloud's DNS answers, read from the rows: instances' private and public names
(mallee.dns_names) and load balancers' names.

A pure value (`Records`) built in one read, so the server answers from memory and a test can
build one without a database.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from mallee.dns_names import DnsDomains
from mallee.store.tables.ec2 import Ec2Instance
from mallee.store.tables.elb import ElbLoadBalancer, ElbWorker, elb_generation
from mallee.store.tables.network import network_generation
from mallee.store.tables.vpc import user_vpcs

# An instance has its addresses (and so its names) in these states.
NAMED_STATES = ("pending", "running", "stopping", "shutting-down")


@dataclass(frozen=True)
class Records:
    # The zones the cloud answers for: a name under one that is not in `addresses` does not
    # exist (NXDOMAIN); a name under none is asked of the host's resolver.
    zones: tuple[str, ...]
    # Lower-case name, no trailing dot -> its IPv4 addresses.
    addresses: dict[str, tuple[str, ...]] = field(default_factory=dict)

    def in_zone(self, name: str) -> bool:
        return any(name == z or name.endswith("." + z) for z in self.zones)

    def lookup(self, name: str) -> tuple[str, ...]:
        return self.addresses.get(name.lower().rstrip("."), ())


def generation(s: Session) -> tuple[object, ...]:
    """What moves when any record may have changed: the network and ELB generations, and the
    running workers (a node starting one moves no generation)."""
    running = s.execute(
        select(ElbWorker.id, ElbWorker.public_ip)
        .where(ElbWorker.state == "running")
        .order_by(ElbWorker.id)
    ).all()
    return network_generation(s), elb_generation(s), tuple(tuple(r) for r in running)


def build(
    names: DnsDomains,
    elb_domain: str,
    instances: Iterable[tuple[str | None, str | None, bool]],
    balancers: Iterable[tuple[str, str | None]],
) -> Records:
    """`instances`: (private IP, public IP, in a user VPC?) of each named instance;
    `balancers`: (DNS name, worker public IP) of each running worker."""
    found: dict[str, list[str]] = {}
    for private, public, in_vpc in instances:
        # A user VPC's addresses overlap other VPCs': its private names are its own VPC's
        # business (not served here), its public ones are the cloud's.
        if private and not in_vpc:
            found.setdefault(names.private_name(private), []).append(private)
        if public:
            found.setdefault(names.public_name(public), []).append(public)
    for dns_name, ip in balancers:
        if ip:
            found.setdefault(dns_name.lower(), []).append(ip)
    return Records(
        zones=(names.internal, names.public, elb_domain),
        addresses={k: tuple(sorted(set(v))) for k, v in found.items()},
    )


def load(s: Session, names: DnsDomains, elb_domain: str) -> Records:
    vpcs = set(s.scalars(user_vpcs()).all())
    instances = [
        (private, public, vpc in vpcs)
        for private, public, vpc in s.execute(
            select(Ec2Instance.private_ip, Ec2Instance.public_ip, Ec2Instance.vpc_id).where(
                Ec2Instance.state.in_(NAMED_STATES)
            )
        ).all()
    ]
    balancers = s.execute(
        select(ElbLoadBalancer.dns_name, ElbWorker.public_ip)
        .join(ElbWorker, ElbWorker.lb_id == ElbLoadBalancer.id)
        .where(ElbWorker.state == "running")
    ).all()
    return build(names, elb_domain, instances, [(str(n), ip) for n, ip in balancers])
