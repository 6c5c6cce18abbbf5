"""Where the controller's built-in metrics publisher is in each source's counters.

The nodes write cumulative counters (compute.InstanceCounters, compute.VolumeCounters); the
publisher turns them into one datapoint per period. Each row here is the cumulative reading
at the end of the last period published (interpolated to that boundary), so the next period's
figures are the next boundary's reading minus this one. The row moves in the transaction that
stores the datapoints, by a conditional UPDATE from the boundary it expects: a controller killed
at any moment, or a second one racing it, neither publishes a period twice nor skips one.
"""

from __future__ import annotations

from sqlalchemy import Float, String
from sqlalchemy.orm import Mapped, mapped_column

from mallee.store.db import Base


class InstanceMetricSource(Base):
    """An instance's AWS/EC2 metrics: the reading its last published period ended with."""

    __tablename__ = "metric_instance_sources"

    instance_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    # The boundary (epoch seconds) the reading is at; the first reading's own time before any.
    at: Mapped[float] = mapped_column(Float)
    # The VM process's start (InstanceCounters.booted_at): another one means the counters
    # started over from zero.
    booted_at: Mapped[float] = mapped_column(Float, default=0.0)
    cpu_seconds: Mapped[float] = mapped_column(Float, default=0.0)
    disk_read_bytes: Mapped[float] = mapped_column(Float, default=0.0)
    disk_write_bytes: Mapped[float] = mapped_column(Float, default=0.0)
    disk_read_ops: Mapped[float] = mapped_column(Float, default=0.0)
    disk_write_ops: Mapped[float] = mapped_column(Float, default=0.0)
    net_in_bytes: Mapped[float] = mapped_column(Float, default=0.0)
    net_out_bytes: Mapped[float] = mapped_column(Float, default=0.0)
    net_in_packets: Mapped[float] = mapped_column(Float, default=0.0)
    net_out_packets: Mapped[float] = mapped_column(Float, default=0.0)
    # The end of the last period whose StatusCheckFailed* were published (they come from the
    # instance's and its node's state, not from counters: a silent node sends none).
    status_at: Mapped[float] = mapped_column(Float, default=0.0)


class VolumeMetricSource(Base):
    """A volume's AWS/EBS metrics: the reading its last published period ended with."""

    __tablename__ = "metric_volume_sources"

    volume_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    # The instance whose VM the counters were read from: another one means they started over.
    instance_id: Mapped[str] = mapped_column(String(32))
    at: Mapped[float] = mapped_column(Float)
    booted_at: Mapped[float] = mapped_column(Float, default=0.0)
    read_bytes: Mapped[float] = mapped_column(Float, default=0.0)
    write_bytes: Mapped[float] = mapped_column(Float, default=0.0)
    read_ops: Mapped[float] = mapped_column(Float, default=0.0)
    write_ops: Mapped[float] = mapped_column(Float, default=0.0)
    read_seconds: Mapped[float] = mapped_column(Float, default=0.0)
    write_seconds: Mapped[float] = mapped_column(Float, default=0.0)
