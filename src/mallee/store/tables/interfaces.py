"""Elastic network interfaces (see docs/architecture.md, "VPC").

Every instance has a primary interface (device index 0) made in the same transaction as its
row; its private IP and MAC are the instance's, written with them at placement. An interface
attached with DeleteOnTermination goes with its instance: it is deleted when the API
terminates it, and otherwise (a node or the controller ended it) it is treated as deleted on
read and its row goes when the terminated instance's row is purged (the foreign key cascade).

The groups of a primary interface are its instance's (`ec2_instance_groups`, what EDGE's
firewalls read), so there is one truth; `ec2_network_interface_groups` holds the groups of the
interfaces that are not an instance's primary one.
"""

from __future__ import annotations

from datetime import datetime
from typing import TypeVar

from sqlalchemy import (
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    Select,
    String,
    Text,
    select,
)
from sqlalchemy.orm import Mapped, Session, mapped_column

from mallee.store.db import Base
from mallee.store.tables.ec2 import Ec2Instance
from mallee.store.tables.vpc import Ec2NatGateway

_CASCADE = "CASCADE"


class Ec2NetworkInterface(Base):
    __tablename__ = "ec2_network_interfaces"
    __table_args__ = (
        Index("ix_ec2_enis_account", "account_id"),
        Index("ix_ec2_enis_subnet", "subnet_id"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True)  # eni-...
    account_id: Mapped[str] = mapped_column(
        String(12), ForeignKey("iam_accounts.id", ondelete=_CASCADE)
    )
    vpc_id: Mapped[str] = mapped_column(String(32))
    subnet_id: Mapped[str] = mapped_column(String(32))
    zone: Mapped[str] = mapped_column(String(64))
    # None until EDGE places the instance (a primary interface) or for an interface made by
    # CreateNetworkInterface in the default VPC before it is attached.
    private_ip: Mapped[str | None] = mapped_column(String(45), nullable=True, default=None)
    mac: Mapped[str | None] = mapped_column(String(17), nullable=True, default=None)
    description: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(16), default="available")  # available | in-use
    source_dest_check: Mapped[bool] = mapped_column(Boolean, default=True)
    interface_type: Mapped[str] = mapped_column(String(32), default="interface")
    requester_managed: Mapped[bool] = mapped_column(Boolean, default=False)
    # The attachment, when attached.
    attachment_id: Mapped[str | None] = mapped_column(String(32), nullable=True, default=None)
    instance_id: Mapped[str | None] = mapped_column(
        String(32),
        ForeignKey("ec2_instances.id", ondelete=_CASCADE),
        nullable=True,
        default=None,
        index=True,
    )
    device_index: Mapped[int | None] = mapped_column(Integer, nullable=True, default=None)
    delete_on_termination: Mapped[bool] = mapped_column(Boolean, default=False)
    attach_time: Mapped[datetime | None] = mapped_column(
        DateTime(timezone=True), nullable=True, default=None
    )
    attachment_status: Mapped[str | None] = mapped_column(String(16), nullable=True, default=None)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class Ec2NetworkInterfaceAddress(Base):
    """A secondary private IP of an interface (its primary one is on the interface)."""

    __tablename__ = "ec2_network_interface_addresses"

    interface_id: Mapped[str] = mapped_column(
        String(32), ForeignKey("ec2_network_interfaces.id", ondelete=_CASCADE), primary_key=True
    )
    private_ip: Mapped[str] = mapped_column(String(45), primary_key=True)


class Ec2NetworkInterfaceGroup(Base):
    """A security group of an interface that is not an instance's primary one."""

    __tablename__ = "ec2_network_interface_groups"

    interface_id: Mapped[str] = mapped_column(
        String(32), ForeignKey("ec2_network_interfaces.id", ondelete=_CASCADE), primary_key=True
    )
    group_id: Mapped[str] = mapped_column(
        String(32), ForeignKey("ec2_security_groups.id", ondelete=_CASCADE), primary_key=True
    )
    position: Mapped[int] = mapped_column(Integer, default=0)


_Query = TypeVar("_Query", bound=Select)  # type: ignore[type-arg]


def live_interfaces(query: _Query) -> _Query:
    """`query` over Ec2NetworkInterface narrowed to the interfaces that exist: one whose
    instance was terminated went with it (its row stays until the instance's is purged)."""
    i = Ec2NetworkInterface
    return query.outerjoin(Ec2Instance, Ec2Instance.id == i.instance_id).where(
        (Ec2Instance.id.is_(None)) | (Ec2Instance.state != "terminated")
    )


def held_addresses(s: Session) -> set[str]:
    """Private IPs that interfaces (other than instances' primary ones, which hold their
    instance's) and NAT gateways hold, so EDGE's placement gives them to no instance."""
    i = Ec2NetworkInterface
    own = s.scalars(
        select(i.private_ip).where(
            i.private_ip.is_not(None), (i.instance_id.is_(None)) | (i.device_index != 0)
        )
    ).all()
    secondary = s.scalars(select(Ec2NetworkInterfaceAddress.private_ip)).all()
    nats = s.scalars(select(Ec2NatGateway.private_ip).where(Ec2NatGateway.state != "deleted")).all()
    return {ip for ip in (*own, *secondary, *nats) if ip}
