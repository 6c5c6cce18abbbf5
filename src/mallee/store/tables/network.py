"""EDGE networking: security groups and their rules, group membership, public addresses.

These rows are the cloud's desired network state. Every change to them also bumps the
`network` row of NetworkGeneration in the same transaction; node agents poll that one number
and rebuild their rules when it moves, which is what makes a rule take effect within a second
without each node re-reading every table every few hundred milliseconds.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    update,
)
from sqlalchemy.orm import Mapped, Session, mapped_column

from mallee.store.db import Base

_ACCOUNT = "iam_accounts.id"


class NetworkGeneration(Base):
    """Counters that move with every change to a desired state the nodes poll: `network`
    (EDGE and VPC data paths), `elb` (load balancer workers)."""

    __tablename__ = "network_generation"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    value: Mapped[int] = mapped_column(BigInteger, default=0)


def bump_generation(s: Session, name: str) -> None:
    """Mark the desired state `name` changed (call inside the writing transaction)."""
    done = s.execute(
        update(NetworkGeneration)
        .where(NetworkGeneration.name == name)
        .values(value=NetworkGeneration.value + 1)
    )
    if done.rowcount == 0:  # type: ignore[attr-defined]
        s.add(NetworkGeneration(name=name, value=1))


def generation(s: Session, name: str) -> int:
    row = s.get(NetworkGeneration, name)
    return row.value if row else 0


def bump_network(s: Session) -> None:
    bump_generation(s, "network")


def network_generation(s: Session) -> int:
    return generation(s, "network")


class Ec2SecurityGroup(Base):
    __tablename__ = "ec2_security_groups"
    # Names are unique per VPC.
    __table_args__ = (
        UniqueConstraint("account_id", "vpc_id", "name", name="uq_ec2_sg_account_vpc_name"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True)  # sg-xxxxxxxxxxxxxxxxx
    account_id: Mapped[str] = mapped_column(String(12), ForeignKey(_ACCOUNT, ondelete="CASCADE"))
    # "" for EDGE's groups, which are the account's default VPC's (shown with its id); a user
    # VPC's id for that VPC's groups.
    vpc_id: Mapped[str] = mapped_column(String(32), default="")
    name: Mapped[str] = mapped_column(String(255))
    description: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class Ec2SecurityGroupRule(Base):
    """One permission: a protocol and port range from (ingress) or to (egress) one peer.

    The peer is a CIDR or a security group (possibly another account's). Ports follow EC2:
    tcp/udp from_port..to_port; icmp from_port = type, to_port = code (-1 = any); protocol
    "-1" (all) has neither.
    """

    __tablename__ = "ec2_security_group_rules"
    __table_args__ = (Index("ix_ec2_sg_rules_group", "group_id"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)  # sgr-xxxxxxxxxxxxxxxxx
    group_id: Mapped[str] = mapped_column(
        String(32), ForeignKey("ec2_security_groups.id", ondelete="CASCADE")
    )
    egress: Mapped[bool] = mapped_column(default=False)
    protocol: Mapped[str] = mapped_column(String(8))  # "tcp", "udp", "icmp", "-1", or a number
    from_port: Mapped[int | None] = mapped_column(Integer, nullable=True, default=None)
    to_port: Mapped[int | None] = mapped_column(Integer, nullable=True, default=None)
    cidr: Mapped[str | None] = mapped_column(String(64), nullable=True, default=None)
    peer_group_id: Mapped[str | None] = mapped_column(String(32), nullable=True, default=None)
    peer_account_id: Mapped[str | None] = mapped_column(String(12), nullable=True, default=None)
    description: Mapped[str] = mapped_column(Text, default="")


class Ec2InstanceGroup(Base):
    """Instance membership in a security group (an instance has one or more)."""

    __tablename__ = "ec2_instance_groups"
    __table_args__ = (Index("ix_ec2_instance_groups_group", "group_id"),)

    instance_id: Mapped[str] = mapped_column(
        String(32), ForeignKey("ec2_instances.id", ondelete="CASCADE"), primary_key=True
    )
    group_id: Mapped[str] = mapped_column(
        String(32), ForeignKey("ec2_security_groups.id"), primary_key=True
    )
    position: Mapped[int] = mapped_column(Integer, default=0)


class Ec2Address(Base):
    """A public address of the cloud's pool, allocated to an account (elastic) or to an
    instance at launch (auto-assigned, released with it), and mapped 1:1 to a private IP."""

    __tablename__ = "ec2_addresses"

    public_ip: Mapped[str] = mapped_column(String(45), primary_key=True)
    allocation_id: Mapped[str] = mapped_column(String(32), unique=True)  # eipalloc-...
    account_id: Mapped[str] = mapped_column(String(12), ForeignKey(_ACCOUNT, ondelete="CASCADE"))
    # True: AllocateAddress (kept until ReleaseAddress); False: given with an instance.
    elastic: Mapped[bool] = mapped_column(default=True)
    instance_id: Mapped[str | None] = mapped_column(String(32), nullable=True, default=None)
    association_id: Mapped[str | None] = mapped_column(String(32), nullable=True, default=None)
    domain: Mapped[str] = mapped_column(String(8), default="standard")  # standard | vpc
    # The interface and private IP it is associated with (VPC style); the primary interface's
    # when associated by InstanceId.
    network_interface_id: Mapped[str | None] = mapped_column(
        String(32), nullable=True, default=None
    )
    private_ip: Mapped[str | None] = mapped_column(String(45), nullable=True, default=None)
    allocated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
