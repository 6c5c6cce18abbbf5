"""launch_templates (Auto Scaling, step 1): room for the columns this part adds

Revision ID: e1b5b0070904
Revises: e1b5b0070903
Create Date: 2026-12-07 20:15:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "e1b5b0070904"
down_revision = "e1b5b0070903"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "ec2_launch_templates",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("account_id", sa.String(length=12), nullable=False),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=1600), nullable=False),
        sa.Column("default_version", sa.Integer(), nullable=False),
        sa.Column("latest_version", sa.Integer(), nullable=False),
        sa.Column("client_token", sa.String(length=128), nullable=True),
        sa.ForeignKeyConstraint(["account_id"], ["iam_accounts.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("account_id", "name", name="uq_ec2_launch_templates_name"),
        sa.UniqueConstraint("account_id", "client_token", name="uq_ec2_launch_templates_token"),
    )
    op.create_table(
        "ec2_launch_template_versions",
        sa.Column("template_id", sa.String(length=32), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("description", sa.String(length=255), nullable=False),
        sa.Column("data", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=1600), nullable=False),
        sa.Column("client_token", sa.String(length=128), nullable=True),
        sa.ForeignKeyConstraint(["template_id"], ["ec2_launch_templates.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("template_id", "version"),
    )
    with op.batch_alter_table("ec2_launch_template_versions", schema=None) as batch_op:
        batch_op.create_index(
            "ix_ec2_lt_versions_token", ["template_id", "client_token"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("ec2_launch_template_versions", schema=None) as batch_op:
        batch_op.drop_index("ix_ec2_lt_versions_token")
    op.drop_table("ec2_launch_template_versions")
    op.drop_table("ec2_launch_templates")
