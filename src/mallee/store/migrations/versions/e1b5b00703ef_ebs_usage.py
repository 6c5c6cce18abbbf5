"""ebs usage: volume counters and account ebs usage

Revision ID: e1b5b00703ef
Revises: e1b5b00702cd
Create Date: 2026-12-07 09:10:00

- ebs_usage: each account's volumes (those not `deleted`) and their GiB, kept by triggers on
  ec2_volumes as node_usage is kept on ec2_instances (89861c6968e4), so a quota reads one row.
- volume_counters: each attached volume's I/O counters, sampled by its node.
- ec2_volume_attachments.export_tag: the NBD export of each attachment has a name of its own.
- ebs_released_volumes: a volume row deleted while its file exists (its account deleted, the
  rows cascading away), written by a trigger in that transaction; its storage agent frees it.

The triggers read no other table than their own (SQLite refuses to rename a table a trigger
of another table names, which batch mode does). SQLite drops a table's triggers with it: a
later migration that makes batch mode recreate ec2_volumes must create them again.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "e1b5b00703ef"
down_revision = "e1b5b00702cd"
branch_labels = None
depends_on = None

# Adds one volume's share (sign 1) or takes it away (sign -1); {row} is OLD or NEW.
_ADD = """
INSERT INTO ebs_usage (account_id, volumes, volume_gib)
VALUES ({row}.account_id, {sign}, {sign} * {row}.size_gib)
ON CONFLICT (account_id) DO UPDATE SET
    volumes = ebs_usage.volumes + excluded.volumes,
    volume_gib = ebs_usage.volume_gib + excluded.volume_gib;
"""
_HOLDS = "({row}.state <> 'deleted')"
# Most updates (creating -> available -> in-use) leave what the volume holds alone.
_SAME_SHARE = (
    "(OLD.account_id = NEW.account_id AND (OLD.state <> 'deleted') = (NEW.state <> 'deleted')"
    " AND OLD.size_gib = NEW.size_gib)"
)
_COLUMNS = "account_id, state, size_gib"

_SQLITE_TRIGGERS = {
    "ebs_usage_insert": (
        "AFTER INSERT ON ec2_volumes",
        _HOLDS.format(row="NEW"),
        _ADD.format(row="NEW", sign=1),
    ),
    "ebs_usage_delete": (
        "AFTER DELETE ON ec2_volumes",
        _HOLDS.format(row="OLD"),
        _ADD.format(row="OLD", sign=-1),
    ),
    "ebs_usage_release": (
        f"AFTER UPDATE OF {_COLUMNS} ON ec2_volumes",
        f"{_HOLDS.format(row='OLD')} AND NOT {_SAME_SHARE}",
        _ADD.format(row="OLD", sign=-1),
    ),
    "ebs_usage_take": (
        f"AFTER UPDATE OF {_COLUMNS} ON ec2_volumes",
        f"{_HOLDS.format(row='NEW')} AND NOT {_SAME_SHARE}",
        _ADD.format(row="NEW", sign=1),
    ),
}

_PG_USAGE = f"""
CREATE FUNCTION ebs_usage_track() RETURNS trigger LANGUAGE plpgsql AS $$
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
    IF TG_OP = 'UPDATE' AND {_SAME_SHARE} THEN
        RETURN NULL;
    END IF;
    IF was THEN {_ADD.format(row="OLD", sign=-1)} END IF;
    IF holds THEN {_ADD.format(row="NEW", sign=1)} END IF;
    RETURN NULL;
END
$$;
"""
_PG_USAGE_TRIGGER = f"""
CREATE TRIGGER ebs_usage_track
AFTER INSERT OR DELETE OR UPDATE OF {_COLUMNS} ON ec2_volumes
FOR EACH ROW EXECUTE FUNCTION ebs_usage_track();
"""

# A volume row that goes while its file is there: only its account's deletion does that (a
# deleted volume's file went before its row reached `deleted`; an unclaimed one has none).
_RELEASES = "(OLD.state <> 'deleted' AND OLD.storage_host <> '')"
_RELEASE = """
INSERT INTO ebs_released_volumes (volume_id, storage_host) VALUES (OLD.id, OLD.storage_host)
ON CONFLICT (volume_id) DO NOTHING;
"""
_PG_RELEASE = f"""
CREATE FUNCTION ebs_release_volume() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF {_RELEASES} THEN {_RELEASE} END IF;
    RETURN NULL;
END
$$;
"""
_PG_RELEASE_TRIGGER = """
CREATE TRIGGER ebs_release_volume
AFTER DELETE ON ec2_volumes
FOR EACH ROW EXECUTE FUNCTION ebs_release_volume();
"""


def upgrade() -> None:
    op.create_table(
        "ebs_usage",
        sa.Column("account_id", sa.String(length=12), nullable=False),
        sa.Column("volumes", sa.Integer(), nullable=False),
        sa.Column("volume_gib", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("account_id"),
    )
    op.create_table(
        "volume_counters",
        sa.Column("volume_id", sa.String(length=32), nullable=False),
        sa.Column("instance_id", sa.String(length=32), nullable=False),
        sa.Column("sampled_at", sa.Float(), nullable=False),
        sa.Column("read_bytes", sa.BigInteger(), nullable=False),
        sa.Column("write_bytes", sa.BigInteger(), nullable=False),
        sa.Column("read_ops", sa.BigInteger(), nullable=False),
        sa.Column("write_ops", sa.BigInteger(), nullable=False),
        sa.Column("read_seconds", sa.Float(), nullable=False),
        sa.Column("write_seconds", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("volume_id"),
    )
    op.create_table(
        "ebs_released_volumes",
        sa.Column("volume_id", sa.String(length=32), nullable=False),
        sa.Column("storage_host", sa.String(length=255), nullable=False),
        sa.PrimaryKeyConstraint("volume_id"),
    )
    op.create_index(
        "ix_ebs_released_volumes_storage_host", "ebs_released_volumes", ["storage_host"]
    )
    with op.batch_alter_table("ec2_volume_attachments", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("export_tag", sa.String(length=16), nullable=False, server_default="")
        )
    # Triggers first, then the count, in one transaction (see 89861c6968e4).
    if op.get_bind().dialect.name == "sqlite":
        for name, (event, when, body) in _SQLITE_TRIGGERS.items():
            op.execute(f"CREATE TRIGGER {name} {event} WHEN {when} BEGIN {body} END")
        op.execute(
            "CREATE TRIGGER ebs_release_volume AFTER DELETE ON ec2_volumes"
            f" WHEN {_RELEASES} BEGIN {_RELEASE} END"
        )
    else:
        op.execute(_PG_USAGE)
        op.execute(_PG_USAGE_TRIGGER)
        op.execute(_PG_RELEASE)
        op.execute(_PG_RELEASE_TRIGGER)
    op.execute(
        "INSERT INTO ebs_usage (account_id, volumes, volume_gib)"
        " SELECT account_id, count(*), sum(size_gib) FROM ec2_volumes"
        " WHERE state <> 'deleted' GROUP BY account_id"
    )


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for name in (*_SQLITE_TRIGGERS, "ebs_release_volume"):
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
    else:
        op.execute("DROP TRIGGER ebs_release_volume ON ec2_volumes")
        op.execute("DROP FUNCTION ebs_release_volume()")
        op.execute("DROP TRIGGER ebs_usage_track ON ec2_volumes")
        op.execute("DROP FUNCTION ebs_usage_track()")
    with op.batch_alter_table("ec2_volume_attachments", schema=None) as batch_op:
        batch_op.drop_column("export_tag")
    op.drop_index("ix_ebs_released_volumes_storage_host", table_name="ebs_released_volumes")
    op.drop_table("ebs_released_volumes")
    op.drop_table("volume_counters")
    op.drop_table("ebs_usage")
