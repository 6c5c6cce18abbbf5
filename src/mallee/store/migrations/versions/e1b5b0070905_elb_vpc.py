"""elb_vpc: load balancers in a VPC's subnets (their interfaces and workers)

Revision ID: e1b5b0070905
Revises: e1b5b0070904
Create Date: 2026-12-07 20:20:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "e1b5b0070905"
down_revision = "e1b5b0070904"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "elb_interfaces",
        sa.Column("lb_id", sa.String(length=32), nullable=False),
        sa.Column("subnet_id", sa.String(length=32), nullable=False),
        sa.Column("zone", sa.String(length=255), nullable=False),
        sa.Column("interface_id", sa.String(length=32), nullable=False),
        sa.ForeignKeyConstraint(["lb_id"], ["elb_load_balancers.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(
            ["interface_id"], ["ec2_network_interfaces.id"], ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("lb_id", "subnet_id"),
    )
    op.create_index(
        op.f("ix_elb_interfaces_interface_id"), "elb_interfaces", ["interface_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_elb_interfaces_interface_id"), table_name="elb_interfaces")
    op.drop_table("elb_interfaces")
