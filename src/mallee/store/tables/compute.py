"""What the node agents report and what the controller holds: capacity, counters, leases."""

from __future__ import annotations

from sqlalchemy import BigInteger, Float, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from mallee.store.db import Base


class NodeRow(Base):
    """A node controller's resources, written by its agent on every report.

    The node's identity, admin state (ENABLED/DISABLED) and liveness are its row in `services`
    (type `node`, same name); this row is what the scheduler needs on top of that.
    """

    __tablename__ = "nodes"

    name: Mapped[str] = mapped_column(String(255), primary_key=True)
    zone: Mapped[str] = mapped_column(String(64))
    hypervisor: Mapped[str] = mapped_column(String(16))  # kvm | tcg | fake
    cores: Mapped[int] = mapped_column(Integer)
    memory_mb: Mapped[int] = mapped_column(Integer)
    disk_gb: Mapped[int] = mapped_column(Integer)
    # The node's private subnet (CIDR) and its bridge gateway, for placement and the data plane.
    subnet: Mapped[str] = mapped_column(String(64), default="")
    # The node's own address on the public network: elastic IPs it hosts are routed to it,
    # and other nodes reach its private subnet through it (flat L3).
    public_ip: Mapped[str] = mapped_column(String(45), default="", server_default="")
    # Network namespace holding the node's data plane ("" = the host's own).
    netns: Mapped[str] = mapped_column(String(64), default="")
    reported_at: Mapped[float] = mapped_column(Float)


class NodeUsageRow(Base):
    """What a node's instances hold (those pending, running, stopping or shutting down there).

    Kept by database triggers on ec2_instances (see migration 89861c6968e4), never by code:
    every launch reads it, and summing the instances instead cost time that grew with them.
    """

    __tablename__ = "node_usage"

    node: Mapped[str] = mapped_column(String(255), primary_key=True)
    cores: Mapped[int] = mapped_column(Integer, default=0)
    memory_mb: Mapped[int] = mapped_column(BigInteger, default=0)
    disk_gb: Mapped[int] = mapped_column(BigInteger, default=0)
    instances: Mapped[int] = mapped_column(Integer, default=0)


class InstanceCounters(Base):
    """Cumulative per-instance counters from the node (CloudWatch derives rates from them)."""

    __tablename__ = "instance_counters"

    instance_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    sampled_at: Mapped[float] = mapped_column(Float)
    cpu_seconds: Mapped[float] = mapped_column(Float, default=0.0)
    disk_read_bytes: Mapped[int] = mapped_column(BigInteger, default=0)
    disk_write_bytes: Mapped[int] = mapped_column(BigInteger, default=0)
    disk_read_ops: Mapped[int] = mapped_column(BigInteger, default=0)
    disk_write_ops: Mapped[int] = mapped_column(BigInteger, default=0)
    net_in_bytes: Mapped[int] = mapped_column(BigInteger, default=0)
    net_out_bytes: Mapped[int] = mapped_column(BigInteger, default=0)
    net_in_packets: Mapped[int] = mapped_column(BigInteger, default=0)
    net_out_packets: Mapped[int] = mapped_column(BigInteger, default=0)
    # When the VM process started (epoch seconds; 0 unknown): the counters count from then,
    # so a new value means they started over (a reboot, a stop and start, a relaunch).
    booted_at: Mapped[float] = mapped_column(Float, default=0.0, server_default="0")


class VolumeCounters(Base):
    """Cumulative I/O counters of an attached EBS volume, as its node samples them (QMP
    query-blockstats of its disk): the figures of CloudWatch's AWS/EBS namespace. They count
    from the volume's plugging into `instance_id`'s VM, so a new attachment starts them over."""

    __tablename__ = "volume_counters"

    volume_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    instance_id: Mapped[str] = mapped_column(String(32))
    sampled_at: Mapped[float] = mapped_column(Float)
    read_bytes: Mapped[int] = mapped_column(BigInteger, default=0)
    write_bytes: Mapped[int] = mapped_column(BigInteger, default=0)
    read_ops: Mapped[int] = mapped_column(BigInteger, default=0)
    write_ops: Mapped[int] = mapped_column(BigInteger, default=0)
    # Time spent on completed reads and writes (VolumeTotalReadTime / VolumeTotalWriteTime).
    read_seconds: Mapped[float] = mapped_column(Float, default=0.0)
    write_seconds: Mapped[float] = mapped_column(Float, default=0.0)


class InstanceConsole(Base):
    """The tail of an instance's serial console, copied up by its node for GetConsoleOutput."""

    __tablename__ = "instance_consoles"

    instance_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    # Last 64 KiB of the console, decoded as UTF-8 with replacement.
    output: Mapped[str] = mapped_column(Text, default="")
    updated_at: Mapped[float] = mapped_column(Float)


class Lease(Base):
    """A named lease: the holder may act until `expires_at`; one active controller uses it."""

    __tablename__ = "leases"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    holder: Mapped[str] = mapped_column(String(255))
    expires_at: Mapped[float] = mapped_column(Float)
    # Bumped on each change of holder: work stamped with an older epoch is fenced off.
    epoch: Mapped[int] = mapped_column(Integer, default=0)
    detail: Mapped[str] = mapped_column(Text, default="")
