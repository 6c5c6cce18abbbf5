"""elastic load balancing

Revision ID: e1b5b0070801
Revises: e1b5b0070703
Create Date: 2026-12-07 16:39:00.544672

Load balancers, listeners, policies, back-end policies, registered instances, tags, workers and
what the workers see of their back ends (store/tables/elb.py).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "e1b5b0070801"
down_revision = "e1b5b0070703"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "elb_workers",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("lb_id", sa.String(length=32), nullable=False),
        sa.Column("zone", sa.String(length=255), nullable=False),
        sa.Column("node", sa.String(length=255), nullable=True),
        sa.Column("public_ip", sa.String(length=45), nullable=True),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("applied_generation", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("lb_id", "zone", name="uq_elb_workers_lb_zone"),
    )
    with op.batch_alter_table("elb_workers", schema=None) as batch_op:
        batch_op.create_index("ix_elb_workers_node", ["node"], unique=False)

    op.create_table(
        "elb_load_balancers",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("account_id", sa.String(length=12), nullable=False),
        sa.Column("name", sa.String(length=32), nullable=False),
        sa.Column("dns_name", sa.String(length=255), nullable=False),
        sa.Column("scheme", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("zones", sa.Text(), nullable=False),
        sa.Column("subnets", sa.Text(), nullable=False),
        sa.Column("security_groups", sa.Text(), nullable=False),
        sa.Column("vpc_id", sa.String(length=32), nullable=True),
        sa.Column("hc_target", sa.String(length=1024), nullable=False),
        sa.Column("hc_interval", sa.Integer(), nullable=False),
        sa.Column("hc_timeout", sa.Integer(), nullable=False),
        sa.Column("hc_unhealthy", sa.Integer(), nullable=False),
        sa.Column("hc_healthy", sa.Integer(), nullable=False),
        sa.Column("cross_zone", sa.Boolean(), nullable=False),
        sa.Column("draining_enabled", sa.Boolean(), nullable=False),
        sa.Column("draining_timeout", sa.Integer(), nullable=False),
        sa.Column("idle_timeout", sa.Integer(), nullable=False),
        sa.Column("access_log_enabled", sa.Boolean(), nullable=False),
        sa.Column("access_log_bucket", sa.String(length=255), nullable=False),
        sa.Column("access_log_prefix", sa.String(length=1024), nullable=False),
        sa.Column("access_log_interval", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["account_id"], ["iam_accounts.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("account_id", "name", name="uq_elb_account_name"),
    )
    op.create_table(
        "elb_backend_policies",
        sa.Column("lb_id", sa.String(length=32), nullable=False),
        sa.Column("instance_port", sa.Integer(), nullable=False),
        sa.Column("policy_names", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["lb_id"], ["elb_load_balancers.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("lb_id", "instance_port"),
    )
    op.create_table(
        "elb_instance_health",
        sa.Column("lb_id", sa.String(length=32), nullable=False),
        sa.Column("instance_id", sa.String(length=32), nullable=False),
        sa.Column("worker_id", sa.String(length=32), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("reason_code", sa.String(length=16), nullable=False),
        sa.Column("description", sa.String(length=1024), nullable=False),
        sa.Column("updated_at", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(["lb_id"], ["elb_load_balancers.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("lb_id", "instance_id", "worker_id"),
    )
    op.create_table(
        "elb_instances",
        sa.Column("lb_id", sa.String(length=32), nullable=False),
        sa.Column("instance_id", sa.String(length=32), nullable=False),
        sa.Column("registered_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("drain_until", sa.Float(), nullable=True),
        sa.ForeignKeyConstraint(["lb_id"], ["elb_load_balancers.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("lb_id", "instance_id"),
    )
    op.create_table(
        "elb_listeners",
        sa.Column("lb_id", sa.String(length=32), nullable=False),
        sa.Column("lb_port", sa.Integer(), nullable=False),
        sa.Column("protocol", sa.String(length=8), nullable=False),
        sa.Column("instance_port", sa.Integer(), nullable=False),
        sa.Column("instance_protocol", sa.String(length=8), nullable=False),
        sa.Column("ssl_certificate_id", sa.String(length=2048), nullable=False),
        sa.Column("policy_names", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["lb_id"], ["elb_load_balancers.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("lb_id", "lb_port"),
    )
    op.create_table(
        "elb_policies",
        sa.Column("lb_id", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("type_name", sa.String(length=255), nullable=False),
        sa.Column("attributes", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["lb_id"], ["elb_load_balancers.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("lb_id", "name"),
    )
    op.create_table(
        "elb_tags",
        sa.Column("lb_id", sa.String(length=32), nullable=False),
        sa.Column("key", sa.String(length=128), nullable=False),
        sa.Column("value", sa.String(length=256), nullable=False),
        sa.ForeignKeyConstraint(["lb_id"], ["elb_load_balancers.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("lb_id", "key"),
    )


def downgrade() -> None:
    op.drop_table("elb_tags")
    op.drop_table("elb_policies")
    op.drop_table("elb_listeners")
    op.drop_table("elb_instances")
    op.drop_table("elb_instance_health")
    op.drop_table("elb_backend_policies")
    op.drop_table("elb_load_balancers")
    with op.batch_alter_table("elb_workers", schema=None) as batch_op:
        batch_op.drop_index("ix_elb_workers_node")

    op.drop_table("elb_workers")
