"""Due scheduled actions against a real store: one that would cross the group's bounds leaves
the group as it was and moves on to its next run."""

from __future__ import annotations

import time
import uuid

from mallee.controller import autoscaling_schedule as schedule
from mallee.store import Store
from mallee.store.tables.autoscaling import AsScheduledAction
from tests.unit.controller.autoscaling_fakes import account, add_group, group


def _action(store: Store, gid: str, due: float, **sizes: int) -> str:
    action_id = str(uuid.uuid4())
    with store.session() as s:
        s.add(
            AsScheduledAction(
                id=action_id,
                account_id=account(store),
                group_id=gid,
                name="nightly",
                recurrence="0 1 * * *",
                time_zone="",
                next_run_at=due,
                **sizes,
            )
        )
    return action_id


def _next_run(store: Store, action_id: str) -> float | None:
    with store.read() as s:
        row = s.get(AsScheduledAction, action_id)
        assert row is not None
        return row.next_run_at


def test_an_action_that_would_cross_the_bounds_changes_nothing(store: Store) -> None:
    now = time.time()
    gid = add_group(store, desired=2, min_size=1, max_size=4)
    action_id = _action(store, gid, now - 1, min_size=5)
    assert schedule.run_due(store, now) == 0
    found = group(store, gid)
    assert found is not None
    assert (found.min_size, found.max_size, found.desired_capacity) == (1, 4, 2)
    following = _next_run(store, action_id)
    assert following is not None and following > now


def test_an_action_within_the_bounds_moves_the_group(store: Store) -> None:
    now = time.time()
    gid = add_group(store, desired=2, min_size=1, max_size=4)
    _action(store, gid, now - 1, min_size=3)
    assert schedule.run_due(store, now) == 1
    found = group(store, gid)
    assert found is not None
    assert (found.min_size, found.max_size, found.desired_capacity) == (3, 4, 3)
