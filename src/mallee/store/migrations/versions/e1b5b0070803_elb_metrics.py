"""elb: the workers' counters and the ELB metrics publisher's place in them

Revision ID: e1b5b0070803
Revises: e1b5b0070802
Create Date: 2026-12-07 17:40:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "e1b5b0070803"
down_revision = "e1b5b0070802"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "elb_counters",
        sa.Column("worker_id", sa.String(length=32), nullable=False),
        sa.Column("lb_id", sa.String(length=32), nullable=False),
        sa.Column("pid", sa.Integer(), nullable=False),
        sa.Column("started_at", sa.Float(), nullable=False),
        sa.Column("sampled_at", sa.Float(), nullable=False),
        sa.Column("requests", sa.Float(), nullable=False),
        sa.Column("latency", sa.Float(), nullable=False),
        sa.Column("elb_4xx", sa.Float(), nullable=False),
        sa.Column("elb_5xx", sa.Float(), nullable=False),
        sa.Column("backend_2xx", sa.Float(), nullable=False),
        sa.Column("backend_3xx", sa.Float(), nullable=False),
        sa.Column("backend_4xx", sa.Float(), nullable=False),
        sa.Column("backend_5xx", sa.Float(), nullable=False),
        sa.Column("connection_errors", sa.Float(), nullable=False),
        sa.Column("healthy", sa.Float(), nullable=False),
        sa.Column("unhealthy", sa.Float(), nullable=False),
        sa.Column("samples", sa.Float(), nullable=False),
        sa.Column("surge_minute", sa.Float(), nullable=False),
        sa.Column("surge_max", sa.Float(), nullable=False),
        sa.Column("surge_prev", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("worker_id"),
    )
    op.create_table(
        "elb_metric_sources",
        sa.Column("worker_id", sa.String(length=32), nullable=False),
        sa.Column("at", sa.Float(), nullable=False),
        sa.Column("started_at", sa.Float(), nullable=False),
        sa.Column("requests", sa.Float(), nullable=False),
        sa.Column("latency", sa.Float(), nullable=False),
        sa.Column("elb_4xx", sa.Float(), nullable=False),
        sa.Column("elb_5xx", sa.Float(), nullable=False),
        sa.Column("backend_2xx", sa.Float(), nullable=False),
        sa.Column("backend_3xx", sa.Float(), nullable=False),
        sa.Column("backend_4xx", sa.Float(), nullable=False),
        sa.Column("backend_5xx", sa.Float(), nullable=False),
        sa.Column("connection_errors", sa.Float(), nullable=False),
        sa.Column("healthy", sa.Float(), nullable=False),
        sa.Column("unhealthy", sa.Float(), nullable=False),
        sa.Column("samples", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("worker_id"),
    )


def downgrade() -> None:
    op.drop_table("elb_metric_sources")
    op.drop_table("elb_counters")
