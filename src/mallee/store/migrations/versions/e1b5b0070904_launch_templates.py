"""launch_templates (Auto Scaling, step 1): room for the columns this part adds

Revision ID: e1b5b0070904
Revises: e1b5b0070903
Create Date: 2026-12-07 20:15:00.000000
"""

from __future__ import annotations

revision = "e1b5b0070904"
down_revision = "e1b5b0070903"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
