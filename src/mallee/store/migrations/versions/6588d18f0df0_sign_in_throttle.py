"""sign in throttle

Failed password sign-ins counted in sign_in_failures (per user and per source address), and
sts_sessions.issued_by: the STS operation that issued each set of temporary credentials.
Sessions issued before it get theirs from what they already record: GetSessionToken's were
asked for with a long-term key (source_access_key), GetAccessToken's with a password (none).

Revision ID: 6588d18f0df0
Revises: 89861c6968e4
Create Date: 2026-12-07 02:17:29.106855
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "6588d18f0df0"
down_revision = "89861c6968e4"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "sign_in_failures",
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("last_at", sa.Float(), nullable=False),
        sa.Column("locked_until", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("key"),
    )
    with op.batch_alter_table("sign_in_failures", schema=None) as batch_op:
        batch_op.create_index("ix_sign_in_failures_last_at", ["last_at"], unique=False)

    with op.batch_alter_table("sts_sessions", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "issued_by", sa.String(length=32), nullable=False, server_default="AssumeRole"
            )
        )
    op.execute(
        "UPDATE sts_sessions SET issued_by = CASE WHEN source_access_key IS NULL"
        " THEN 'GetAccessToken' ELSE 'GetSessionToken' END WHERE kind <> 'assumed-role'"
    )
    # The default only filled the rows there were: new sessions always name their issuer.
    with op.batch_alter_table("sts_sessions", schema=None) as batch_op:
        batch_op.alter_column("issued_by", server_default=None)


def downgrade() -> None:
    with op.batch_alter_table("sts_sessions", schema=None) as batch_op:
        batch_op.drop_column("issued_by")

    with op.batch_alter_table("sign_in_failures", schema=None) as batch_op:
        batch_op.drop_index("ix_sign_in_failures_last_at")

    op.drop_table("sign_in_failures")
