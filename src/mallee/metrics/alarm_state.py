"""An alarm's state change, written the one way both its writers need it: the controller's
alarm engine and SetAlarmState.

One call is one part of the caller's transaction: the conditional UPDATE from the state
version the caller read (so of two writers that raced, the later one changes nothing), the
StateUpdate history item, and when actions are enabled one outbox row per action of the new
state (`cw_alarm_actions`), which the engine runs after the commit.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import Table, bindparam, insert, update
from sqlalchemy.orm import Session

from mallee.store.tables.alarms import CwAlarm, CwAlarmAction, CwAlarmHistory

ACTION_LISTS = {
    "OK": "ok_actions",
    "ALARM": "alarm_actions",
    "INSUFFICIENT_DATA": "insufficient_data_actions",
}


def _reason_data(text: str | None) -> Any:
    if not text:
        return None
    try:
        return json.loads(text)
    except ValueError:
        return text


def history_state(value: str, reason: str, reason_data: str | None) -> dict[str, Any]:
    state: dict[str, Any] = {"stateValue": value, "stateReason": reason}
    parsed = _reason_data(reason_data)
    if parsed is not None:
        state["stateReasonData"] = parsed
    return state


def instance_of(dimensions_json: str) -> str:
    """The InstanceId dimension of an alarm's metric ("" without one)."""
    for name, value in json.loads(dimensions_json or "[]"):
        if name == "InstanceId":
            return str(value)
    return ""


@dataclass(frozen=True, slots=True)
class Change:
    """One state change to write: the alarm as read (its state_version the condition)."""

    alarm: CwAlarm
    state: str
    reason: str
    reason_data: str | None


def _table(model: type[Any]) -> Table:
    return cast(Table, model.__table__)


_UPDATE = (
    update(_table(CwAlarm))
    .where(
        _table(CwAlarm).c.id == bindparam("alarm_id"),
        _table(CwAlarm).c.state_version == bindparam("expected"),
    )
    .values(
        state_value=bindparam("state"),
        state_reason=bindparam("reason"),
        state_reason_data=bindparam("reason_data"),
        state_updated_at=bindparam("now"),
        state_transitioned_at=bindparam("moved"),
        state_version=bindparam("version"),
    )
)


def transitions(s: Session, changes: Sequence[Change], now: float) -> list[Change]:
    """Writes the changes (the engine's batch of a tick); those another writer did not beat.
    The caller commits."""
    conn = s.connection()
    done: list[Change] = []
    for c in changes:
        a = c.alarm
        result = conn.execute(
            _UPDATE,
            {
                "alarm_id": a.id,
                "expected": a.state_version,
                "state": c.state,
                "reason": c.reason[:1023],
                "reason_data": c.reason_data,
                "now": now,
                "moved": now if c.state != a.state_value else a.state_transitioned_at,
                "version": a.state_version + 1,
            },
        )
        if result.rowcount == 1:
            done.append(c)
    history: list[dict[str, Any]] = []
    actions: list[dict[str, Any]] = []
    for c in done:
        a = c.alarm
        data = {
            "version": "1.0",
            "oldState": history_state(a.state_value, a.state_reason, a.state_reason_data),
            "newState": history_state(c.state, c.reason, c.reason_data),
        }
        history.append(
            {
                "account_id": a.account_id,
                "alarm_name": a.name,
                "alarm_type": a.alarm_type,
                "timestamp": now,
                "item_type": "StateUpdate",
                "summary": f"Alarm updated from {a.state_value} to {c.state}"[:255],
                "data": json.dumps(data, separators=(",", ":")),
            }
        )
        if c.state == a.state_value or not a.actions_enabled:
            continue
        instance = instance_of(a.dimensions)
        for action in json.loads(getattr(a, ACTION_LISTS[c.state]) or "[]"):
            actions.append(
                {
                    "account_id": a.account_id,
                    "alarm_name": a.name,
                    "alarm_type": a.alarm_type,
                    "instance_id": instance,
                    "action": str(action),
                    "new_state": c.state,
                    "transitioned_at": now,
                    "state": "pending",
                    "runner": "",
                    "claimed_at": 0.0,
                    "result": "",
                }
            )
    if history:
        conn.execute(insert(_table(CwAlarmHistory)), history)
    if actions:
        conn.execute(insert(_table(CwAlarmAction)), actions)
    return done


def transition(
    s: Session,
    alarm: CwAlarm,
    state: str,
    reason: str,
    reason_data: str | None,
    now: float,
) -> bool:
    """Moves `alarm` (as read, with its state_version) to `state`; False when another writer
    changed it first. The caller commits."""
    return bool(transitions(s, [Change(alarm, state, reason, reason_data)], now))
