"""CloudWatch datapoints (roll-up tiers)

Revision ID: e1b5b0070701
Revises: e1b5b0070602
Create Date: 2026-12-07 13:10:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "e1b5b0070701"
down_revision = "e1b5b0070602"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "cw_metrics",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("account_id", sa.String(length=12), nullable=False),
        sa.Column("namespace", sa.String(length=255), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("dimensions", sa.Text(), nullable=False),
        sa.Column("last_put", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(["account_id"], ["iam_accounts.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_cw_metrics_list", "cw_metrics", ["account_id", "namespace", "name"])
    op.create_table(
        "cw_datapoints",
        sa.Column("metric_id", sa.String(length=32), nullable=False),
        sa.Column("tier", sa.Integer(), nullable=False),
        sa.Column("bucket", sa.BigInteger(), nullable=False),
        sa.Column("unit", sa.String(length=32), nullable=False),
        sa.Column("count", sa.Float(), nullable=False),
        sa.Column("sum", sa.Float(), nullable=False),
        sa.Column("minimum", sa.Float(), nullable=False),
        sa.Column("maximum", sa.Float(), nullable=False),
        sa.Column("binned", sa.Float(), nullable=False),
        sa.Column("bins", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(["metric_id"], ["cw_metrics.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("metric_id", "tier", "bucket", "unit"),
        sqlite_with_rowid=False,
    )
    op.create_index("ix_cw_datapoints_expiry", "cw_datapoints", ["tier", "bucket"])


def downgrade() -> None:
    op.drop_index("ix_cw_datapoints_expiry", table_name="cw_datapoints")
    op.drop_table("cw_datapoints")
    op.drop_index("ix_cw_metrics_list", table_name="cw_metrics")
    op.drop_table("cw_metrics")
