"""The Alembic revisions and the tables in code describe the same schema."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from mallee.store import Base, Store


def test_migrations_match_the_tables_in_code(store: Store) -> None:
    with store.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert diff == [], "run `mallee db revision -m ...` to write the missing migration"
