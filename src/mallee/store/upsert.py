"""Insert-or-overwrite by primary key, in one statement for many rows (SQLite and PostgreSQL)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, cast

from sqlalchemy import Table
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from mallee.store.db import Base


def upsert(s: Session, entity: type[Base], rows: Sequence[dict[str, Any]]) -> None:
    """Write `rows` (all with the same keys): new primary keys are inserted, existing ones get
    the other columns overwritten. Unlike Session.merge, no row is read first."""
    if not rows:
        return
    table = cast(Table, entity.__table__)
    keys = [c.name for c in table.primary_key.columns]
    if s.get_bind().dialect.name == "sqlite":
        lite = sqlite_insert(table)
        statement: Any = lite.on_conflict_do_update(
            index_elements=keys, set_={c: lite.excluded[c] for c in rows[0] if c not in keys}
        )
    else:
        pg = pg_insert(table)
        statement = pg.on_conflict_do_update(
            index_elements=keys, set_={c: pg.excluded[c] for c in rows[0] if c not in keys}
        )
    s.connection().execute(statement, list(rows))
