"""ebs boot: block device mappings of instances

Revision ID: e1b5b00701ab
Revises: 846e6a79e166
Create Date: 2026-12-07 09:10:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "e1b5b00701ab"
down_revision = "846e6a79e166"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("ec2_instances", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("block_device_mappings", sa.Text(), nullable=False, server_default="[]")
        )
    with op.batch_alter_table("ec2_images", schema=None) as batch_op:
        batch_op.add_column(sa.Column("source_instance_id", sa.String(length=32), nullable=True))
        batch_op.add_column(
            sa.Column("restart_source", sa.Boolean(), nullable=False, server_default=sa.false())
        )


def downgrade() -> None:
    with op.batch_alter_table("ec2_images", schema=None) as batch_op:
        batch_op.drop_column("restart_source")
        batch_op.drop_column("source_instance_id")
    with op.batch_alter_table("ec2_instances", schema=None) as batch_op:
        batch_op.drop_column("block_device_mappings")
