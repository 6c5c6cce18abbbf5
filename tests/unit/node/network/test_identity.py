"""The cloud id comes from the database: the same for every process of a cloud, and another
cloud's differs."""

from __future__ import annotations

from pathlib import Path

import pytest

from mallee.node.network.identity import cloud_id
from mallee.services.iam.bootstrap import ensure_system_account
from mallee.store import Store
from tests.conftest import fresh_database_url


def test_cloud_id_is_the_clouds_own(store: Store, tmp_path: Path) -> None:
    with pytest.raises(RuntimeError):
        cloud_id(store)  # before `mallee init`
    ensure_system_account(store)
    mine = cloud_id(store)
    again = Store(store.url)
    try:
        assert cloud_id(again) == mine
    finally:
        again.dispose()
    for url in fresh_database_url(tmp_path / "other"):
        (tmp_path / "other").mkdir(exist_ok=True)
        other = Store(url)
        try:
            other.migrate()
            ensure_system_account(other)
            assert cloud_id(other) != mine
        finally:
            other.dispose()
