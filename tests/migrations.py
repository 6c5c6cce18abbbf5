"""Databases at an older schema revision, for tests of what a migration does to existing rows."""

from __future__ import annotations

from pathlib import Path

from alembic import command

from mallee.store import Store
from mallee.store.migrate import alembic_config


def sqlite_store_at(path: Path, revision: str) -> Store:
    """A SQLite store at `path` migrated up to `revision` only (dispose it when done)."""
    url = f"sqlite:///{path}"
    store = Store(url)
    with store.engine.begin() as conn:
        cfg = alembic_config(url)
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)
    return store
