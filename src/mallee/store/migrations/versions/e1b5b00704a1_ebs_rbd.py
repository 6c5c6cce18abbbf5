"""ebs ceph-rbd backend

Revision ID: e1b5b00704a1
Revises: e1b5b00703ef
Create Date: 2026-12-07 09:10:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "e1b5b00704a1"
down_revision = "e1b5b00703ef"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("ec2_volumes", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("backend", sa.String(length=16), nullable=False, server_default="")
        )
        batch_op.add_column(
            sa.Column("backend_pool", sa.String(length=128), nullable=False, server_default="")
        )
    # Every volume a storage host holds already was made on the only backend there was.
    volumes = sa.table("ec2_volumes", sa.column("storage_host"), sa.column("backend"))
    op.execute(volumes.update().where(volumes.c.storage_host != "").values(backend="overlay"))


def downgrade() -> None:
    with op.batch_alter_table("ec2_volumes", schema=None) as batch_op:
        batch_op.drop_column("backend_pool")
        batch_op.drop_column("backend")
