"""Alarm rows as the API shows them (MetricAlarm, CompositeAlarm), their lookups, and the
history items the api writes (configuration changes)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from mallee.store.tables.alarms import CwAlarm, CwAlarmHistory

METRIC = "MetricAlarm"
COMPOSITE = "CompositeAlarm"


def _actions(text: str) -> list[str]:
    return [str(a) for a in json.loads(text or "[]")]


def _common(a: CwAlarm) -> dict[str, Any]:
    out: dict[str, Any] = {
        "AlarmName": a.name,
        "AlarmArn": a.arn,
        "AlarmConfigurationUpdatedTimestamp": a.config_updated_at,
        "ActionsEnabled": a.actions_enabled,
        "OKActions": _actions(a.ok_actions),
        "AlarmActions": _actions(a.alarm_actions),
        "InsufficientDataActions": _actions(a.insufficient_data_actions),
        "StateValue": a.state_value,
        "StateReason": a.state_reason,
        "StateUpdatedTimestamp": a.state_updated_at,
        "StateTransitionedTimestamp": a.state_transitioned_at,
    }
    if a.description is not None:
        out["AlarmDescription"] = a.description
    if a.state_reason_data:
        out["StateReasonData"] = a.state_reason_data
    return out


def metric_alarm(a: CwAlarm) -> dict[str, Any]:
    out = _common(a)
    if a.metrics:
        out["Metrics"] = json.loads(a.metrics)
    else:
        out["Namespace"] = a.namespace
        out["MetricName"] = a.metric_name
        out["Dimensions"] = [{"Name": n, "Value": v} for n, v in json.loads(a.dimensions)]
        out["Period"] = a.period
        if a.extended_statistic:
            out["ExtendedStatistic"] = a.extended_statistic
        else:
            out["Statistic"] = a.statistic
        if a.unit:
            out["Unit"] = a.unit
    out["EvaluationPeriods"] = a.evaluation_periods
    if a.datapoints_to_alarm is not None:
        out["DatapointsToAlarm"] = a.datapoints_to_alarm
    if a.threshold is not None:
        out["Threshold"] = a.threshold
    if a.threshold_metric_id:
        out["ThresholdMetricId"] = a.threshold_metric_id
    out["ComparisonOperator"] = a.comparison_operator
    if a.treat_missing_data:
        out["TreatMissingData"] = a.treat_missing_data
    if a.evaluate_low_sample_count_percentile:
        out["EvaluateLowSampleCountPercentile"] = a.evaluate_low_sample_count_percentile
    return out


def composite_alarm(a: CwAlarm) -> dict[str, Any]:
    out = _common(a)
    out["AlarmRule"] = a.alarm_rule
    return out


def shown(a: CwAlarm) -> dict[str, Any]:
    return composite_alarm(a) if a.alarm_type == COMPOSITE else metric_alarm(a)


def by_names(s: Session, account_id: str, names: Sequence[str]) -> list[CwAlarm]:
    if not names:
        return []
    return list(
        s.scalars(select(CwAlarm).where(CwAlarm.account_id == account_id, CwAlarm.name.in_(names)))
    )


def one(s: Session, account_id: str, name: str) -> CwAlarm | None:
    found = by_names(s, account_id, [name])
    return found[0] if found else None


def _config_json(a: CwAlarm) -> dict[str, Any]:
    """The alarm as a ConfigurationUpdate item's data shows it (timestamps as text)."""
    out = shown(a)
    for key in (
        "AlarmConfigurationUpdatedTimestamp",
        "StateUpdatedTimestamp",
        "StateTransitionedTimestamp",
    ):
        out.pop(key, None)
    for key in ("StateValue", "StateReason", "StateReasonData"):
        out.pop(key, None)
    return {k[0].lower() + k[1:]: v for k, v in out.items()}


def configuration_item(
    s: Session, a: CwAlarm, kind: str, now: float, before: dict[str, Any] | None = None
) -> None:
    """A ConfigurationUpdate history item: kind is Create, Update or Delete."""
    words = {"Create": "created", "Update": "updated", "Delete": "deleted"}[kind]
    data: dict[str, Any] = {"version": "1.0", "type": kind}
    if kind == "Create":
        data["createdAlarm"] = _config_json(a)
    elif kind == "Update":
        data["updatedAlarm"] = _config_json(a)
        if before is not None:
            data["originalAlarm"] = before
    else:
        data["deletedAlarm"] = _config_json(a)
    s.add(
        CwAlarmHistory(
            account_id=a.account_id,
            alarm_name=a.name,
            alarm_type=a.alarm_type,
            timestamp=now,
            item_type="ConfigurationUpdate",
            summary=f'Alarm "{a.name}" {words}'[:255],
            data=json.dumps(data, separators=(",", ":")),
        )
    )


def config_snapshot(a: CwAlarm) -> dict[str, Any]:
    return _config_json(a)
