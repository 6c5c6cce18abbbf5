"""ebs imports: conversion tasks and import tasks

Revision ID: e1b5b00702cd
Revises: e1b5b00701ab
Create Date: 2026-12-07 09:10:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "e1b5b00702cd"
down_revision = "e1b5b00701ab"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "ec2_import_tasks",
        sa.Column("id", sa.String(40), nullable=False),
        sa.Column("account_id", sa.String(12), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("status_message", sa.String(1024), nullable=False),
        sa.Column("step", sa.String(32), nullable=False),
        sa.Column("progress", sa.Integer(), nullable=False),
        sa.Column("bytes_converted", sa.BigInteger(), nullable=False),
        sa.Column("description", sa.String(255), nullable=False),
        sa.Column("availability_zone", sa.String(64), nullable=False),
        sa.Column("storage_host", sa.String(255), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("client_token", sa.String(64), nullable=False),
        sa.Column("image_format", sa.String(8), nullable=False),
        sa.Column("image_bytes", sa.BigInteger(), nullable=False),
        sa.Column("source_url", sa.Text(), nullable=False),
        sa.Column("parts", sa.Text(), nullable=False),
        sa.Column("volume_id", sa.String(32), nullable=False),
        sa.Column("volume_size_gib", sa.Integer(), nullable=False),
        sa.Column("snapshot_id", sa.String(32), nullable=False),
        sa.Column("instance_id", sa.String(32), nullable=False),
        sa.Column("image_id", sa.String(32), nullable=False),
        sa.Column("platform", sa.String(16), nullable=False),
        sa.Column("architecture", sa.String(16), nullable=False),
        sa.Column("details", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["account_id"], ["iam_accounts.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_ec2_import_tasks_account_kind", "ec2_import_tasks", ["account_id", "kind"])
    op.create_index("ix_ec2_import_tasks_state_host", "ec2_import_tasks", ["state", "storage_host"])


def downgrade() -> None:
    op.drop_index("ix_ec2_import_tasks_state_host", table_name="ec2_import_tasks")
    op.drop_index("ix_ec2_import_tasks_account_kind", table_name="ec2_import_tasks")
    op.drop_table("ec2_import_tasks")
