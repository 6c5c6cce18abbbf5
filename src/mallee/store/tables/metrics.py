"""CloudWatch metrics: one identity row per metric, and its datapoints as statistic sets.

A datapoint is added into one row per roll-up tier (1-second for high-resolution data, then
1-minute, 5-minute and 1-hour), each kept as long as AWS keeps that resolution (3 hours, 15,
63 and 455 days), so a statistics read over two weeks sums pre-aggregated rows, never points.
Each row keeps the raw values' histogram (mallee.metrics.histogram) for percentiles.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Float, ForeignKey, Index, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from mallee.store.db import Base


class CwMetric(Base):
    """A metric's identity (ListMetrics' rows): account, namespace, name and dimensions."""

    __tablename__ = "cw_metrics"
    __table_args__ = (Index("ix_cw_metrics_list", "account_id", "namespace", "name"),)

    # A digest of the identity (mallee.metrics.identity), so a put needs no lookup to key its
    # datapoints.
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    account_id: Mapped[str] = mapped_column(
        String(12), ForeignKey("iam_accounts.id", ondelete="CASCADE")
    )
    namespace: Mapped[str] = mapped_column(String(255))
    name: Mapped[str] = mapped_column(String(255))
    # JSON [[name, value], ...] sorted by name.
    dimensions: Mapped[str] = mapped_column(Text, default="[]")
    # When data last came (the wall clock, not the datapoints' timestamps): ListMetrics shows
    # metrics that had data in the last two weeks, RecentlyActive those of the last 3 hours.
    last_put: Mapped[float] = mapped_column(Float)


class CwDatapoint(Base):
    """One metric's samples of one unit in one bucket of one tier."""

    __tablename__ = "cw_datapoints"
    __table_args__ = (
        # Purging expired rows, tier by tier.
        Index("ix_cw_datapoints_expiry", "tier", "bucket"),
        {"sqlite_with_rowid": False},
    )

    metric_id: Mapped[str] = mapped_column(
        String(32), ForeignKey("cw_metrics.id", ondelete="CASCADE"), primary_key=True
    )
    # The bucket's length in seconds: 1, 60, 300 or 3600.
    tier: Mapped[int] = mapped_column(Integer, primary_key=True)
    # The epoch second the bucket starts at (a multiple of the tier).
    bucket: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    unit: Mapped[str] = mapped_column(String(32), primary_key=True)
    count: Mapped[float] = mapped_column(Float)
    sum: Mapped[float] = mapped_column(Float)
    minimum: Mapped[float] = mapped_column(Float)
    maximum: Mapped[float] = mapped_column(Float)
    # How many of `count` samples are in `bins` (a statistic set of several values has none).
    binned: Mapped[float] = mapped_column(Float, default=0.0)
    bins: Mapped[bytes] = mapped_column(LargeBinary, default=b"")
