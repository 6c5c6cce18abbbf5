"""Private addresses of network interfaces a user makes: the subnet's first free one.

In a user VPC's subnet that is the subnet's block less AWS's reserved addresses and what
interfaces and NAT gateways hold. In a default subnet (EDGE) it is the zone's node subnets
less each one's gateway and what instances, interfaces and NAT gateways hold; placement skips
those (store.tables.interfaces.held_addresses), so no instance is given one of them.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator

from sqlalchemy import select
from sqlalchemy.orm import Session

from mallee.api.errors import ServiceError
from mallee.services.base import Runtime
from mallee.services.ec2 import cidrs
from mallee.services.ec2.vpc_rows import plan
from mallee.store.tables.ec2 import Ec2Instance
from mallee.store.tables.interfaces import (
    Ec2NetworkInterface,
    Ec2NetworkInterfaceAddress,
    held_addresses,
    live_interfaces,
)
from mallee.store.tables.vpc import Ec2NatGateway, Ec2Subnet


def insufficient(subnet_id: str) -> ServiceError:
    return ServiceError(
        "InsufficientFreeAddressesInSubnet",
        f"The specified subnet {subnet_id} does not have enough free addresses to satisfy the "
        "request.",
    )


def _taken_in_subnet(s: Session, subnet: Ec2Subnet) -> set[str]:
    """What the subnet's interfaces (an instance's primary one among them), their secondary
    addresses and NAT gateways hold (an interface that went with its terminated instance holds
    none)."""
    # Concurrent picks in one subnet take turns (PostgreSQL; SQLite has one writer anyway).
    s.execute(select(Ec2Subnet.id).where(Ec2Subnet.id == subnet.id).with_for_update())
    i = Ec2NetworkInterface
    own = s.scalars(live_interfaces(select(i.private_ip)).where(i.subnet_id == subnet.id)).all()
    secondary = s.scalars(
        select(Ec2NetworkInterfaceAddress.private_ip)
        .join(i, i.id == Ec2NetworkInterfaceAddress.interface_id)
        .where(i.subnet_id == subnet.id)
    ).all()
    nats = s.scalars(
        select(Ec2NatGateway.private_ip).where(
            Ec2NatGateway.subnet_id == subnet.id, Ec2NatGateway.state != "deleted"
        )
    ).all()
    return {ip for ip in (*own, *secondary, *nats) if ip}


def _edge_taken(s: Session, zone: str) -> set[str]:
    live = s.scalars(
        select(Ec2Instance.private_ip).where(
            Ec2Instance.availability_zone == zone,
            Ec2Instance.state != "terminated",
            Ec2Instance.private_ip.is_not(None),
        )
    ).all()
    return {ip for ip in live if ip} | held_addresses(s)


def _edge_hosts(rt: Runtime, s: Session, zone: str) -> Iterator[str]:
    p = plan(rt, s)
    for block in sorted(p.zone_subnets.get(zone) or [p.fallback]):
        hosts = block.hosts()
        next(hosts, None)  # the node's gateway
        yield from map(str, hosts)


def usable(rt: Runtime, s: Session, subnet: Ec2Subnet, address: str) -> bool:
    """Whether `address` lies where the subnet's interfaces take addresses."""
    if subnet.default_for_az:
        return address in set(_edge_hosts(rt, s, subnet.zone))
    return in_user_subnet(subnet, address)


def in_user_subnet(subnet: Ec2Subnet, address: str) -> bool:
    """Whether `address` is one of a user subnet's usable addresses (not AWS's reserved)."""
    block = cidrs.parse(subnet.cidr)
    try:
        n = int(ipaddress.IPv4Address(address))
    except ValueError:
        return False
    if block is None:
        return False
    return int(block.network_address) + cidrs.RESERVED - 1 <= n < int(block.broadcast_address)


def _user_hosts(subnet: Ec2Subnet) -> Iterator[str]:
    block = cidrs.parse(subnet.cidr)
    if block is None:
        raise insufficient(subnet.id)
    first = int(block.network_address) + cidrs.RESERVED - 1
    return (str(ipaddress.IPv4Address(n)) for n in range(first, int(block.broadcast_address)))


def taken(s: Session, subnet: Ec2Subnet) -> set[str]:
    if subnet.default_for_az:
        return _edge_taken(s, subnet.zone)
    return _taken_in_subnet(s, subnet)


def pick(rt: Runtime, s: Session, subnet: Ec2Subnet, count: int, held: set[str]) -> list[str]:
    """`count` free addresses of the subnet, lowest first, none of `held` (already taken)."""
    edge = subnet.default_for_az
    candidates = _edge_hosts(rt, s, subnet.zone) if edge else _user_hosts(subnet)
    out = _first_free(candidates, held | taken(s, subnet), count)
    if len(out) < count:
        raise insufficient(subnet.id)
    return out


def pick_for_launch(s: Session, subnet: Ec2Subnet, low: int, high: int) -> list[str]:
    """Addresses for instances launched into a user subnet: `high` of them if the subnet has
    them free, else as many as it has but at least `low`."""
    out = _first_free(_user_hosts(subnet), taken(s, subnet), high)
    if len(out) < low:
        raise insufficient(subnet.id)
    return out


def _first_free(candidates: Iterator[str], busy: set[str], count: int) -> list[str]:
    out: list[str] = []
    for address in candidates:
        if len(out) == count:
            break
        if address not in busy:
            out.append(address)
    return out
