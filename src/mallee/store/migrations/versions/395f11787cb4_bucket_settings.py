"""bucket settings

The bucket sub-resources S3 keeps per bucket: request payment, default encryption, public
access block, object ownership, logging, website and transfer acceleration. Nullable: NULL
is "never set", and the bucket answers AWS's default for it (existing buckets included).

Revision ID: 395f11787cb4
Revises: f4de3740a60e
Create Date: 2026-12-07 03:04:21.404285
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "395f11787cb4"
down_revision = "f4de3740a60e"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("s3_buckets", schema=None) as batch_op:
        batch_op.add_column(sa.Column("request_payer", sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column("encryption", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("public_access_block", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("ownership", sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column("logging", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("website", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("accelerate", sa.String(length=16), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("s3_buckets", schema=None) as batch_op:
        batch_op.drop_column("accelerate")
        batch_op.drop_column("website")
        batch_op.drop_column("logging")
        batch_op.drop_column("ownership")
        batch_op.drop_column("public_access_block")
        batch_op.drop_column("encryption")
        batch_op.drop_column("request_payer")
