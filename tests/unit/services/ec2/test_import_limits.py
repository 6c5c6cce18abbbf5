"""What an import request is refused for before any task is written: an account's limit of
active import tasks (AWS's ResourceCountLimitExceeded) and no live storage agent to convert it
(InsufficientVolumeCapacity, as CreateVolume)."""

from __future__ import annotations

import datetime as dt
import time

import pytest
from sqlalchemy import update

from mallee.api.errors import ServiceError
from mallee.cloud_identity import system_account_id
from mallee.ids import new_id
from mallee.registry import components
from mallee.services.ec2.conversion_tasks import (
    ACTIVE_TASKS,
    check_any_storage,
    check_import_room,
)
from mallee.services.iam.bootstrap import ensure_system_account
from mallee.store import Store
from mallee.store.tables.iam import IamAccount
from mallee.store.tables.imports import Ec2ImportTask
from mallee.store.tables.registry import ServiceRow


def _tasks(store: Store, account: str, state: str, count: int) -> None:
    now = dt.datetime.now(dt.UTC)
    with store.session() as s:
        for _ in range(count):
            s.add(
                Ec2ImportTask(
                    id=new_id("import-snap"), account_id=account,
                    kind="import-snapshot", state=state, created_at=now, expires_at=now,
                    image_format="RAW",
                )
            )  # fmt: skip


def test_an_account_has_at_most_twenty_active_import_tasks(store: Store) -> None:
    ensure_system_account(store)
    account = system_account_id(store)
    with store.session() as s:
        s.add(IamAccount(id="222222222222", name="other", created_at=dt.datetime.now(dt.UTC)))
    # Ended tasks do not count; one being cancelled still holds its conversion.
    _tasks(store, account, "completed", 30)
    _tasks(store, account, "cancelled", 5)
    _tasks(store, account, "active", ACTIVE_TASKS - 1)
    with store.read() as s:
        check_import_room(s, account)
    _tasks(store, account, "cancelling", 1)
    with store.read() as s, pytest.raises(ServiceError) as err:
        check_import_room(s, account)
    assert (err.value.code, err.value.status) == ("ResourceCountLimitExceeded", 400)
    assert ACTIVE_TASKS == 20
    # Another account's are its own.
    with store.read() as s:
        check_import_room(s, "222222222222")


def test_a_snapshot_import_needs_a_live_storage_agent_of_any_zone(store: Store) -> None:
    with store.read() as s, pytest.raises(ServiceError) as err:
        check_any_storage(s, 30.0)
    assert (err.value.code, err.value.status) == ("InsufficientVolumeCapacity", 500)
    components.register_self(store, type="storage", name="sc-b", host="h", port=8773,
                             partition="zone-b")  # fmt: skip
    with store.read() as s:
        check_any_storage(s, 30.0)
    # Its heartbeat stopped long ago: no agent is alive.
    with store.session() as s:
        s.execute(update(ServiceRow).values(last_heartbeat=time.time() - 600))
    with store.read() as s, pytest.raises(ServiceError):
        check_any_storage(s, 30.0)
