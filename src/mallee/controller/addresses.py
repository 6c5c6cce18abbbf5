"""Public addresses of instances that are gone: auto-assigned ones back to the pool, elastic
ones disassociated (still allocated to their account).

Whoever terminates an instance (the api for one never placed, the node agent, the controller
for a lost node) only moves its state; this step, run on every tick, notices the addresses
still mapped to it. It looks at the rows themselves, not at events, so a controller that
crashes mid-way or a standby that takes over finishes the job, and running it again changes
nothing.
"""

from __future__ import annotations

import logging

from sqlalchemy import Select, or_, select
from sqlalchemy.orm import Session

from mallee.store import Store
from mallee.store.tables.ec2 import Ec2Instance
from mallee.store.tables.network import Ec2Address, bump_network

log = logging.getLogger(__name__)


def _orphans() -> Select[Ec2Address]:
    """Addresses mapped to an instance that is terminated or no longer exists."""
    return (
        select(Ec2Address)
        .outerjoin(Ec2Instance, Ec2Instance.id == Ec2Address.instance_id)
        .where(
            Ec2Address.instance_id.is_not(None),
            or_(Ec2Instance.id.is_(None), Ec2Instance.state == "terminated"),
        )
    )


def reclaim(store: Store) -> int:
    """Unmap the addresses of terminated or vanished instances; returns how many."""
    with store.read() as r:
        # Most ticks find nothing: check without taking the write lock.
        if r.scalar(_orphans().limit(1)) is None:
            return 0
    with store.session() as s:
        orphans = list(s.scalars(_orphans().with_for_update(of=Ec2Address)).all())
        for address in orphans:
            _unmap(s, address)
        if orphans:
            bump_network(s)
        return len(orphans)


def _unmap(s: Session, address: Ec2Address) -> None:
    instance_id = address.instance_id
    instance = s.get(Ec2Instance, instance_id) if instance_id else None
    if instance is not None and instance.public_ip == address.public_ip:
        instance.public_ip = None
    if address.elastic:
        address.instance_id = address.association_id = None
        log.info("elastic IP %s disassociated from terminated %s", address.public_ip, instance_id)
    else:
        s.delete(address)
        log.info("public IP %s of terminated %s back to the pool", address.public_ip, instance_id)
