"""elb: IAM server certificates (HTTPS and SSL listeners)

Revision ID: e1b5b0070802
Revises: e1b5b0070801
Create Date: 2026-12-07 16:40:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "e1b5b0070802"
down_revision = "e1b5b0070801"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "iam_server_certificates",
        sa.Column("arn", sa.String(length=2048), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("chain", sa.Text(), nullable=True),
        sa.Column("sealed_key", sa.Text(), nullable=False),
        sa.Column("expiration", sa.DateTime(timezone=True), nullable=False),
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("path", sa.String(length=512), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("account_id", sa.String(length=12), nullable=False),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("name_key", sa.String(length=128), nullable=False),
        sa.ForeignKeyConstraint(["account_id"], ["iam_accounts.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("account_id", "name_key"),
    )
    with op.batch_alter_table("iam_server_certificates", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_iam_server_certificates_account_id"), ["account_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_iam_server_certificates_arn"), ["arn"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("iam_server_certificates", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_iam_server_certificates_arn"))
        batch_op.drop_index(batch_op.f("ix_iam_server_certificates_account_id"))
    op.drop_table("iam_server_certificates")
