"""Concurrent puts share one transaction; a put that fails alone never fails the others."""

from __future__ import annotations

import datetime as dt
import threading
import time

import pytest
from sqlalchemy.exc import IntegrityError

from mallee.metrics import group_commit
from mallee.metrics import store as metrics
from mallee.metrics.group_commit import GroupCommit
from mallee.metrics.points import Datum
from mallee.store import Store
from mallee.store.tables.iam import IamAccount

ACCOUNT = "111122223333"
NOW = 1_800_000_000.0


@pytest.fixture
def db(store: Store) -> Store:
    with store.session() as s:
        s.add(IamAccount(id=ACCOUNT, name="acct", created_at=dt.datetime.now(dt.UTC)))
    return store


def data(name: str, account: str = ACCOUNT) -> list[Datum]:
    return [
        Datum(account, "Test", name, (), NOW - 600 + i * 30, "None", 1.0, i, i, i, ((i, 1.0),))
        for i in range(20)
    ]


def counted(store: Store, name: str) -> float:
    with store.read() as s:
        found = metrics.statistics(s, ACCOUNT, "Test", name, (), NOW - 3600, NOW, 3600, now=NOW)
    return sum(b.count for b in found)


def run_grouped(
    db: Store, monkeypatch: pytest.MonkeyPatch, puts: list[list[Datum]]
) -> tuple[list[int], dict[int, BaseException]]:
    """The first put leads and is held inside its transaction while the others queue; returns
    the sizes of the transactions made and the errors each put raised."""
    gate = threading.Event()
    sizes: list[int] = []
    real = metrics.put

    def held(s: object, batch: list[Datum], *, now: float) -> None:
        sizes.append(len(batch))
        if len(sizes) == 1:
            gate.wait(10)
        real(s, batch, now=now)  # type: ignore[arg-type]

    monkeypatch.setattr(group_commit.metrics, "put", held)
    commits = GroupCommit(db)
    errors: dict[int, BaseException] = {}

    def one(n: int) -> None:
        try:
            commits.put(puts[n], NOW)
        except BaseException as err:
            errors[n] = err

    threads = [threading.Thread(target=one, args=(n,)) for n in range(len(puts))]
    threads[0].start()
    while not sizes:
        time.sleep(0.01)
    for t in threads[1:]:
        t.start()
    while len(commits._queue) < len(puts) - 1:
        time.sleep(0.01)
    gate.set()
    for t in threads:
        t.join(10)
    return sizes, errors


def test_puts_waiting_for_a_commit_share_the_next(
    db: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    sizes, errors = run_grouped(db, monkeypatch, [data(f"M{n}") for n in range(5)])
    assert sizes == [20, 80] and not errors
    assert [counted(db, f"M{n}") for n in range(5)] == [20.0] * 5


def test_a_failing_put_of_a_group_fails_alone(db: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    puts = [data("M0"), data("M1"), data("Bad", account="999999999999"), data("M3")]
    sizes, errors = run_grouped(db, monkeypatch, puts)
    # The group's transaction failed on the unknown account; each of its puts then ran alone.
    assert sizes == [20, 60, 20, 20, 20]
    assert list(errors) == [2] and isinstance(errors[2], IntegrityError)
    assert [counted(db, n) for n in ("M0", "M1", "M3")] == [20.0] * 3
