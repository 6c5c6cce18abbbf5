"""The state store on SQLite and PostgreSQL: durability settings and migrations."""

from __future__ import annotations

from sqlalchemy import inspect, text

from mallee.store import Base, Store


def test_migrations_create_every_table(store: Store) -> None:
    tables = set(inspect(store.engine).get_table_names())
    assert set(Base.metadata.tables) <= tables
    assert "alembic_version" in tables


def test_migrate_twice_is_a_no_op(store: Store) -> None:
    store.migrate()
    with store.read() as s:
        versions = s.execute(text("SELECT version_num FROM alembic_version")).all()
    assert len(versions) == 1


def test_sqlite_is_durable(store: Store) -> None:
    if not store.is_sqlite:
        return
    with store.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        # 2 = FULL: every commit is fsynced before it is acknowledged.
        assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 2
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1


def test_write_commits_and_failure_rolls_back(store: Store) -> None:
    with store.session() as s:
        s.execute(text("CREATE TABLE scratch (v INTEGER)"))
    with store.session() as s:
        s.execute(text("INSERT INTO scratch VALUES (1)"))
    try:
        with store.session() as s:
            s.execute(text("INSERT INTO scratch VALUES (2)"))
            raise RuntimeError("boom")
    except RuntimeError:
        pass
    with store.read() as s:
        assert s.execute(text("SELECT v FROM scratch")).scalars().all() == [1]


def test_a_second_store_sees_committed_writes(store: Store) -> None:
    with store.session() as s:
        s.execute(text("CREATE TABLE scratch2 (v INTEGER)"))
        s.execute(text("INSERT INTO scratch2 VALUES (7)"))
    other = Store(store.url)
    try:
        with other.read() as s:
            assert s.execute(text("SELECT v FROM scratch2")).scalar() == 7
    finally:
        other.dispose()
