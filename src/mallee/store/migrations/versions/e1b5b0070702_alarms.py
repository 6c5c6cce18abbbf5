"""CloudWatch alarms, history, dashboards

Revision ID: e1b5b0070702
Revises: e1b5b0070701
Create Date: 2026-12-07 13:10:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "e1b5b0070702"
down_revision = "e1b5b0070701"
branch_labels = None
depends_on = None


def _account() -> sa.Column[str]:
    return sa.Column("account_id", sa.String(length=12), nullable=False)


def _account_fk() -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(["account_id"], ["iam_accounts.id"], ondelete="CASCADE")


def upgrade() -> None:
    op.create_table(
        "cw_alarms",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        _account(),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("arn", sa.String(length=1024), nullable=False),
        sa.Column("alarm_type", sa.String(length=16), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("actions_enabled", sa.Boolean(), nullable=False),
        sa.Column("ok_actions", sa.Text(), nullable=False),
        sa.Column("alarm_actions", sa.Text(), nullable=False),
        sa.Column("insufficient_data_actions", sa.Text(), nullable=False),
        sa.Column("namespace", sa.String(length=255), nullable=False),
        sa.Column("metric_name", sa.String(length=255), nullable=False),
        sa.Column("dimensions", sa.Text(), nullable=False),
        sa.Column("statistic", sa.String(length=16), nullable=False),
        sa.Column("extended_statistic", sa.String(length=16), nullable=False),
        sa.Column("period", sa.Integer(), nullable=False),
        sa.Column("unit", sa.String(length=32), nullable=False),
        sa.Column("evaluation_periods", sa.Integer(), nullable=False),
        sa.Column("datapoints_to_alarm", sa.Integer(), nullable=True),
        sa.Column("threshold", sa.Float(), nullable=True),
        sa.Column("comparison_operator", sa.String(length=64), nullable=False),
        sa.Column("treat_missing_data", sa.String(length=16), nullable=False),
        sa.Column("evaluate_low_sample_count_percentile", sa.String(length=16), nullable=False),
        sa.Column("metrics", sa.Text(), nullable=False),
        sa.Column("threshold_metric_id", sa.String(length=255), nullable=False),
        sa.Column("alarm_rule", sa.Text(), nullable=False),
        sa.Column("state_value", sa.String(length=20), nullable=False),
        sa.Column("state_reason", sa.Text(), nullable=False),
        sa.Column("state_reason_data", sa.Text(), nullable=True),
        sa.Column("state_updated_at", sa.Float(), nullable=False),
        sa.Column("state_transitioned_at", sa.Float(), nullable=False),
        sa.Column("config_updated_at", sa.Float(), nullable=False),
        sa.Column("state_version", sa.Integer(), nullable=False),
        sa.Column("next_eval_at", sa.Float(), nullable=False),
        sa.Column("evaluated_at", sa.Float(), nullable=False),
        _account_fk(),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("account_id", "name", name="uq_cw_alarms_account_name"),
    )
    with op.batch_alter_table("cw_alarms", schema=None) as batch_op:
        batch_op.create_index(
            "ix_cw_alarms_metric", ["account_id", "namespace", "metric_name"], unique=False
        )
        batch_op.create_index("ix_cw_alarms_due", ["next_eval_at"], unique=False)
    op.create_table(
        "cw_alarm_children",
        sa.Column("parent_id", sa.Integer(), nullable=False),
        sa.Column("child_name", sa.String(length=255), nullable=False),
        sa.ForeignKeyConstraint(["parent_id"], ["cw_alarms.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("parent_id", "child_name"),
    )
    with op.batch_alter_table("cw_alarm_children", schema=None) as batch_op:
        batch_op.create_index("ix_cw_alarm_children_child", ["child_name"], unique=False)
    op.create_table(
        "cw_tags",
        _account(),
        sa.Column("arn", sa.String(length=1024), nullable=False),
        sa.Column("key", sa.String(length=128), nullable=False),
        sa.Column("value", sa.String(length=256), nullable=False),
        _account_fk(),
        sa.PrimaryKeyConstraint("arn", "key"),
    )
    op.create_table(
        "cw_alarm_history",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        _account(),
        sa.Column("alarm_name", sa.String(length=255), nullable=False),
        sa.Column("alarm_type", sa.String(length=16), nullable=False),
        sa.Column("timestamp", sa.Float(), nullable=False),
        sa.Column("item_type", sa.String(length=32), nullable=False),
        sa.Column("summary", sa.String(length=255), nullable=False),
        sa.Column("data", sa.Text(), nullable=False),
        _account_fk(),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("cw_alarm_history", schema=None) as batch_op:
        batch_op.create_index(
            "ix_cw_alarm_history_account_time", ["account_id", "timestamp"], unique=False
        )
        batch_op.create_index(
            "ix_cw_alarm_history_alarm_time",
            ["account_id", "alarm_name", "timestamp"],
            unique=False,
        )
    op.create_table(
        "cw_alarm_actions",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        _account(),
        sa.Column("alarm_name", sa.String(length=255), nullable=False),
        sa.Column("alarm_type", sa.String(length=16), nullable=False),
        sa.Column("instance_id", sa.String(length=64), nullable=False),
        sa.Column("action", sa.String(length=1024), nullable=False),
        sa.Column("new_state", sa.String(length=20), nullable=False),
        sa.Column("transitioned_at", sa.Float(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("runner", sa.String(length=64), nullable=False),
        sa.Column("claimed_at", sa.Float(), nullable=False),
        sa.Column("result", sa.Text(), nullable=False),
        _account_fk(),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("cw_alarm_actions", schema=None) as batch_op:
        batch_op.create_index("ix_cw_alarm_actions_state", ["state"], unique=False)
    op.create_table(
        "cw_dashboards",
        _account(),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("updated_at", sa.Float(), nullable=False),
        _account_fk(),
        sa.PrimaryKeyConstraint("account_id", "name"),
    )


def downgrade() -> None:
    op.drop_table("cw_dashboards")
    with op.batch_alter_table("cw_alarm_actions", schema=None) as batch_op:
        batch_op.drop_index("ix_cw_alarm_actions_state")
    op.drop_table("cw_alarm_actions")
    with op.batch_alter_table("cw_alarm_history", schema=None) as batch_op:
        batch_op.drop_index("ix_cw_alarm_history_alarm_time")
        batch_op.drop_index("ix_cw_alarm_history_account_time")
    op.drop_table("cw_alarm_history")
    op.drop_table("cw_tags")
    with op.batch_alter_table("cw_alarm_children", schema=None) as batch_op:
        batch_op.drop_index("ix_cw_alarm_children_child")
    op.drop_table("cw_alarm_children")
    with op.batch_alter_table("cw_alarms", schema=None) as batch_op:
        batch_op.drop_index("ix_cw_alarms_due")
        batch_op.drop_index("ix_cw_alarms_metric")
    op.drop_table("cw_alarms")
