"""vpc instances: network interfaces, instances' VPC and subnet, groups' VPC, address domains

Revision ID: e1b5b0070602
Revises: e1b5b0070601
Create Date: 2026-12-07 10:30:00.000000
"""

from __future__ import annotations

import datetime as dt
import secrets

import sqlalchemy as sa
from alembic import op

revision = "e1b5b0070602"
down_revision = "e1b5b0070601"
branch_labels = None
depends_on = None

_LIVE = ("pending", "running", "stopping", "stopped", "shutting-down")


def upgrade() -> None:
    op.create_table(
        "ec2_network_interfaces",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("account_id", sa.String(length=12), nullable=False),
        sa.Column("vpc_id", sa.String(length=32), nullable=False),
        sa.Column("subnet_id", sa.String(length=32), nullable=False),
        sa.Column("zone", sa.String(length=64), nullable=False),
        sa.Column("private_ip", sa.String(length=45), nullable=True),
        sa.Column("mac", sa.String(length=17), nullable=True),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("source_dest_check", sa.Boolean(), nullable=False),
        sa.Column("interface_type", sa.String(length=32), nullable=False),
        sa.Column("requester_managed", sa.Boolean(), nullable=False),
        sa.Column("attachment_id", sa.String(length=32), nullable=True),
        sa.Column("instance_id", sa.String(length=32), nullable=True),
        sa.Column("device_index", sa.Integer(), nullable=True),
        sa.Column("delete_on_termination", sa.Boolean(), nullable=False),
        sa.Column("attach_time", sa.DateTime(timezone=True), nullable=True),
        sa.Column("attachment_status", sa.String(length=16), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["account_id"], ["iam_accounts.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["instance_id"], ["ec2_instances.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("ec2_network_interfaces", schema=None) as batch_op:
        batch_op.create_index("ix_ec2_enis_account", ["account_id"], unique=False)
        batch_op.create_index("ix_ec2_enis_subnet", ["subnet_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_ec2_network_interfaces_instance_id"), ["instance_id"], unique=False
        )
    op.create_table(
        "ec2_network_interface_addresses",
        sa.Column("interface_id", sa.String(length=32), nullable=False),
        sa.Column("private_ip", sa.String(length=45), nullable=False),
        sa.ForeignKeyConstraint(
            ["interface_id"], ["ec2_network_interfaces.id"], ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("interface_id", "private_ip"),
    )
    op.create_table(
        "ec2_network_interface_groups",
        sa.Column("interface_id", sa.String(length=32), nullable=False),
        sa.Column("group_id", sa.String(length=32), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["group_id"], ["ec2_security_groups.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(
            ["interface_id"], ["ec2_network_interfaces.id"], ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("interface_id", "group_id"),
    )
    # Plain ADD COLUMN: a batch copy of ec2_instances on SQLite would drop its node usage
    # triggers (89861c6968e4).
    op.add_column("ec2_instances", sa.Column("vpc_id", sa.String(length=32), nullable=True))
    op.add_column("ec2_instances", sa.Column("subnet_id", sa.String(length=32), nullable=True))
    op.add_column(
        "ec2_instances",
        sa.Column("public_ip_on_launch", sa.Boolean(), nullable=False, server_default=sa.true()),
    )
    with op.batch_alter_table("ec2_security_groups", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("vpc_id", sa.String(length=32), nullable=False, server_default="")
        )
        batch_op.drop_constraint("uq_ec2_sg_account_name", type_="unique")
        batch_op.create_unique_constraint(
            "uq_ec2_sg_account_vpc_name", ["account_id", "vpc_id", "name"]
        )
    with op.batch_alter_table("ec2_addresses", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("domain", sa.String(length=8), nullable=False, server_default="standard")
        )
        batch_op.add_column(sa.Column("network_interface_id", sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column("private_ip", sa.String(length=45), nullable=True))
    _existing_instances()


def _id(prefix: str) -> str:
    return f"{prefix}-{secrets.token_hex(9)[:17]}"


def _existing_instances() -> None:
    """Instances launched before VPCs are in their account's default VPC: the default subnet
    of their zone, and a primary interface each (the live ones) with their addresses."""
    conn = op.get_bind()
    subnets = {
        (account, zone): (vpc, subnet)
        for account, zone, vpc, subnet in conn.execute(
            sa.text(
                "SELECT s.account_id, s.zone, s.vpc_id, s.id FROM ec2_subnets s "
                "JOIN ec2_account_vpc a ON a.default_vpc_id = s.vpc_id "
                "WHERE s.default_for_az = :yes"
            ),
            {"yes": True},
        )
    }
    rows = conn.execute(
        sa.text(
            "SELECT id, account_id, availability_zone, state, private_ip, mac, launch_time "
            "FROM ec2_instances"
        )
    ).all()
    instances = sa.table(
        "ec2_instances", sa.column("id"), sa.column("vpc_id"), sa.column("subnet_id")
    )
    enis = sa.table(
        "ec2_network_interfaces",
        *(
            sa.column(c)
            for c in [
                "id",
                "account_id",
                "vpc_id",
                "subnet_id",
                "zone",
                "private_ip",
                "mac",
                "description",
                "status",
                "source_dest_check",
                "interface_type",
                "requester_managed",
                "attachment_id",
                "instance_id",
                "device_index",
                "delete_on_termination",
                "attach_time",
                "attachment_status",
                "created_at",
            ]
        ),
    )
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    for iid, account, zone, state, private_ip, mac, launched in rows:
        found = subnets.get((account, zone))
        if found is None:
            continue
        vpc, subnet = found
        conn.execute(
            instances.update().where(instances.c.id == iid).values(vpc_id=vpc, subnet_id=subnet)
        )
        if state not in _LIVE:
            continue
        conn.execute(
            enis.insert().values(
                id=_id("eni"),
                account_id=account,
                vpc_id=vpc,
                subnet_id=subnet,
                zone=zone,
                private_ip=private_ip,
                mac=mac,
                description="",
                status="in-use",
                source_dest_check=True,
                interface_type="interface",
                requester_managed=False,
                attachment_id=_id("eni-attach"),
                instance_id=iid,
                device_index=0,
                delete_on_termination=True,
                attach_time=launched or now,
                attachment_status="attached",
                created_at=launched or now,
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("ec2_addresses", schema=None) as batch_op:
        batch_op.drop_column("private_ip")
        batch_op.drop_column("network_interface_id")
        batch_op.drop_column("domain")
    # Groups of user VPCs cannot keep their names unique per account: they go.
    op.execute(sa.text("DELETE FROM ec2_security_groups WHERE vpc_id <> ''"))
    with op.batch_alter_table("ec2_security_groups", schema=None) as batch_op:
        batch_op.drop_constraint("uq_ec2_sg_account_vpc_name", type_="unique")
        batch_op.create_unique_constraint("uq_ec2_sg_account_name", ["account_id", "name"])
        batch_op.drop_column("vpc_id")
    for column in ("public_ip_on_launch", "subnet_id", "vpc_id"):
        op.execute(f"ALTER TABLE ec2_instances DROP COLUMN {column}")
    op.drop_table("ec2_network_interface_groups")
    op.drop_table("ec2_network_interface_addresses")
    with op.batch_alter_table("ec2_network_interfaces", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_ec2_network_interfaces_instance_id"))
        batch_op.drop_index("ix_ec2_enis_subnet")
        batch_op.drop_index("ix_ec2_enis_account")
    op.drop_table("ec2_network_interfaces")
