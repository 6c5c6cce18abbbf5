"""elb_vpc: load balancers in a VPC's subnets (their interfaces and workers)

Revision ID: e1b5b0070905
Revises: e1b5b0070904
Create Date: 2026-12-07 20:20:00.000000
"""

from __future__ import annotations

revision = "e1b5b0070905"
down_revision = "e1b5b0070904"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
