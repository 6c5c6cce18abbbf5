"""SQLite writers in different processes (here: stores) wait for the write lock."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from mallee.store import Store, db


def hold_lock(store: Store, seconds: float, held: threading.Event) -> threading.Thread:
    def run() -> None:
        with store.session() as s:
            s.execute(text("CREATE TABLE IF NOT EXISTS t (x INTEGER)"))
            held.set()
            time.sleep(seconds)

    thread = threading.Thread(target=run)
    thread.start()
    return thread


def test_a_writer_waits_for_the_lock_and_then_writes(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'lock.db'}"
    first, second = Store(url), Store(url)
    held = threading.Event()
    holder = hold_lock(first, 0.05, held)
    held.wait()
    start = time.monotonic()
    with second.session() as s:
        s.execute(text("INSERT INTO t VALUES (1)"))
        waited = time.monotonic() - start
    holder.join()
    assert waited >= 0.03  # it had the lock only once the holder let go
    with first.read() as s:
        assert s.execute(text("SELECT count(*) FROM t")).scalar() == 1


def test_a_writer_gives_up_after_the_timeout(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"sqlite:///{tmp_path / 'lock.db'}"
    first, second = Store(url), Store(url)
    monkeypatch.setattr(db, "WRITE_LOCK_TIMEOUT", 0.1)
    held = threading.Event()
    holder = hold_lock(first, 0.5, held)
    held.wait()
    with pytest.raises(OperationalError, match="locked"), second.session() as s:
        s.execute(text("INSERT INTO t VALUES (1)"))
    holder.join()
