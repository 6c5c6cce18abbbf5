"""node usage counters

Revision ID: 89861c6968e4
Revises: 9fff7e189be3
Create Date: 2026-12-02 06:40:17.320705

What each node's holding instances (pending, running, stopping, shutting-down) take, kept by
triggers on ec2_instances so no code path can forget it: capacity reads one row per node
instead of summing every instance at each launch.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "89861c6968e4"
down_revision = "9fff7e189be3"
branch_labels = None
depends_on = None

HOLDING = "('pending', 'running', 'stopping', 'shutting-down')"
# Adds one instance's share (sign 1) or takes it away (sign -1); {row} is OLD or NEW.
_ADD = """
INSERT INTO node_usage (node, cores, memory_mb, disk_gb, instances)
VALUES ({row}.node, {sign} * {row}.cores, {sign} * {row}.memory_mb, {sign} * {row}.disk_gb,
        {sign})
ON CONFLICT (node) DO UPDATE SET
    cores = node_usage.cores + excluded.cores,
    memory_mb = node_usage.memory_mb + excluded.memory_mb,
    disk_gb = node_usage.disk_gb + excluded.disk_gb,
    instances = node_usage.instances + excluded.instances;
"""
_HOLDS = "({row}.node IS NOT NULL AND {row}.state IN " + HOLDING + ")"
# An update moves the counters only when it changes what the instance holds where: a pending
# instance turning running (the common update) leaves them alone.
_SAME_SHARE = (
    f"(OLD.node IS NEW.node AND (OLD.state IN {HOLDING}) = (NEW.state IN {HOLDING})"
    " AND OLD.cores = NEW.cores AND OLD.memory_mb = NEW.memory_mb"
    " AND OLD.disk_gb = NEW.disk_gb)"
)

_SQLITE_TRIGGERS = {
    "node_usage_insert": (
        "AFTER INSERT ON ec2_instances",
        _HOLDS.format(row="NEW"),
        _ADD.format(row="NEW", sign=1),
    ),
    "node_usage_delete": (
        "AFTER DELETE ON ec2_instances",
        _HOLDS.format(row="OLD"),
        _ADD.format(row="OLD", sign=-1),
    ),
    "node_usage_release": (
        "AFTER UPDATE OF node, state, cores, memory_mb, disk_gb ON ec2_instances",
        f"{_HOLDS.format(row='OLD')} AND NOT {_SAME_SHARE}",
        _ADD.format(row="OLD", sign=-1),
    ),
    "node_usage_take": (
        "AFTER UPDATE OF node, state, cores, memory_mb, disk_gb ON ec2_instances",
        f"{_HOLDS.format(row='NEW')} AND NOT {_SAME_SHARE}",
        _ADD.format(row="NEW", sign=1),
    ),
}

_PG_FUNCTION = f"""
CREATE FUNCTION node_usage_track() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    was boolean := false;
    holds boolean := false;
BEGIN
    IF TG_OP <> 'INSERT' THEN
        was := {_HOLDS.format(row="OLD")};
    END IF;
    IF TG_OP <> 'DELETE' THEN
        holds := {_HOLDS.format(row="NEW")};
    END IF;
    IF TG_OP = 'UPDATE' AND {_SAME_SHARE.replace(" IS NEW.node", " IS NOT DISTINCT FROM NEW.node")}
    THEN
        RETURN NULL;
    END IF;
    IF was THEN {_ADD.format(row="OLD", sign=-1)} END IF;
    IF holds THEN {_ADD.format(row="NEW", sign=1)} END IF;
    RETURN NULL;
END
$$;
"""
_PG_TRIGGER = """
CREATE TRIGGER node_usage_track
AFTER INSERT OR DELETE OR UPDATE OF node, state, cores, memory_mb, disk_gb ON ec2_instances
FOR EACH ROW EXECUTE FUNCTION node_usage_track();
"""


def upgrade() -> None:
    op.create_table(
        "node_usage",
        sa.Column("node", sa.String(length=255), nullable=False),
        sa.Column("cores", sa.Integer(), nullable=False),
        sa.Column("memory_mb", sa.BigInteger(), nullable=False),
        sa.Column("disk_gb", sa.BigInteger(), nullable=False),
        sa.Column("instances", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("node"),
    )
    # Triggers first, then the count, in one transaction: on PostgreSQL CREATE TRIGGER locks
    # out writers of ec2_instances until the migration commits, so no change falls between
    # the count's snapshot and the triggers (SQLite migrates under its one write lock).
    if op.get_bind().dialect.name == "sqlite":
        for name, (event, when, body) in _SQLITE_TRIGGERS.items():
            op.execute(f"CREATE TRIGGER {name} {event} WHEN {when} BEGIN {body} END")
    else:
        op.execute(_PG_FUNCTION)
        op.execute(_PG_TRIGGER)
    op.execute(
        "INSERT INTO node_usage (node, cores, memory_mb, disk_gb, instances)"
        " SELECT node, sum(cores), sum(memory_mb), sum(disk_gb), count(*) FROM ec2_instances"
        f" WHERE node IS NOT NULL AND state IN {HOLDING} GROUP BY node"
    )


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for name in _SQLITE_TRIGGERS:
            op.execute(f"DROP TRIGGER {name}")
    else:
        op.execute("DROP TRIGGER node_usage_track ON ec2_instances")
        op.execute("DROP FUNCTION node_usage_track()")
    op.drop_table("node_usage")
