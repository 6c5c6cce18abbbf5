"""VPC control plane: VPCs, subnets, gateways, route tables, network ACLs, DHCP options and
NAT gateways (see docs/architecture.md, "VPC").

These rows are desired network state like EDGE's (store.tables.network): every change a data
path reads (anything but tags and names) bumps the network generation in the same transaction.
Rows of an account's default VPC are marked (`is_default` on the VPC, the subnets' and gateways'
VPC) and their data path stays EDGE's: the node subnets. CIDRs are stored as text in their
canonical form (ipaddress's str), so equal blocks compare equal in SQL.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    Select,
    String,
    Text,
    UniqueConstraint,
    select,
)
from sqlalchemy.orm import Mapped, Session, mapped_column

from mallee.store.db import Base

_ACCOUNT = "iam_accounts.id"
_CASCADE = "CASCADE"


class Ec2AccountVpc(Base):
    """Per account: its default VPC (None once the user deleted it) and its default DHCP
    options. The row's existence says the default VPC was made once, so it is never made
    again behind the user's back; its primary key makes that creation race-safe."""

    __tablename__ = "ec2_account_vpc"

    account_id: Mapped[str] = mapped_column(
        String(12), ForeignKey(_ACCOUNT, ondelete=_CASCADE), primary_key=True
    )
    default_vpc_id: Mapped[str | None] = mapped_column(String(32), nullable=True, default=None)
    default_dhcp_options_id: Mapped[str] = mapped_column(String(32))
    # Zones the default VPC was given a default subnet in: a zone that appears later gets one
    # on first need, one the user deleted its default subnet in does not get another.
    # Sorted and comma-separated, so a conditional UPDATE can compare it on every database.
    default_subnet_zones: Mapped[str] = mapped_column(Text, default="")


class Ec2Vpc(Base):
    __tablename__ = "ec2_vpcs"
    __table_args__ = (Index("ix_ec2_vpcs_account", "account_id"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)  # vpc-...
    account_id: Mapped[str] = mapped_column(String(12), ForeignKey(_ACCOUNT, ondelete=_CASCADE))
    # The default VPC's is the network configuration's PrivateNetwork, read again on use.
    cidr: Mapped[str] = mapped_column(String(64))
    is_default: Mapped[bool] = mapped_column(Boolean, default=False)
    state: Mapped[str] = mapped_column(String(16), default="available")  # pending | available
    dhcp_options_id: Mapped[str] = mapped_column(String(32))  # "default" = none
    enable_dns_support: Mapped[bool] = mapped_column(Boolean, default=True)
    enable_dns_hostnames: Mapped[bool] = mapped_column(Boolean, default=False)
    instance_tenancy: Mapped[str] = mapped_column(String(16), default="default")
    # The VXLAN network identifier of the VPC's data path, unique in the cloud (None for the
    # default VPC, whose data path is EDGE's).
    vni: Mapped[int | None] = mapped_column(Integer, nullable=True, unique=True, default=None)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class Ec2Subnet(Base):
    __tablename__ = "ec2_subnets"
    __table_args__ = (Index("ix_ec2_subnets_vpc", "vpc_id"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)  # subnet-...
    vpc_id: Mapped[str] = mapped_column(String(32), ForeignKey("ec2_vpcs.id", ondelete=_CASCADE))
    account_id: Mapped[str] = mapped_column(String(12), ForeignKey(_ACCOUNT, ondelete=_CASCADE))
    zone: Mapped[str] = mapped_column(String(64))
    # "" for a default subnet: its block is computed from the zone's node subnets on read.
    cidr: Mapped[str] = mapped_column(String(64))
    default_for_az: Mapped[bool] = mapped_column(Boolean, default=False)
    map_public_ip_on_launch: Mapped[bool] = mapped_column(Boolean, default=False)
    state: Mapped[str] = mapped_column(String(16), default="available")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class Ec2InternetGateway(Base):
    __tablename__ = "ec2_internet_gateways"
    __table_args__ = (Index("ix_ec2_igws_account", "account_id"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)  # igw-...
    account_id: Mapped[str] = mapped_column(String(12), ForeignKey(_ACCOUNT, ondelete=_CASCADE))
    # The attachment: a VPC has at most one gateway (unique), a gateway one VPC.
    vpc_id: Mapped[str | None] = mapped_column(String(32), nullable=True, unique=True, default=None)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class Ec2RouteTable(Base):
    __tablename__ = "ec2_route_tables"
    __table_args__ = (Index("ix_ec2_rtbs_vpc", "vpc_id"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)  # rtb-...
    vpc_id: Mapped[str] = mapped_column(String(32), ForeignKey("ec2_vpcs.id", ondelete=_CASCADE))
    account_id: Mapped[str] = mapped_column(String(12), ForeignKey(_ACCOUNT, ondelete=_CASCADE))
    is_main: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class Ec2Route(Base):
    """One route of a table. The `local` route's destination is its VPC's CIDR."""

    __tablename__ = "ec2_routes"
    __table_args__ = (UniqueConstraint("table_id", "destination", name="uq_ec2_routes_dest"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    table_id: Mapped[str] = mapped_column(
        String(32), ForeignKey("ec2_route_tables.id", ondelete=_CASCADE)
    )
    destination: Mapped[str] = mapped_column(String(64))
    # gateway | nat-gateway | instance | network-interface | local
    target_kind: Mapped[str] = mapped_column(String(24))
    target_id: Mapped[str] = mapped_column(String(32))  # "local" for the local route
    origin: Mapped[str] = mapped_column(String(24))  # CreateRouteTable | CreateRoute
    state: Mapped[str] = mapped_column(String(16), default="active")  # active | blackhole


class Ec2RouteTableAssociation(Base):
    """A subnet's table (subnet_id set, unique) or the VPC's main table (main = True, one per
    table that is main)."""

    __tablename__ = "ec2_route_table_associations"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)  # rtbassoc-...
    table_id: Mapped[str] = mapped_column(
        String(32), ForeignKey("ec2_route_tables.id", ondelete=_CASCADE), index=True
    )
    subnet_id: Mapped[str | None] = mapped_column(
        String(32), ForeignKey("ec2_subnets.id", ondelete=_CASCADE), nullable=True, unique=True
    )
    main: Mapped[bool] = mapped_column(Boolean, default=False)


class Ec2NetworkAcl(Base):
    __tablename__ = "ec2_network_acls"
    __table_args__ = (Index("ix_ec2_acls_vpc", "vpc_id"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)  # acl-...
    vpc_id: Mapped[str] = mapped_column(String(32), ForeignKey("ec2_vpcs.id", ondelete=_CASCADE))
    account_id: Mapped[str] = mapped_column(String(12), ForeignKey(_ACCOUNT, ondelete=_CASCADE))
    is_default: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class Ec2NetworkAclEntry(Base):
    """One ordered, stateless rule. Ports are set for tcp (6) and udp (17) only, icmp type and
    code for icmp (1); protocol "-1" is all. Rule 32767 is the final deny every ACL has."""

    __tablename__ = "ec2_network_acl_entries"

    acl_id: Mapped[str] = mapped_column(
        String(32), ForeignKey("ec2_network_acls.id", ondelete=_CASCADE), primary_key=True
    )
    egress: Mapped[bool] = mapped_column(Boolean, primary_key=True)
    rule_number: Mapped[int] = mapped_column(Integer, primary_key=True)
    protocol: Mapped[str] = mapped_column(String(8))  # "-1" or an IP protocol number
    rule_action: Mapped[str] = mapped_column(String(8))  # allow | deny
    cidr: Mapped[str] = mapped_column(String(64))
    port_from: Mapped[int | None] = mapped_column(Integer, nullable=True, default=None)
    port_to: Mapped[int | None] = mapped_column(Integer, nullable=True, default=None)
    icmp_type: Mapped[int | None] = mapped_column(Integer, nullable=True, default=None)
    icmp_code: Mapped[int | None] = mapped_column(Integer, nullable=True, default=None)


class Ec2NetworkAclAssociation(Base):
    __tablename__ = "ec2_network_acl_associations"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)  # aclassoc-...
    acl_id: Mapped[str] = mapped_column(
        String(32), ForeignKey("ec2_network_acls.id", ondelete=_CASCADE), index=True
    )
    subnet_id: Mapped[str] = mapped_column(
        String(32), ForeignKey("ec2_subnets.id", ondelete=_CASCADE), unique=True
    )


class Ec2DhcpOptions(Base):
    __tablename__ = "ec2_dhcp_options"
    __table_args__ = (Index("ix_ec2_dopts_account", "account_id"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)  # dopt-...
    account_id: Mapped[str] = mapped_column(String(12), ForeignKey(_ACCOUNT, ondelete=_CASCADE))
    # key -> list of values, as DhcpConfigurations (domain-name-servers, domain-name, ...).
    options: Mapped[dict[str, list[str]]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class Ec2NatGateway(Base):
    """A NAT gateway: `pending` until the data path (a later step) makes it `available`."""

    __tablename__ = "ec2_nat_gateways"
    __table_args__ = (Index("ix_ec2_nats_account", "account_id"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)  # nat-...
    account_id: Mapped[str] = mapped_column(String(12), ForeignKey(_ACCOUNT, ondelete=_CASCADE))
    vpc_id: Mapped[str] = mapped_column(String(32))
    subnet_id: Mapped[str] = mapped_column(String(32), index=True)
    allocation_id: Mapped[str] = mapped_column(String(32), index=True)
    public_ip: Mapped[str] = mapped_column(String(45))
    private_ip: Mapped[str] = mapped_column(String(45))
    network_interface_id: Mapped[str] = mapped_column(String(32))
    # pending | available | deleting | deleted | failed
    state: Mapped[str] = mapped_column(String(16), default="pending")
    failure_code: Mapped[str | None] = mapped_column(String(64), nullable=True, default=None)
    failure_message: Mapped[str | None] = mapped_column(Text, nullable=True, default=None)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    deleted_at: Mapped[datetime | None] = mapped_column(
        DateTime(timezone=True), nullable=True, default=None
    )


def user_vpcs() -> Select[str]:
    """The ids of VPCs of users' own: instances in them are on the VPC data path, not EDGE's."""
    return select(Ec2Vpc.id).where(Ec2Vpc.is_default.is_(False))


def in_user_vpc(s: Session, vpc_id: str | None) -> bool:
    if not vpc_id:
        return False
    vpc = s.get(Ec2Vpc, vpc_id)
    return vpc is not None and not vpc.is_default
