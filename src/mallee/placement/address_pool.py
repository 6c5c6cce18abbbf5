"""The public address pool: which addresses are free, and the instances' auto-assigned ones.

Shared by the api (elastic IPs) and the controller (public IPs given at placement, taken back
at termination). An address is taken while it has an Ec2Address row; the row's primary key is
the address, so two writers that pick the same free address cannot both commit: the loser
retries with the next one. Every change of which public address maps to which instance bumps
the network generation in the same transaction, so node agents rebuild their NAT rules.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import logging
from collections.abc import Collection, Sequence
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from mallee.ids import new_id
from mallee.network_config import BadNetworkConfig, parse
from mallee.registry import properties
from mallee.store import Store
from mallee.store.tables.ec2 import Ec2Instance
from mallee.store.tables.network import Ec2Address, bump_network

log = logging.getLogger(__name__)

# Concurrent writers that lose a race for an address try again this many times.
TAKE_ATTEMPTS = 8


def next_free(pool: Sequence[str], taken: Collection[str]) -> str | None:
    """The first address of the pool, in the plan's order, that nobody holds."""
    return next((ip for ip in pool if ip not in taken), None)


@functools.lru_cache(maxsize=8)
def _pool_of(text: str) -> tuple[str, ...]:
    try:
        return tuple(parse(text).pool())
    except BadNetworkConfig as err:
        # A broken plan must not stop launches: instances start without public addresses.
        log.warning("cloud.network.network_configuration is unusable: %s", err)
        return ()


def pool(store: Store) -> tuple[str, ...]:
    """The public IPs of the address plan (`cloud.network.network_configuration`)."""
    raw = properties.get_json(store, "cloud.network.network_configuration")
    return _pool_of(json.dumps(raw, sort_keys=True))


def dynamic_enabled(store: Store) -> bool:
    return properties.get_bool(store, "cloud.addresses.dodynamicpublicaddresses")


def taken(s: Session) -> set[str]:
    return set(s.scalars(select(Ec2Address.public_ip)).all())


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(microsecond=0)


def address_values(
    ip: str, *, account_id: str, elastic: bool, instance_id: str | None
) -> dict[str, Any]:
    """An address row's columns: allocated to the account, associated with the instance."""
    return {
        "public_ip": ip,
        "allocation_id": new_id("eipalloc"),
        "account_id": account_id,
        "elastic": elastic,
        "instance_id": instance_id,
        "association_id": new_id("eipassoc") if instance_id else None,
        "allocated_at": now(),
    }


def take(
    s: Session,
    pool_ips: Sequence[str],
    *,
    account_id: str,
    elastic: bool,
    instance_id: str | None = None,
    held: set[str] | None = None,
) -> Ec2Address | None:
    """Insert an address row for the lowest free pool address; None when the pool is empty.

    Each attempt runs in a savepoint, so losing a race to a concurrent writer (the same
    address committed first) leaves the caller's transaction usable for the next attempt.
    `held` is the set of taken addresses when the caller already read it (and gives many
    addresses in one transaction); it is kept up to date.
    """
    held = taken(s) if held is None else held
    for _ in range(TAKE_ATTEMPTS):
        ip = next_free(pool_ips, held)
        if ip is None:
            return None
        address = Ec2Address(
            **address_values(ip, account_id=account_id, elastic=elastic, instance_id=instance_id)
        )
        try:
            with s.begin_nested():
                s.add(address)
        except IntegrityError:
            # Someone committed addresses since `held` was read: read them again.
            held |= taken(s) | {ip}
            continue
        held.add(ip)
        return address
    return None


def give_dynamic(
    s: Session, instance: Ec2Instance, pool_ips: Sequence[str], held: set[str] | None = None
) -> str | None:
    """Give an instance without a public address one from the pool (EDGE public IPs).

    The caller bumps the network generation (once for many instances)."""
    if instance.public_ip:
        return instance.public_ip
    address = take(
        s,
        pool_ips,
        account_id=instance.account_id,
        elastic=False,
        instance_id=instance.id,
        held=held,
    )
    if address is None:
        log.warning("public address pool is empty: %s gets no public IP", instance.id)
        return None
    instance.public_ip = address.public_ip
    log.info("public IP %s given to %s", address.public_ip, instance.id)
    return address.public_ip


def drop_dynamic(s: Session, instance_id: str) -> None:
    """Return an instance's auto-assigned address to the pool (its elastic ones stay)."""
    s.execute(
        delete(Ec2Address).where(
            Ec2Address.instance_id == instance_id, Ec2Address.elastic.is_(False)
        )
    )
    bump_network(s)
