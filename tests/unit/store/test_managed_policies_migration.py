"""The managed-policies migration keeps what was there: SQLite rebuilds iam_managed_policies to
let AWS managed policies have no account, which without care deletes every version and
attachment by cascade."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from sqlalchemy import text

from mallee.services.iam.aws_managed import AWS_POLICIES
from mallee.store import Store
from tests.migrations import sqlite_store_at

BEFORE = "6588d18f0df0"
ACCOUNT = "111122223333"


def test_upgrade_keeps_versions_and_attachments(tmp_path: Path) -> None:
    old = sqlite_store_at(tmp_path / "old.db", BEFORE)
    at = dt.datetime.now(dt.UTC)
    rows = (
        "INSERT INTO iam_accounts (id, name, created_at) VALUES (:acct, 'a', :at)",
        "INSERT INTO iam_roles (id, account_id, name, name_key, path, created_at, trust_policy,"
        " max_session_duration) VALUES ('AROAOLD', :acct, 'r', 'r', '/', :at, '{}', 3600)",
        "INSERT INTO iam_managed_policies (id, account_id, arn, name, name_key, path,"
        " default_version, next_version, created_at, updated_at) VALUES ('ANPAOLD', :acct,"
        " 'arn:aws:iam::111122223333:policy/p', 'p', 'p', '/', 'v2', 3, :at, :at)",
        "INSERT INTO iam_policy_versions VALUES ('ANPAOLD', 'v1', '{\"a\": 1}', :at)",
        "INSERT INTO iam_policy_versions VALUES ('ANPAOLD', 'v2', '{\"a\": 2}', :at)",
        "INSERT INTO iam_policy_attachments VALUES ('ANPAOLD', 'role', 'AROAOLD')",
        # Its role is gone: it attaches the policy to nothing.
        "INSERT INTO iam_policy_attachments VALUES ('ANPAOLD', 'role', 'AROAGONE')",
    )
    with old.engine.begin() as conn:
        for sql in rows:
            conn.execute(text(sql), {"acct": ACCOUNT, "at": at})
    old.dispose()
    store = Store(old.url)
    try:
        store.migrate()
        with store.engine.connect() as conn:
            versions = conn.execute(
                text("SELECT version_id FROM iam_policy_versions WHERE policy_id = 'ANPAOLD'")
            ).scalars()
            assert sorted(versions) == ["v1", "v2"]
            attachments = conn.execute(text("SELECT * FROM iam_policy_attachments")).all()
            assert [tuple(a) for a in attachments] == [("ANPAOLD", "role", "AROAOLD", ACCOUNT)]
            aws = conn.execute(
                text("SELECT id FROM iam_managed_policies WHERE account_id IS NULL")
            ).scalars()
            assert sorted(aws) == sorted(p.policy_id for p in AWS_POLICIES)
            assert conn.execute(text("PRAGMA foreign_key_check")).all() == []
    finally:
        store.dispose()
