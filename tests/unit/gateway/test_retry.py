"""Transactions PostgreSQL aborts for a conflict are recognised, and the chain runs them again."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError, OperationalError

from mallee.api.context import RequestContext
from mallee.api.http import HttpRequest
from mallee.api.models import load_service_model
from mallee.config import Settings
from mallee.gateway.catalog import by_signing_name
from mallee.gateway.chain import TRANSACTION_ATTEMPTS, Chain
from mallee.services.base import Provider, Runtime
from mallee.store import Store
from mallee.store.db import retryable


class _Conflict(Exception):
    sqlstate = "40P01"


def _deadlock() -> DBAPIError:
    return OperationalError("UPDATE ...", None, _Conflict("deadlock detected"))


class _Provider(Provider):
    """Fails its first `fails` calls with a deadlock, then answers."""

    service = "ec2"
    action_prefix = "ec2"

    def __init__(self, fails: int) -> None:  # the runtime is the chain's, passed to each call
        self.fails, self.calls = fails, 0
        self.operations = {"DescribeRegions": self.describe_regions}  # type: ignore[misc]

    def describe_regions(
        self, runtime: Runtime, ctx: RequestContext, params: dict[str, Any]
    ) -> dict[str, Any]:
        self.calls += 1
        if self.calls <= self.fails:
            raise _deadlock()
        return {"Regions": []}


def _dispatch(store: Store, tmp_path: Path, provider: _Provider, streamed: bool = False) -> Any:
    chain = Chain(Runtime(settings=Settings(data_dir=tmp_path), store=store))
    spec = by_signing_name()["ec2"][0]
    chain._providers[spec.name] = provider  # type: ignore[assignment]
    http = HttpRequest("POST", "/", "", {})
    if streamed:
        http.stream = iter(())  # type: ignore[assignment]
    operation = load_service_model("ec2").operation_model("DescribeRegions")
    ctx = RequestContext("r-1", "ec2", "eucalyptus", http, operation=operation)
    return chain.dispatch(spec, ctx)


def test_a_deadlocked_handler_runs_again(store: Store, tmp_path: Path) -> None:
    provider = _Provider(fails=TRANSACTION_ATTEMPTS - 1)
    assert _dispatch(store, tmp_path, provider) == {"Regions": []}
    assert provider.calls == TRANSACTION_ATTEMPTS


def test_attempts_are_bounded_and_streamed_requests_not_retried(
    store: Store, tmp_path: Path
) -> None:
    with pytest.raises(OperationalError):
        _dispatch(store, tmp_path, _Provider(fails=TRANSACTION_ATTEMPTS))
    streamed = _Provider(fails=1)
    with pytest.raises(OperationalError):
        _dispatch(store, tmp_path, streamed, streamed=True)
    assert streamed.calls == 1


def test_other_database_errors_are_not_retryable() -> None:
    assert retryable(_deadlock())
    assert not retryable(OperationalError("BEGIN", None, Exception("database is locked")))
    assert not retryable(ValueError("x"))


def test_a_real_postgresql_deadlock_is_retryable(store: Store) -> None:
    if store.is_sqlite:
        pytest.skip("SQLite has one writer: its transactions cannot deadlock")
    with store.session() as s:
        s.execute(text("CREATE TABLE deadlock_probe (id int PRIMARY KEY)"))
        s.execute(text("INSERT INTO deadlock_probe VALUES (1), (2)"))
    both_hold = threading.Barrier(2)
    errors: list[BaseException] = []

    def lock(first: int, second: int) -> None:
        try:
            with store.session() as s:
                s.execute(text(f"UPDATE deadlock_probe SET id = id WHERE id = {first}"))
                both_hold.wait(timeout=10)
                s.execute(text(f"UPDATE deadlock_probe SET id = id WHERE id = {second}"))
        except DBAPIError as err:
            errors.append(err)

    threads = [threading.Thread(target=lock, args=pair) for pair in ((1, 2), (2, 1))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert len(errors) == 1 and retryable(errors[0])
