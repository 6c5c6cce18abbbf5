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
from mallee.services.ec2.vpc_rows import plan, subnet_cidr
from mallee.store.tables.ec2 import Ec2Instance
from mallee.store.tables.interfaces import (
    Ec2NetworkInterface,
    Ec2NetworkInterfaceAddress,
    held_addresses,
)
from mallee.store.tables.vpc import Ec2NatGateway, Ec2Subnet


def insufficient(subnet_id: str) -> ServiceError:
    return ServiceError(
        "InsufficientFreeAddressesInSubnet",
        f"The specified subnet {subnet_id} does not have enough free addresses to satisfy the "
        "request.",
    )


def _taken_in_subnet(s: Session, subnet: Ec2Subnet) -> set[str]:
    i = Ec2NetworkInterface
    own = s.scalars(select(i.private_ip).where(i.subnet_id == subnet.id)).all()
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
    block = cidrs.parse(subnet_cidr(subnet, plan(rt, s)))
    if block is None:
        return False
    n = int(ipaddress.IPv4Address(address))
    return int(block.network_address) + cidrs.RESERVED - 1 <= n < int(block.broadcast_address)


def taken(s: Session, subnet: Ec2Subnet) -> set[str]:
    if subnet.default_for_az:
        return _edge_taken(s, subnet.zone)
    return _taken_in_subnet(s, subnet)


def pick(rt: Runtime, s: Session, subnet: Ec2Subnet, count: int, held: set[str]) -> list[str]:
    """`count` free addresses of the subnet, lowest first, none of `held` (already taken)."""
    out: list[str] = []
    busy = held | taken(s, subnet)
    if subnet.default_for_az:
        candidates: Iterator[str] = _edge_hosts(rt, s, subnet.zone)
    else:
        block = cidrs.parse(subnet_cidr(subnet, plan(rt, s)))
        if block is None:
            raise insufficient(subnet.id)
        first = int(block.network_address) + cidrs.RESERVED - 1
        candidates = (
            str(ipaddress.IPv4Address(n)) for n in range(first, int(block.broadcast_address))
        )
    for address in candidates:
        if len(out) == count:
            break
        if address not in busy:
            out.append(address)
            busy.add(address)
    if len(out) < count:
        raise insufficient(subnet.id)
    return out
