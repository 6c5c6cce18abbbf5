"""Scheduled actions that are due: the group's sizes changed (desired kept within the new
bounds), then the action's next run set from its Recurrence (mallee.cron), or the action
deleted when it has none left (a one-time action, or a recurrence past its EndTime).

Each action runs in one transaction that moves the group only from the sizes read and the
action only from the next_run_at read, so a pass racing another (or repeated after a restart)
applies an action once per due time. A missed run (the controller was down) runs once, then
the next run is the first after now. While the group's ScheduledActions process is suspended
a due action is skipped, as AWS does, and only its next run moves on.
"""

from __future__ import annotations

import logging

from sqlalchemy import delete, select, update

from mallee import cron
from mallee.controller.autoscaling_rows import DELETING, loads, stamp
from mallee.store import Store
from mallee.store.tables.autoscaling import AsGroup, AsScheduledAction

log = logging.getLogger(__name__)


def next_run(action: AsScheduledAction, now: float) -> float | None:
    if not action.recurrence:
        return None
    try:
        after = max(now, action.start_time or 0.0)
        moment = cron.next_after(action.recurrence, action.time_zone, after)
    except cron.CronError:
        log.warning("scheduled action %s has a bad recurrence %r", action.id, action.recurrence)
        return None
    if moment is None or (action.end_time is not None and moment > action.end_time):
        return None
    return moment


def _sizes(group: AsGroup, action: AsScheduledAction) -> tuple[int, int, int]:
    low = group.min_size if action.min_size is None else action.min_size
    high = group.max_size if action.max_size is None else action.max_size
    want = group.desired_capacity if action.desired_capacity is None else action.desired_capacity
    return low, high, max(low, min(high, want))


def cause(action: AsScheduledAction, old: int, new: int, at: float) -> str:
    given = [
        f"{label}: {value}"
        for label, value in (
            ("min", action.min_size),
            ("max", action.max_size),
            ("desired", action.desired_capacity),
        )
        if value is not None
    ]
    return (
        f"At {stamp(at)} a scheduled action update of AutoScalingGroup constraints to "
        f"{', '.join(given)} changing the desired capacity from {old} to {new}."
    )


def run_due(store: Store, now: float) -> int:
    """Runs the actions due by `now`; how many changed a group."""
    with store.read() as s:
        due = [
            (action, group)
            for action, group in s.execute(
                select(AsScheduledAction, AsGroup)
                .join(AsGroup, AsGroup.id == AsScheduledAction.group_id)
                .where(AsScheduledAction.next_run_at <= now)
                .order_by(AsScheduledAction.next_run_at)
            )
        ]
    changed = 0
    for action, group in due:
        changed += _run(store, action, group, now)
    return changed


class _Moved(Exception):
    """The group moved since it was read: the transaction is rolled back, the action stays due."""


def _run(store: Store, action: AsScheduledAction, group: AsGroup, now: float) -> int:
    try:
        return _apply(store, action, group, now)
    except _Moved:
        return 0


def _apply(store: Store, action: AsScheduledAction, group: AsGroup, now: float) -> int:
    at = action.next_run_at if action.next_run_at is not None else now
    suspended = {str(p[0]) for p in loads(group.suspended_processes, []) if p}
    apply = group.status != DELETING and "ScheduledActions" not in suspended
    following = next_run(action, now)
    with store.session() as s:
        moved = s.execute(
            update(AsScheduledAction)
            .where(
                AsScheduledAction.id == action.id,
                AsScheduledAction.next_run_at == action.next_run_at,
            )
            .values(next_run_at=following)
            .execution_options(synchronize_session=False)
        )
        if getattr(moved, "rowcount", 0) != 1:
            return 0
        if following is None:
            s.execute(delete(AsScheduledAction).where(AsScheduledAction.id == action.id))
        if not apply:
            return 0
        low, high, want = _sizes(group, action)
        if low > high:
            # The action's MinSize above the group's MaxSize (or its MaxSize below the
            # MinSize): AWS fails the action rather than leave the group's bounds crossed.
            log.warning("scheduled action %s would set min %d over max %d", action.id, low, high)
            return 0
        values: dict[str, object] = {"min_size": low, "max_size": high}
        if want != group.desired_capacity:
            values["desired_capacity"] = want
            values["capacity_cause"] = cause(action, group.desired_capacity, want, at)
        result = s.execute(
            update(AsGroup)
            .where(
                AsGroup.id == group.id,
                AsGroup.min_size == group.min_size,
                AsGroup.max_size == group.max_size,
                AsGroup.desired_capacity == group.desired_capacity,
            )
            .values(**values)
            .execution_options(synchronize_session=False)
        )
        if getattr(result, "rowcount", 0) != 1:
            raise _Moved
    return 1
