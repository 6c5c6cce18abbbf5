"""The SQLite database holds every secret key in plain text: its files are owner-only,
whatever the umask of the process that opens it, and an older install's are tightened."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from mallee.services.iam.bootstrap import ensure_system_account
from mallee.store import Store


@pytest.fixture(autouse=True)
def loose_umask() -> Iterator[None]:
    old = os.umask(0o022)
    yield
    os.umask(old)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_new_database_files_are_owner_only(tmp_path: Path) -> None:
    db = tmp_path / "mallee.db"
    store = Store(f"sqlite:///{db}")
    try:
        store.migrate()
        ensure_system_account(store)
        with store.read() as s:  # a reader keeps the -wal and -shm files in place
            s.connection()
            files = [db, tmp_path / "mallee.db-wal", tmp_path / "mallee.db-shm"]
            assert all(f.exists() for f in files)
            assert [mode(f) for f in files] == [0o600, 0o600, 0o600]
    finally:
        store.dispose()


def test_an_old_installs_database_files_are_tightened(tmp_path: Path) -> None:
    db = tmp_path / "mallee.db"
    first = Store(f"sqlite:///{db}")
    first.migrate()
    first.dispose()
    for name in ("mallee.db", "mallee.db-wal", "mallee.db-shm"):
        (tmp_path / name).touch()
        os.chmod(tmp_path / name, 0o644)
    Store(f"sqlite:///{db}").dispose()
    assert [mode(tmp_path / n) for n in ("mallee.db", "mallee.db-wal", "mallee.db-shm")] == [
        0o600
    ] * 3
