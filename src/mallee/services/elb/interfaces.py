"""A load balancer's requester-managed network interfaces, one per subnet of a user VPC.

As AWS's: description "ELB <name>", the load balancer's security groups, an address from the
subnet, RequesterManaged (the owner sees it in DescribeNetworkInterfaces and cannot delete
it). Its worker of the subnet's zone speaks from that address inside the VPC, so the
instances' groups judge it by that address and those groups. They are made and deleted in the
transaction that changes the load balancer's subnets or groups, which bumps the network
generation the VPC data path follows. Subnets of the default VPC have none: their data path is
EDGE's, where the workers reach instances from their public address.
"""

from __future__ import annotations

import ipaddress
import secrets
from collections.abc import Sequence

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from mallee.identity.clock import now
from mallee.ids import new_id
from mallee.services.elb import errors
from mallee.store.tables.ec2 import Ec2Instance
from mallee.store.tables.elb import ElbInterface, ElbLoadBalancer
from mallee.store.tables.interfaces import (
    Ec2NetworkInterface,
    Ec2NetworkInterfaceAddress,
    Ec2NetworkInterfaceGroup,
    live_interfaces,
)
from mallee.store.tables.network import bump_network
from mallee.store.tables.vpc import Ec2NatGateway, Ec2Subnet, Ec2Vpc

# AWS keeps a subnet's first four addresses and its last.
_RESERVED_LOW = 4


def description(lb_name: str) -> str:
    return f"ELB {lb_name}"


def free_address(cidr: str, taken: set[str]) -> str | None:
    """The subnet's first address neither reserved nor taken."""
    block = ipaddress.IPv4Network(cidr)
    first = int(block.network_address) + _RESERVED_LOW
    for n in range(first, int(block.broadcast_address)):
        ip = str(ipaddress.IPv4Address(n))
        if ip not in taken:
            return ip
    return None


def _taken(s: Session, subnet_id: str) -> set[str]:
    # Concurrent picks in one subnet (RunInstances' too) take turns on PostgreSQL.
    s.execute(select(Ec2Subnet.id).where(Ec2Subnet.id == subnet_id).with_for_update())
    i = Ec2NetworkInterface
    own = s.scalars(live_interfaces(select(i.private_ip)).where(i.subnet_id == subnet_id)).all()
    secondary = s.scalars(
        select(Ec2NetworkInterfaceAddress.private_ip)
        .join(i, i.id == Ec2NetworkInterfaceAddress.interface_id)
        .where(i.subnet_id == subnet_id)
    ).all()
    nats = s.scalars(
        select(Ec2NatGateway.private_ip).where(
            Ec2NatGateway.subnet_id == subnet_id, Ec2NatGateway.state != "deleted"
        )
    ).all()
    instances = s.scalars(
        select(Ec2Instance.private_ip).where(
            Ec2Instance.subnet_id == subnet_id,
            Ec2Instance.state != "terminated",
            Ec2Instance.private_ip.is_not(None),
        )
    ).all()
    return {ip for ip in (*own, *secondary, *nats, *instances) if ip}


def _mac() -> str:
    # Locally administered unicast, in a range no other interface of the cloud is given.
    return "02:e1:" + ":".join(f"{b:02x}" for b in secrets.token_bytes(4))


def in_user_vpc(s: Session, vpc_id: str | None) -> bool:
    if not vpc_id:
        return False
    vpc = s.get(Ec2Vpc, vpc_id)
    return vpc is not None and not vpc.is_default and vpc.vni is not None


def sync(s: Session, lb: ElbLoadBalancer, subnets: Sequence[Ec2Subnet], groups: list[str]) -> None:
    """The load balancer's interfaces made to be one per subnet of `subnets`, each with
    `groups`: new subnets get one, detached subnets' go."""
    have = {
        r.subnet_id: r for r in s.scalars(select(ElbInterface).where(ElbInterface.lb_id == lb.id))
    }
    wanted = {r.id: r for r in subnets} if in_user_vpc(s, lb.vpc_id) else {}
    for subnet_id in sorted(set(have) - set(wanted)):
        _drop(s, have.pop(subnet_id))
    for subnet_id, subnet in sorted(wanted.items()):
        if subnet_id not in have:
            have[subnet_id] = _make(s, lb, subnet)
    for row in have.values():
        s.execute(
            delete(Ec2NetworkInterfaceGroup).where(
                Ec2NetworkInterfaceGroup.interface_id == row.interface_id
            )
        )
        s.add_all(
            Ec2NetworkInterfaceGroup(interface_id=row.interface_id, group_id=g, position=k)
            for k, g in enumerate(groups)
        )
    bump_network(s)


def _make(s: Session, lb: ElbLoadBalancer, subnet: Ec2Subnet) -> ElbInterface:
    ip = free_address(subnet.cidr, _taken(s, subnet.id))
    if ip is None:
        raise errors.invalid_configuration(
            f"Not enough IP space available in {subnet.id}. ELB requires at least 8 free IP "
            "addresses in each subnet."
        )
    eni_id = new_id("eni")
    s.add(
        Ec2NetworkInterface(
            id=eni_id,
            account_id=lb.account_id,
            vpc_id=subnet.vpc_id,
            subnet_id=subnet.id,
            zone=subnet.zone,
            private_ip=ip,
            mac=_mac(),
            description=description(lb.name),
            status="in-use",
            requester_managed=True,
            created_at=now(),
        )
    )
    s.flush()
    row = ElbInterface(lb_id=lb.id, subnet_id=subnet.id, zone=subnet.zone, interface_id=eni_id)
    s.add(row)
    s.flush()
    return row


def _drop(s: Session, row: ElbInterface) -> None:
    eni = row.interface_id
    s.delete(row)
    s.execute(delete(Ec2NetworkInterfaceGroup).where(Ec2NetworkInterfaceGroup.interface_id == eni))
    s.execute(delete(Ec2NetworkInterface).where(Ec2NetworkInterface.id == eni))


def drop_all(s: Session, lb_id: str) -> None:
    """Every interface of a load balancer being deleted."""
    found = list(s.scalars(select(ElbInterface).where(ElbInterface.lb_id == lb_id)))
    for row in found:
        _drop(s, row)
    if found:
        bump_network(s)
