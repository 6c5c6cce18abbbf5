"""Where a load balancer lives: the zones of EDGE, or subnets (with security groups) of a VPC.

A load balancer made with AvailabilityZones is EC2-Classic style, as Eucalyptus' EDGE load
balancers were: no VPC, no security groups of its own. One made with Subnets records the
subnets' VPC and zones and takes security groups of that VPC.

In a user VPC it has, per subnet, a requester-managed interface (interfaces.py) with an
address of the subnet and its groups; its worker of that zone is plugged into the subnet with
that interface (node/lb/vpc.py), so the instances' groups judge its packets by the interface's
address and groups, and its own groups' ingress rules guard its listeners on the public side,
where it keeps its public address for clients. It takes only instances of its VPC (and an
EDGE load balancer only EDGE's). Subnets of the default VPC are EDGE's: no interface, the
workers reach the instances from their public address.

The `internal` scheme is refused (InvalidConfigurationRequest): an internal worker would have
no public address and its DNS name would answer with the interfaces' addresses, neither of
which this cloud's workers and DNS do yet.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from mallee.services.elb import errors
from mallee.store.tables.network import Ec2SecurityGroup
from mallee.store.tables.vpc import Ec2Subnet, Ec2Vpc


def subnets(s: Session, account_id: str, ids: Sequence[str]) -> list[Ec2Subnet]:
    """The caller's subnets `ids` names: all in one VPC, at most one per zone."""
    wanted = list(dict.fromkeys(str(i) for i in ids))
    rows = {
        r.id: r
        for r in s.scalars(
            select(Ec2Subnet).where(Ec2Subnet.account_id == account_id, Ec2Subnet.id.in_(wanted))
        )
    }
    missing = [i for i in wanted if i not in rows]
    if missing:
        raise errors.subnet_not_found(f"The specified subnet does not exist: {missing[0]}")
    found = [rows[i] for i in wanted]
    if len({r.vpc_id for r in found}) > 1:
        raise errors.invalid_configuration("The subnets must all be in the same VPC")
    zones = [r.zone for r in found]
    if len(set(zones)) != len(zones):
        raise errors.invalid_subnet("Only one subnet per Availability Zone may be attached")
    return found


def group_vpc_key(s: Session, vpc_id: str) -> str:
    """How security groups name a VPC: "" for the default VPC's (EDGE's groups), else its id."""
    vpc = s.get(Ec2Vpc, vpc_id)
    return "" if vpc is None or vpc.is_default else vpc.id


def security_groups(s: Session, account_id: str, vpc_id: str, ids: Sequence[str]) -> list[str]:
    """The caller's security groups `ids` names, all of the load balancer's VPC; with none
    given, the VPC's default group (as AWS gives a load balancer in a VPC)."""
    key = group_vpc_key(s, vpc_id)
    wanted = list(dict.fromkeys(str(i) for i in ids))
    stmt = select(Ec2SecurityGroup).where(
        Ec2SecurityGroup.account_id == account_id, Ec2SecurityGroup.vpc_id == key
    )
    if not wanted:
        default = s.scalars(stmt.where(Ec2SecurityGroup.name == "default")).first()
        return [default.id] if default is not None else []
    found = {g.id for g in s.scalars(stmt.where(Ec2SecurityGroup.id.in_(wanted)))}
    if any(i not in found for i in wanted):
        raise errors.invalid_security_group(
            "One or more of the specified security groups do not exist."
        )
    return wanted


def owners_and_names(s: Session, group_ids: Sequence[str]) -> dict[str, tuple[str, str]]:
    """Security group id -> (owner account, name), for the groups that exist."""
    if not group_ids:
        return {}
    found = s.execute(
        select(Ec2SecurityGroup.id, Ec2SecurityGroup.account_id, Ec2SecurityGroup.name).where(
            Ec2SecurityGroup.id.in_(list(group_ids))
        )
    ).all()
    return {row[0]: (row[1], row[2]) for row in found}
