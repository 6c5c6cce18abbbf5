"""EC2 compute: instances, images, key pairs, tags, instance types.

An instance row is the desired and the observed state at once: the api writes the transitions a
caller asks for (pending, stopping, shutting-down), the controller places it on a node, and the
node agent writes what it observed (running, stopped, terminated). Every writer moves the row only
from the state it expects (`UPDATE ... WHERE state = :expected`), so a crashed and restarted
process repeats no transition and loses none.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from mallee.store.db import Base

_ACCOUNT = "iam_accounts.id"


class Ec2Instance(Base):
    __tablename__ = "ec2_instances"
    __table_args__ = (
        Index("ix_ec2_instances_account_state", "account_id", "state"),
        # Covers the usage sums every RunInstances and placement pass makes (no row reads).
        Index("ix_ec2_instances_node_usage", "node", "state", "cores", "memory_mb", "disk_gb"),
        # ClientToken idempotency is per account; one reservation shares its token, so the
        # launch index completes the key (a racing duplicate request fails on index 0).
        UniqueConstraint(
            "account_id", "client_token", "launch_index", name="uq_ec2_instances_client_token"
        ),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    account_id: Mapped[str] = mapped_column(String(12), ForeignKey(_ACCOUNT, ondelete="CASCADE"))
    reservation_id: Mapped[str] = mapped_column(String(32), index=True)
    # Who asked (ARN); RequesterId is reported only for service-launched instances.
    requester_arn: Mapped[str] = mapped_column(String(2048), default="")
    client_token: Mapped[str | None] = mapped_column(String(64), nullable=True, default=None)
    launch_index: Mapped[int] = mapped_column(Integer, default=0)
    image_id: Mapped[str] = mapped_column(String(32))
    kernel_id: Mapped[str | None] = mapped_column(String(32), nullable=True, default=None)
    ramdisk_id: Mapped[str | None] = mapped_column(String(32), nullable=True, default=None)
    instance_type: Mapped[str] = mapped_column(String(32))
    # Resources the type gave at launch, so capacity accounting survives type edits.
    cores: Mapped[int] = mapped_column(Integer)
    memory_mb: Mapped[int] = mapped_column(Integer)
    disk_gb: Mapped[int] = mapped_column(Integer)
    key_name: Mapped[str | None] = mapped_column(String(255), nullable=True, default=None)
    # The key's public half at launch (OpenSSH format): the metadata service serves it.
    public_key: Mapped[str | None] = mapped_column(Text, nullable=True, default=None)
    # Raw bytes as the caller's base64 decoded; kept as base64 text.
    user_data: Mapped[str | None] = mapped_column(Text, nullable=True, default=None)
    availability_zone: Mapped[str] = mapped_column(String(64))
    # JSON list of {"GroupId", "GroupName"}.
    security_groups: Mapped[str] = mapped_column(Text, default="[]")
    monitoring: Mapped[bool] = mapped_column(Boolean, default=False)
    disable_api_termination: Mapped[bool] = mapped_column(Boolean, default=False)
    shutdown_behavior: Mapped[str] = mapped_column(String(16), default="stop")
    root_device_type: Mapped[str] = mapped_column(String(16), default="instance-store")
    root_device_name: Mapped[str] = mapped_column(String(32), default="/dev/sda1")
    # pending | running | stopping | stopped | shutting-down | terminated
    state: Mapped[str] = mapped_column(String(16), default="pending")
    # AWS StateReason (code, message) and StateTransitionReason text.
    state_reason_code: Mapped[str | None] = mapped_column(String(64), nullable=True, default=None)
    state_reason_message: Mapped[str | None] = mapped_column(Text, nullable=True, default=None)
    transition_reason: Mapped[str] = mapped_column(Text, default="")
    # The node service name it is placed on; None until the controller schedules it.
    node: Mapped[str | None] = mapped_column(String(255), nullable=True, default=None)
    # Data-plane identity, fixed at placement.
    mac: Mapped[str | None] = mapped_column(String(17), nullable=True, default=None)
    private_ip: Mapped[str | None] = mapped_column(String(45), nullable=True, default=None)
    public_ip: Mapped[str | None] = mapped_column(String(45), nullable=True, default=None)
    # Its VPC and subnet (the account's default ones for an EDGE instance), fixed at launch.
    vpc_id: Mapped[str | None] = mapped_column(String(32), nullable=True, default=None)
    subnet_id: Mapped[str | None] = mapped_column(String(32), nullable=True, default=None)
    # Whether placement gives it a public IP (RunInstances' AssociatePublicIpAddress, else its
    # subnet's MapPublicIpOnLaunch), when the cloud's pool gives them at all.
    public_ip_on_launch: Mapped[bool] = mapped_column(Boolean, default=True)
    # The instance profile given at launch (its role's credentials reach the instance through
    # the metadata service).
    iam_instance_profile_id: Mapped[str | None] = mapped_column(
        String(32), nullable=True, default=None
    )
    iam_instance_profile_arn: Mapped[str | None] = mapped_column(
        String(2048), nullable=True, default=None
    )
    # Reboots requested by the api; the node applies each one and records it in reboots_done.
    reboots_requested: Mapped[int] = mapped_column(Integer, default=0)
    reboots_done: Mapped[int] = mapped_column(Integer, default=0)
    launch_time: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    # Epoch seconds of the last state change; the controller's timeouts read it.
    state_changed_at: Mapped[float] = mapped_column(Float)
    terminated_at: Mapped[float | None] = mapped_column(Float, nullable=True, default=None)
    # JSON list of the instance-store mappings it was launched with ({"DeviceName",
    # "VirtualName": "ephemeralN"}): local disks the node makes. Its EBS mappings are its
    # volume attachments.
    block_device_mappings: Mapped[str] = mapped_column(Text, default="[]")


class Ec2Image(Base):
    """A registered machine (emi), kernel (eki) or ramdisk (eri) image."""

    __tablename__ = "ec2_images"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    account_id: Mapped[str] = mapped_column(String(12), ForeignKey(_ACCOUNT, ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(128))
    description: Mapped[str] = mapped_column(Text, default="")
    # machine | kernel | ramdisk
    image_type: Mapped[str] = mapped_column(String(16))
    # pending | available | failed | deregistered
    state: Mapped[str] = mapped_column(String(16), default="available")
    architecture: Mapped[str] = mapped_column(String(16), default="x86_64")
    virtualization_type: Mapped[str] = mapped_column(String(16), default="paravirtual")
    root_device_type: Mapped[str] = mapped_column(String(16), default="instance-store")
    root_device_name: Mapped[str] = mapped_column(String(32), default="/dev/sda1")
    kernel_id: Mapped[str | None] = mapped_column(String(32), nullable=True, default=None)
    ramdisk_id: Mapped[str | None] = mapped_column(String(32), nullable=True, default=None)
    # Where the bits come from: "bucket/key/manifest.xml" in the object store, or "file:<path>".
    location: Mapped[str] = mapped_column(Text)
    # sha256 and size of the image file once the cloud has it (nodes cache by digest).
    digest: Mapped[str | None] = mapped_column(String(64), nullable=True, default=None)
    size_bytes: Mapped[int | None] = mapped_column(BigInteger, nullable=True, default=None)
    is_public: Mapped[bool] = mapped_column(Boolean, default=False)
    platform: Mapped[str | None] = mapped_column(String(16), nullable=True, default=None)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    # JSON of the BlockDeviceMappings the image was registered with.
    block_device_mappings: Mapped[str] = mapped_column(Text, default="[]")
    # CreateImage: the instance whose volumes the image is made of, while it is pending, and
    # whether that instance was stopped for it (started again once the snapshots complete).
    source_instance_id: Mapped[str | None] = mapped_column(String(32), nullable=True, default=None)
    restart_source: Mapped[bool] = mapped_column(Boolean, default=False)


class Ec2LaunchPermission(Base):
    __tablename__ = "ec2_launch_permissions"

    image_id: Mapped[str] = mapped_column(
        String(32), ForeignKey("ec2_images.id", ondelete="CASCADE"), primary_key=True
    )
    account_id: Mapped[str] = mapped_column(String(12), primary_key=True)


class Ec2KeyPair(Base):
    __tablename__ = "ec2_key_pairs"
    __table_args__ = (UniqueConstraint("account_id", "name", name="uq_ec2_key_pairs_name"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    account_id: Mapped[str] = mapped_column(String(12), ForeignKey(_ACCOUNT, ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(255))
    # rsa | ed25519
    key_type: Mapped[str] = mapped_column(String(16))
    fingerprint: Mapped[str] = mapped_column(String(128))
    # OpenSSH one-line public key.
    public_key: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class Ec2Tag(Base):
    __tablename__ = "ec2_tags"
    __table_args__ = (Index("ix_ec2_tags_account_key", "account_id", "key"),)

    resource_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    key: Mapped[str] = mapped_column(String(128), primary_key=True)
    value: Mapped[str] = mapped_column(String(256), default="")
    account_id: Mapped[str] = mapped_column(String(12), ForeignKey(_ACCOUNT, ondelete="CASCADE"))
    # instance, image, key-pair, volume, ... as DescribeTags reports it.
    resource_type: Mapped[str] = mapped_column(String(32))


class Ec2InstanceType(Base):
    """The cloud's instance types (the seed's table by default; the cloud admin may edit)."""

    __tablename__ = "ec2_instance_types"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    cores: Mapped[int] = mapped_column(Integer)
    memory_mb: Mapped[int] = mapped_column(Integer)
    disk_gb: Mapped[int] = mapped_column(Integer)
    # Position in the seed's listing, so Describe keeps that order.
    rank: Mapped[int] = mapped_column(Integer, default=0)
