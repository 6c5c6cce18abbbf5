"""autoscaling_engine: the minute of a group's last published metrics

Revision ID: e1b5b0070903
Revises: e1b5b0070902
Create Date: 2026-12-07 20:15:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "e1b5b0070903"
down_revision = "e1b5b0070902"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("as_groups") as batch:
        batch.add_column(
            sa.Column("metrics_minute", sa.Float(), nullable=False, server_default="0")
        )


def downgrade() -> None:
    with op.batch_alter_table("as_groups") as batch:
        batch.drop_column("metrics_minute")
