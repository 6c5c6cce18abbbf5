"""Composite alarms: ALARM while their rule is true over their children's states, else OK.

A composite is evaluated when it is new or changed (PutCompositeAlarm sets `next_eval_at` to
0) and whenever one of its children changed state after it was last evaluated; otherwise it
holds its state, so a SetAlarmState on it lasts until a child changes, as AWS says.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session, aliased

from mallee.controller.alarm_eval import json_time
from mallee.metrics import alarm_rule, alarm_state
from mallee.store import Store
from mallee.store.tables.alarms import CwAlarm, CwAlarmChild

log = logging.getLogger(__name__)
# New and changed composites wait here for their first evaluation.
NEVER = 0.0
# A composite with no pending reason to be evaluated.
IDLE = float("inf")


@dataclass
class Round:
    evaluated: int = 0
    changed: int = 0
    changed_names: list[tuple[str, str]] = field(default_factory=list)


def _due(s: Session, now: float) -> list[CwAlarm]:
    child = aliased(CwAlarm)
    changed_children = (
        select(CwAlarmChild.parent_id)
        .join(child, CwAlarmChild.child_name == child.name)
        .join(CwAlarm, CwAlarm.id == CwAlarmChild.parent_id)
        .where(
            child.account_id == CwAlarm.account_id,
            child.state_transitioned_at > CwAlarm.evaluated_at,
        )
    )
    return list(
        s.scalars(
            select(CwAlarm).where(
                CwAlarm.alarm_type == "CompositeAlarm",
                or_(CwAlarm.next_eval_at <= now, CwAlarm.id.in_(changed_children)),
            )
        )
    )


def unseen_by_a_parent(s: Session, alarms: list[CwAlarm]) -> set[int]:
    """The ids of those `alarms` whose last state change a parent composite has not yet
    evaluated (a SetAlarmState that landed during this tick)."""
    if not alarms:
        return set()
    parent = aliased(CwAlarm)
    child = aliased(CwAlarm)
    return set(
        s.scalars(
            select(child.id)
            .join(CwAlarmChild, CwAlarmChild.child_name == child.name)
            .join(parent, parent.id == CwAlarmChild.parent_id)
            .where(
                child.id.in_([a.id for a in alarms]),
                parent.account_id == child.account_id,
                child.state_transitioned_at > parent.evaluated_at,
            )
        )
    )


def long_time(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%A %d %B, %Y %H:%M:%S UTC")


def _parents(s: Session, changed: list[tuple[str, str]]) -> list[CwAlarm]:
    found: dict[int, CwAlarm] = {}
    for account_id, name in changed:
        for parent in s.scalars(
            select(CwAlarm)
            .join(CwAlarmChild, CwAlarmChild.parent_id == CwAlarm.id)
            .where(CwAlarm.account_id == account_id, CwAlarmChild.child_name == name)
        ):
            found[parent.id] = parent
    return list(found.values())


def evaluate_due(store: Store, now: float, changed: list[tuple[str, str]] | None = None) -> Round:
    """Composites due (`changed` None), or those whose children are the (account, name)
    alarms `changed` in this tick's earlier round."""
    out = Round()
    with store.session() as s:
        for composite in _due(s, now) if changed is None else _parents(s, changed):
            out.evaluated += 1
            s.execute(
                update(CwAlarm)
                .where(CwAlarm.id == composite.id)
                .values(evaluated_at=now, next_eval_at=IDLE)
                .execution_options(synchronize_session=False)
            )
            try:
                rule = alarm_rule.parse(composite.alarm_rule)
            except alarm_rule.RuleError:
                log.warning("composite alarm %s has a bad rule", composite.name)
                continue
            names = alarm_rule.children(rule)
            children = list(
                s.scalars(
                    select(CwAlarm).where(
                        CwAlarm.account_id == composite.account_id, CwAlarm.name.in_(names)
                    )
                )
            )
            states = {c.name: c.state_value for c in children}
            state = "ALARM" if alarm_rule.value(rule, states) else "OK"
            if state == composite.state_value:
                continue
            reason, data = _reason(children, now)
            if alarm_state.transition(s, composite, state, reason, data, now):
                out.changed += 1
                out.changed_names.append((composite.account_id, composite.name))
    return out


def _reason(children: list[CwAlarm], now: float) -> tuple[str, str]:
    """AWS names the child whose change moved the composite, and lists them all in the data."""
    ordered = sorted(children, key=lambda c: -c.state_transitioned_at)
    if ordered:
        last = ordered[0]
        reason = (
            f"{last.arn} transitioned to {last.state_value} at "
            f"{long_time(last.state_transitioned_at)}"
        )
    else:
        reason = f"No alarm of the rule exists at {long_time(now)}"
    data = {
        "triggeringAlarms": [
            {
                "arn": c.arn,
                "state": {"value": c.state_value, "timestamp": json_time(c.state_transitioned_at)},
            }
            for c in ordered
        ]
    }
    return reason, json.dumps(data, separators=(",", ":"))
