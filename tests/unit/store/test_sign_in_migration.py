"""The sign-in throttle migration: sessions issued before it learn which STS operation issued
them from what they already record."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from sqlalchemy import text

from mallee.identity.credentials import invalidate, lookup_credential
from mallee.store import Store
from tests.migrations import sqlite_store_at

BEFORE = "89861c6968e4"
_NOW = dt.datetime.now(dt.UTC)


def test_upgrade_names_the_issuer_of_every_session(tmp_path: Path) -> None:
    old = sqlite_store_at(tmp_path / "old.db", BEFORE)
    rows = {
        "ASIASESSIONTOKEN0001": ("user", "AKIALONGTERM00000001"),
        "ASIAACCESSTOKEN00001": ("user", None),
        "ASIAROOTSESSION00001": ("root", "AKIALONGTERM00000002"),
        "ASIAASSUMEDROLE00001": ("assumed-role", "AKIALONGTERM00000001"),
    }
    with old.session() as s:
        s.execute(
            text(
                "INSERT INTO iam_accounts (id, name, created_at) VALUES ('123456789012', 'a', :t)"
            ),
            {"t": _NOW},
        )
        for key, (kind, source) in rows.items():
            s.execute(
                text(
                    "INSERT INTO sts_sessions (id, secret, session_token, account_id, kind,"
                    " entity_id, arn, user_id, name, session_policy, source_access_key,"
                    " created_at, expires_at) VALUES (:id, 's', 't', '123456789012', :kind,"
                    " NULL, 'arn', 'uid', 'n', NULL, :source, :t, :expires)"
                ),
                {"id": key, "kind": kind, "source": source, "t": _NOW, "expires": 4e9},
            )
    old.dispose()
    store = Store(old.url)
    try:
        store.migrate()
        invalidate()
        issued = {}
        for key in rows:
            found = lookup_credential(store, key)
            assert found is not None
            issued[key] = found.principal.issued_by
        assert issued == {
            "ASIASESSIONTOKEN0001": "GetSessionToken",
            "ASIAACCESSTOKEN00001": "GetAccessToken",
            "ASIAROOTSESSION00001": "GetSessionToken",
            "ASIAASSUMEDROLE00001": "AssumeRole",
        }
    finally:
        store.dispose()
