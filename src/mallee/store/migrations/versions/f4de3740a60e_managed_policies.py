"""managed policies

AWS managed policies join iam_managed_policies as rows of no account (account_id NULL),
written here from the seed file store/seeds/aws_managed_policies.json; attachments record
their owner's account (an AWS managed policy is attached in many), and users and roles get a
permissions boundary.

Revision ID: f4de3740a60e
Revises: 6588d18f0df0
Create Date: 2026-12-07 02:28:35.641964
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from alembic import op

from mallee.store.seeds import aws_managed_policies

revision = "f4de3740a60e"
down_revision = "6588d18f0df0"
branch_labels = None
depends_on = None

_ATTACHMENT_ACCOUNT_FK = "fk_iam_policy_attachments_account_id"

_policies = sa.table(
    "iam_managed_policies",
    sa.column("id", sa.String),
    sa.column("account_id", sa.String),
    sa.column("arn", sa.String),
    sa.column("name", sa.String),
    sa.column("name_key", sa.String),
    sa.column("path", sa.String),
    sa.column("description", sa.String),
    sa.column("default_version", sa.String),
    sa.column("next_version", sa.Integer),
    sa.column("created_at", sa.DateTime(timezone=True)),
    sa.column("updated_at", sa.DateTime(timezone=True)),
)
_versions = sa.table(
    "iam_policy_versions",
    sa.column("policy_id", sa.String),
    sa.column("version_id", sa.String),
    sa.column("document", sa.Text),
    sa.column("created_at", sa.DateTime(timezone=True)),
)
_attachments = sa.table(
    "iam_policy_attachments",
    sa.column("policy_id", sa.String),
    sa.column("owner_type", sa.String),
    sa.column("owner_id", sa.String),
)


@contextmanager
def _children_kept() -> Iterator[None]:
    """SQLite rebuilds a table to change a column's NULL-ness; with foreign keys on, dropping
    the old iam_managed_policies deletes its versions and attachments by cascade. They are
    kept aside and put back."""
    bind = op.get_bind()
    if bind.dialect.name != "sqlite":
        yield
        return
    kept: dict[Any, list[dict[str, Any]]] = {
        t: [dict(r._mapping) for r in bind.execute(sa.select(t))] for t in (_versions, _attachments)
    }
    yield
    for t, rows in kept.items():
        bind.execute(t.delete())
        if rows:
            bind.execute(t.insert(), rows)


def _account_of(kind: str, table: str) -> str:
    return (
        f"(SELECT account_id FROM {table} WHERE {table}.id = iam_policy_attachments.owner_id"
        f" AND iam_policy_attachments.owner_type = '{kind}')"
    )


def upgrade() -> None:
    with (
        _children_kept(),
        op.batch_alter_table("iam_managed_policies", schema=None) as batch_op,
    ):
        batch_op.alter_column("account_id", existing_type=sa.VARCHAR(length=12), nullable=True)

    with op.batch_alter_table("iam_policy_attachments", schema=None) as batch_op:
        batch_op.add_column(sa.Column("account_id", sa.String(length=12), nullable=True))
    owners = ", ".join(
        _account_of(kind, table)
        for kind, table in (("user", "iam_users"), ("group", "iam_groups"), ("role", "iam_roles"))
    )
    op.execute(f"UPDATE iam_policy_attachments SET account_id = COALESCE({owners})")
    # An attachment whose owner is gone attaches the policy to nothing.
    op.execute("DELETE FROM iam_policy_attachments WHERE account_id IS NULL")
    with op.batch_alter_table("iam_policy_attachments", schema=None) as batch_op:
        batch_op.alter_column("account_id", existing_type=sa.String(length=12), nullable=False)
        batch_op.create_index(
            batch_op.f("ix_iam_policy_attachments_account_id"), ["account_id"], unique=False
        )
        batch_op.create_foreign_key(
            _ATTACHMENT_ACCOUNT_FK, "iam_accounts", ["account_id"], ["id"], ondelete="CASCADE"
        )

    # Plain ADD COLUMN: iam_users and iam_roles are parents of many tables, never rebuilt.
    op.add_column("iam_users", sa.Column("permissions_boundary", sa.String(2048), nullable=True))
    op.add_column("iam_roles", sa.Column("permissions_boundary", sa.String(2048), nullable=True))

    policies = aws_managed_policies()
    op.bulk_insert(
        _policies,
        [
            {
                "id": p["policy_id"],
                "account_id": None,
                "arn": f"arn:aws:iam::aws:policy{p['path']}{p['name']}",
                "name": p["name"],
                "name_key": p["name"].lower(),
                "path": p["path"],
                "description": p["description"],
                "default_version": p["version"],
                "next_version": int(p["version"][1:]) + 1,
                "created_at": _at(p["created"]),
                "updated_at": _at(p["updated"]),
            }
            for p in policies
        ],
    )
    op.bulk_insert(
        _versions,
        [
            {
                "policy_id": p["policy_id"],
                "version_id": p["version"],
                "document": json.dumps(
                    {"Version": "2012-10-17", "Statement": p["statements"]}, indent=2
                ),
                "created_at": _at(p["updated"]),
            }
            for p in policies
        ],
    )


def _at(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%d %H:%M").replace(tzinfo=UTC)


def downgrade() -> None:
    # The AWS managed policies go, and with them (cascade) their versions and attachments.
    op.execute("DELETE FROM iam_managed_policies WHERE account_id IS NULL")
    op.drop_column("iam_roles", "permissions_boundary")
    op.drop_column("iam_users", "permissions_boundary")

    with op.batch_alter_table("iam_policy_attachments", schema=None) as batch_op:
        batch_op.drop_constraint(_ATTACHMENT_ACCOUNT_FK, type_="foreignkey")
        batch_op.drop_index(batch_op.f("ix_iam_policy_attachments_account_id"))
        batch_op.drop_column("account_id")

    with (
        _children_kept(),
        op.batch_alter_table("iam_managed_policies", schema=None) as batch_op,
    ):
        batch_op.alter_column("account_id", existing_type=sa.VARCHAR(length=12), nullable=False)
