"""inline small objects

Small objects keep their bytes in s3_objects.data. Nullable: rows written before keep
data NULL and are read through their blobs as before. A downgrade drops the bytes of
objects stored inline since (they have no blob).

Revision ID: 9e20b1addb00
Revises: 4efbae5c2ad4
Create Date: 2026-12-02 03:44:13.791273
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "9e20b1addb00"
down_revision = "4efbae5c2ad4"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("s3_objects", schema=None) as batch_op:
        batch_op.add_column(sa.Column("data", sa.LargeBinary(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("s3_objects", schema=None) as batch_op:
        batch_op.drop_column("data")
