"""autoscaling_engine (Auto Scaling, step 1): room for the columns this part adds

Revision ID: e1b5b0070903
Revises: e1b5b0070902
Create Date: 2026-12-07 20:15:00.000000
"""

from __future__ import annotations

revision = "e1b5b0070903"
down_revision = "e1b5b0070902"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
