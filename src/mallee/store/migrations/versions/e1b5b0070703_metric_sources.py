"""built-in metrics publisher state

Revision ID: e1b5b0070703
Revises: e1b5b0070702
Create Date: 2026-12-07 13:10:00.000000

- metric_instance_sources, metric_volume_sources: where the controller's publisher of the
  AWS/EC2 and AWS/EBS metrics is in each instance's and volume's counters (the reading at the
  last period boundary it published, and the last period of status checks).
- instance_counters.booted_at: when the sampled VM process started, so a restart of its
  counters is told from their values.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "e1b5b0070703"
down_revision = "e1b5b0070702"
branch_labels = None
depends_on = None

_INSTANCE_COUNTERS = (
    "cpu_seconds",
    "disk_read_bytes",
    "disk_write_bytes",
    "disk_read_ops",
    "disk_write_ops",
    "net_in_bytes",
    "net_out_bytes",
    "net_in_packets",
    "net_out_packets",
)
_VOLUME_COUNTERS = (
    "read_bytes",
    "write_bytes",
    "read_ops",
    "write_ops",
    "read_seconds",
    "write_seconds",
)


def _floats(names: tuple[str, ...]) -> list[sa.Column[float]]:
    return [sa.Column(n, sa.Float(), nullable=False) for n in names]


def upgrade() -> None:
    op.create_table(
        "metric_instance_sources",
        sa.Column("instance_id", sa.String(length=32), nullable=False),
        sa.Column("at", sa.Float(), nullable=False),
        sa.Column("booted_at", sa.Float(), nullable=False),
        *_floats(_INSTANCE_COUNTERS),
        sa.Column("status_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("instance_id"),
    )
    op.create_table(
        "metric_volume_sources",
        sa.Column("volume_id", sa.String(length=32), nullable=False),
        sa.Column("instance_id", sa.String(length=32), nullable=False),
        sa.Column("at", sa.Float(), nullable=False),
        sa.Column("booted_at", sa.Float(), nullable=False),
        *_floats(_VOLUME_COUNTERS),
        sa.PrimaryKeyConstraint("volume_id"),
    )
    with op.batch_alter_table("instance_counters") as batch:
        batch.add_column(sa.Column("booted_at", sa.Float(), nullable=False, server_default="0"))


def downgrade() -> None:
    with op.batch_alter_table("instance_counters") as batch:
        batch.drop_column("booted_at")
    op.drop_table("metric_volume_sources")
    op.drop_table("metric_instance_sources")
