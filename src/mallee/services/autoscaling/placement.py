"""Where a group launches and what it is balanced by: its zones (or a VPC's subnets, which
name the zones) and its classic load balancers, each checked against the caller's rows."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from mallee.services.autoscaling import errors, rows
from mallee.services.base import Runtime
from mallee.store.tables.elb import ElbLoadBalancer
from mallee.store.tables.vpc import Ec2Subnet

TERMINATION_POLICIES = (
    "Default",
    "OldestInstance",
    "NewestInstance",
    "OldestLaunchConfiguration",
    "OldestLaunchTemplate",
    "ClosestToNextInstanceHour",
    "AllocationStrategy",
)
HEALTH_CHECK_TYPES = ("EC2", "ELB")


def subnet_zones(s: Session, account_id: str, identifier: str) -> tuple[str, list[str]]:
    """(VPCZoneIdentifier as AWS keeps it, the subnets' zones)."""
    ids = [i.strip() for i in identifier.split(",") if i.strip()]
    if not ids:
        # "," names no subnet: a group without zones would never launch.
        raise errors.validation("At least one Availability Zone or VPC Subnet is required.")
    found = {
        r.id: r.zone
        for r in s.execute(
            select(Ec2Subnet.id, Ec2Subnet.zone).where(
                Ec2Subnet.account_id == account_id, Ec2Subnet.id.in_(ids)
            )
        )
    }
    for subnet_id in ids:
        if subnet_id not in found:
            raise errors.validation(f"The subnet ID '{subnet_id}' does not exist")
    return ",".join(ids), list(dict.fromkeys(found[i] for i in ids))


def zones(
    rt: Runtime, s: Session, account_id: str, wanted: Sequence[str], identifier: str
) -> tuple[list[str], str]:
    """(zones, VPCZoneIdentifier) of a group: its subnets' zones when it names subnets."""
    if identifier:
        kept, found = subnet_zones(s, account_id, identifier)
        if wanted:
            rows.known_zones(rt, s, wanted)
        return found, kept
    if not wanted:
        raise errors.validation("At least one Availability Zone or VPC Subnet is required.")
    return rows.known_zones(rt, s, wanted), ""


def load_balancers(s: Session, account_id: str, wanted: Sequence[str]) -> list[str]:
    names = list(dict.fromkeys(wanted))
    if not names:
        return []
    found = set(
        s.scalars(
            select(ElbLoadBalancer.name).where(
                ElbLoadBalancer.account_id == account_id, ElbLoadBalancer.name.in_(names)
            )
        )
    )
    if set(names) - found:
        raise errors.validation(
            "Provided Load Balancers may not be valid. Please ensure they exist and try again."
        )
    return names


def termination_policies(wanted: Sequence[str]) -> list[str]:
    for name in wanted:
        if name not in TERMINATION_POLICIES:
            raise errors.validation(f"Termination policy {name} is not valid.")
    return list(wanted) or ["Default"]


def health_check_type(value: str) -> str:
    if value not in HEALTH_CHECK_TYPES:
        raise errors.validation(f"Health check type {value} is not valid (EC2 or ELB).")
    return value


def bounds(low: int, high: int, desired: int) -> None:
    if low > high:
        raise errors.bounds(low, high)
    if not low <= desired <= high:
        raise errors.desired_outside(desired, low, high)
