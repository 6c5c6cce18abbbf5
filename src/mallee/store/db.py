"""The database handle. SQLite (WAL, synchronous=FULL) by default, PostgreSQL by URL."""

from __future__ import annotations

import contextlib
import logging
import os
import sqlite3
import stat
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, event, make_url
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.pool import NullPool

log = logging.getLogger(__name__)


class Base(DeclarativeBase):
    pass


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    # WAL + FULL: a commit is on disk before we acknowledge it; readers never block the writer.
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=FULL")
    cur.execute("PRAGMA foreign_keys=ON")
    # Several processes (api workers, controller) share the file: wait for the lock, not fail.
    cur.execute("PRAGMA busy_timeout=10000")
    cur.close()
    # Let SQLAlchemy's "begin" event issue BEGIN, instead of pysqlite's lazy implicit one.
    dbapi_conn.isolation_level = None


def _driver_begin(conn: Any, statement: str) -> None:
    # On the driver's connection: SQLAlchemy's statement execution costs ten times the BEGIN.
    # Its errors come out as SQLAlchemy would have raised them (callers catch those).
    try:
        conn.connection.dbapi_connection.execute(statement)
    except sqlite3.Error as err:
        raise DBAPIError.instance(statement, None, err, sqlite3.Error) from err


def _begin_deferred(conn: Any) -> None:
    _driver_begin(conn, "BEGIN")


# Waiting for the write lock: SQLite's own busy handler sleeps 1, 2, 5, 10, ... ms between
# tries, so a writer behind a transaction that holds the lock for half a millisecond waits
# milliseconds. Writers here poll at a finer grain (up to WRITE_LOCK_TIMEOUT in all).
WRITE_LOCK_TIMEOUT = 10.0
_FIRST_PAUSE, _MAX_PAUSE = 0.0001, 0.002


def _write_engine_pragmas(dbapi_conn: Any, record: Any) -> None:
    _sqlite_pragmas(dbapi_conn, record)
    # BEGIN IMMEDIATE is the one statement of a write transaction that waits for another
    # process (see _begin_immediate); it answers "busy" at once and is retried here.
    dbapi_conn.execute("PRAGMA busy_timeout=0")


def _begin_immediate(conn: Any) -> None:
    # Take the write lock at BEGIN so two writers never deadlock upgrading a read lock.
    deadline = time.monotonic() + WRITE_LOCK_TIMEOUT
    pause = _FIRST_PAUSE
    while True:
        try:
            _driver_begin(conn, "BEGIN IMMEDIATE")
            return
        except OperationalError as err:
            if "locked" not in str(err.orig) or time.monotonic() > deadline:
                raise
        time.sleep(pause)
        pause = min(pause * 1.5, _MAX_PAUSE)


# PostgreSQL aborts one of two transactions that wait on each other (deadlock) or that it
# could not serialize; the aborted one did nothing, so its work may simply run again.
_RETRYABLE_SQLSTATES = frozenset({"40P01", "40001"})


def retryable(err: BaseException) -> bool:
    """Whether `err` aborted a transaction that may be run again as it was."""
    orig = getattr(err, "orig", None)
    return getattr(orig, "sqlstate", None) in _RETRYABLE_SQLSTATES


def _driver_url(url: str) -> str:
    if url.startswith("postgresql://"):
        return "postgresql+psycopg://" + url[len("postgresql://") :]
    return url


def _private_sqlite_files(url: str) -> None:
    """The database file, made owner-only whatever the process' umask (it holds every secret
    key in plain text); SQLite gives the -wal and -shm files it creates the same mode, and
    those an older mallee left readable are tightened here too."""
    database = make_url(url).database
    if not database or database == ":memory:" or database.startswith("file:"):
        return
    path = Path(database)
    # Not there (or not ours to make): SQLite says why when it connects.
    with contextlib.suppress(FileNotFoundError, PermissionError):
        os.close(os.open(path, os.O_RDONLY | os.O_CREAT, 0o600))
    for name in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        try:
            mode = name.stat().st_mode
            if mode & 0o077:
                os.chmod(name, stat.S_IMODE(mode) & ~0o077)
        except FileNotFoundError:
            continue
        except PermissionError:
            log.warning("%s is readable by others and not ours to change", name)


def make_engine(url: str, *, write: bool = True) -> Engine:
    if url.startswith("sqlite"):
        _private_sqlite_files(url)
        engine = create_engine(url, connect_args={"check_same_thread": False})
        event.listen(engine, "connect", _write_engine_pragmas if write else _sqlite_pragmas)
        event.listen(engine, "begin", _begin_immediate if write else _begin_deferred)
        return engine
    return create_engine(_driver_url(url), pool_pre_ping=True, pool_size=5, max_overflow=10)


class Store:
    """One per process. `session()` is a unit of work: committed on success, else rolled back."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = make_engine(url)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        # SQLite: reads get their own engine so they do not queue behind the write lock.
        self.read_engine = make_engine(url, write=False) if self.is_sqlite else self.engine
        self._read_sessions = sessionmaker(self.read_engine, expire_on_commit=False)

    @property
    def is_sqlite(self) -> bool:
        return self.engine.dialect.name == "sqlite"

    @contextmanager
    def session(self) -> Iterator[Session]:
        with self._sessions() as session, session.begin():
            yield session

    @contextmanager
    def read(self) -> Iterator[Session]:
        """A read-only unit of work (never commits)."""
        # Closing the session rolls its transaction back.
        with self._read_sessions() as session:
            yield session

    def migrate(self) -> None:
        """Bring the schema to the newest version."""
        from mallee.store.migrate import upgrade

        upgrade(self)

    def dispose(self) -> None:
        self.engine.dispose()
        self.read_engine.dispose()


def null_pool_engine(url: str) -> Engine:
    """A pool-less engine for short-lived tools (migrations) so no connection lingers."""
    return create_engine(_driver_url(url), poolclass=NullPool)
