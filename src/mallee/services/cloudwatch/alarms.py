"""Metric alarms: PutMetricAlarm, DescribeAlarmsForMetric, DeleteAlarms, Enable/
DisableAlarmActions and SetAlarmState. The controller's alarm engine evaluates them
(controller/alarms.py); a new or changed alarm is due at once (`next_eval_at` 0)."""

from __future__ import annotations

import json
import time
from typing import Any

from sqlalchemy import delete, func, select, update

from mallee.api.context import RequestContext
from mallee.metrics import alarm_state
from mallee.services.base import Operations, Params, Result, Runtime
from mallee.services.cloudwatch import alarm_checks, alarm_rows, fields
from mallee.services.cloudwatch.alarm_arns import alarm_arn
from mallee.services.cloudwatch.alarm_errors import alarm_not_found, invalid_format, limit_exceeded
from mallee.services.cloudwatch.errors import invalid_combination, validation
from mallee.store.tables.alarms import CwAlarm, CwAlarmChild, CwTag

# AWS's default quota of alarms per account and region.
MAX_ALARMS = 5000
INITIAL_REASON = "Unchecked: Initial alarm creation"
_SINGLE_METRIC = (
    "MetricName",
    "Namespace",
    "Statistic",
    "ExtendedStatistic",
    "Dimensions",
    "Period",
    "Unit",
)


def _metric_fields(params: Params) -> dict[str, Any]:
    """The metric an alarm watches: one metric, or a metric math expression's Metrics."""
    queries = params.get("Metrics")
    if queries:
        given = [name for name in _SINGLE_METRIC if params.get(name) is not None]
        if given:
            raise invalid_combination(
                f"The parameters Metrics and {given[0]} are mutually exclusive and you have "
                "specified both."
            )
        period = alarm_checks.metric_queries(list(queries))
        return {
            "metrics": json.dumps(queries, default=str),
            "period": 0,
            "_period": period,
            "namespace": "",
            "metric_name": "",
            "dimensions": "[]",
            "statistic": "",
            "extended_statistic": "",
            "unit": "",
        }
    for name in ("MetricName", "Namespace", "Period"):
        if params.get(name) is None:
            raise validation(f"The parameter {name} is required unless Metrics is given.")
    statistic, extended = alarm_checks.statistic(params)
    fields.dimensions(params.get("Dimensions"), "Dimensions")
    period = alarm_checks.alarm_period(params["Period"])
    return {
        "metrics": "",
        "period": period,
        "_period": period,
        "namespace": str(params["Namespace"]),
        "metric_name": str(params["MetricName"]),
        "dimensions": json.dumps(
            [[str(d["Name"]), str(d["Value"])] for d in params.get("Dimensions") or []]
        ),
        "statistic": statistic,
        "extended_statistic": extended,
        "unit": fields.unit(params.get("Unit")) or "",
    }


def put_metric_alarm(rt: Runtime, ctx: RequestContext, params: Params) -> Result:
    alarm_checks.unsupported(params)
    account, name = ctx.principal.account_id, str(params["AlarmName"])
    metric = _metric_fields(params)
    period = int(metric.pop("_period"))
    operator, threshold = alarm_checks.comparison(params)
    n, m = alarm_checks.evaluation(params, period)
    treat, low = alarm_checks.treatment(params, metric["extended_statistic"])
    has_instance = any(k == "InstanceId" for k, _ in json.loads(metric["dimensions"]))
    lists = alarm_checks.actions(params, ctx.region, has_instance)
    tags = alarm_checks.tags(params.get("Tags"))
    now = time.time()
    config: dict[str, Any] = {
        **metric,
        "description": params.get("AlarmDescription"),
        "actions_enabled": bool(params.get("ActionsEnabled", True)),
        "ok_actions": json.dumps(lists["OKActions"]),
        "alarm_actions": json.dumps(lists["AlarmActions"]),
        "insufficient_data_actions": json.dumps(lists["InsufficientDataActions"]),
        "evaluation_periods": n,
        "datapoints_to_alarm": m,
        "threshold": threshold,
        "comparison_operator": operator,
        "treat_missing_data": treat,
        "evaluate_low_sample_count_percentile": low,
        "threshold_metric_id": "",
        "alarm_rule": "",
        "config_updated_at": now,
        "next_eval_at": 0.0,
    }
    save(rt, account, ctx.region, name, alarm_rows.METRIC, config, tags, now)
    return {}


def save(
    rt: Runtime,
    account: str,
    region: str,
    name: str,
    kind: str,
    config: dict[str, Any],
    tags: list[tuple[str, str]],
    now: float,
    children: set[str] | None = None,
) -> None:
    """Creates the alarm, or overwrites the configuration of the one of that name (its state
    and tags kept, as AWS does), with its ConfigurationUpdate history item."""
    with rt.store.session() as s:
        found = alarm_rows.one(s, account, name)
        if found is not None and found.alarm_type != kind:
            raise validation(
                f"The alarm {name} already exists as a "
                f"{'composite' if found.alarm_type == alarm_rows.COMPOSITE else 'metric'} alarm."
            )
        if found is None:
            count = s.scalar(select(func.count()).where(CwAlarm.account_id == account)) or 0
            if count >= MAX_ALARMS:
                raise limit_exceeded(f"The maximum number of alarms ({MAX_ALARMS}) was reached.")
            alarm = CwAlarm(
                account_id=account,
                name=name,
                arn=alarm_arn(region, account, name),
                alarm_type=kind,
                state_value="INSUFFICIENT_DATA",
                state_reason=INITIAL_REASON,
                state_reason_data=None,
                state_updated_at=now,
                state_transitioned_at=now,
                state_version=0,
                evaluated_at=0.0,
                **config,
            )
            s.add(alarm)
            s.flush()
            for key, value in tags:
                s.add(CwTag(account_id=account, arn=alarm.arn, key=key, value=value))
            alarm_rows.configuration_item(s, alarm, "Create", now)
        else:
            before = alarm_rows.config_snapshot(found)
            for key, value in config.items():
                setattr(found, key, value)
            alarm = found
            s.flush()
            alarm_rows.configuration_item(s, alarm, "Update", now, before)
        if children is not None:
            s.execute(delete(CwAlarmChild).where(CwAlarmChild.parent_id == alarm.id))
            for child in sorted(children):
                s.add(CwAlarmChild(parent_id=alarm.id, child_name=child))


def _names(params: Params) -> list[str]:
    return list(dict.fromkeys(str(n) for n in params.get("AlarmNames") or []))


def delete_alarms(rt: Runtime, ctx: RequestContext, params: Params) -> Result:
    account, names = ctx.principal.account_id, _names(params)
    now = time.time()
    with rt.store.session() as s:
        found = alarm_rows.by_names(s, account, names)
        missing = sorted(set(names) - {a.name for a in found})
        if missing:
            # AWS deletes nothing when any name is wrong.
            raise alarm_not_found(f"{len(missing)} alarm(s) not found: {', '.join(missing)}")
        for alarm in found:
            alarm_rows.configuration_item(s, alarm, "Delete", now)
            s.execute(delete(CwTag).where(CwTag.arn == alarm.arn))
            s.delete(alarm)
    return {}


def _set_actions(rt: Runtime, ctx: RequestContext, params: Params, enabled: bool) -> Result:
    # AWS ignores names of alarms that do not exist here.
    with rt.store.session() as s:
        s.execute(
            update(CwAlarm)
            .where(CwAlarm.account_id == ctx.principal.account_id, CwAlarm.name.in_(_names(params)))
            .values(actions_enabled=enabled)
            .execution_options(synchronize_session=False)
        )
    return {}


def enable_alarm_actions(rt: Runtime, ctx: RequestContext, params: Params) -> Result:
    return _set_actions(rt, ctx, params, True)


def disable_alarm_actions(rt: Runtime, ctx: RequestContext, params: Params) -> Result:
    return _set_actions(rt, ctx, params, False)


def set_alarm_state(rt: Runtime, ctx: RequestContext, params: Params) -> Result:
    """Sets the state now, running the new state's actions when it differs (AWS); the engine
    sets a metric alarm back at its next evaluation."""
    data = params.get("StateReasonData")
    if data is not None:
        try:
            json.loads(str(data))
        except ValueError:
            raise invalid_format("StateReasonData must be valid JSON.") from None
    name = str(params["AlarmName"])
    with rt.store.session() as s:
        alarm = alarm_rows.one(s, ctx.principal.account_id, name)
        if alarm is None:
            raise alarm_not_found(f"Alarm {name} not found")
        if not alarm_state.transition(
            s,
            alarm,
            str(params["StateValue"]),
            str(params.get("StateReason") or ""),
            None if data is None else str(data),
            time.time(),
        ):
            raise validation(f"The alarm {name} changed state meanwhile: try again.")
    return {}


def describe_alarms_for_metric(rt: Runtime, ctx: RequestContext, params: Params) -> Result:
    wanted_dims = (
        None
        if params.get("Dimensions") is None
        else sorted(fields.dimensions(params.get("Dimensions"), "Dimensions"))
    )
    with rt.store.read() as s:
        rows = s.scalars(
            select(CwAlarm)
            .where(
                CwAlarm.account_id == ctx.principal.account_id,
                CwAlarm.namespace == str(params["Namespace"]),
                CwAlarm.metric_name == str(params["MetricName"]),
                CwAlarm.alarm_type == alarm_rows.METRIC,
            )
            .order_by(CwAlarm.name)
        ).all()
    out = []
    for a in rows:
        if params.get("Statistic") is not None and a.statistic != params["Statistic"]:
            continue
        if (
            params.get("ExtendedStatistic") is not None
            and a.extended_statistic != params["ExtendedStatistic"]
        ):
            continue
        if params.get("Period") is not None and a.period != int(params["Period"]):
            continue
        if params.get("Unit") is not None and a.unit != params["Unit"]:
            continue
        if (
            wanted_dims is not None
            and sorted((str(n), str(v)) for n, v in json.loads(a.dimensions)) != wanted_dims
        ):
            continue
        out.append(alarm_rows.metric_alarm(a))
    return {"MetricAlarms": out}


OPERATIONS: Operations = {
    "PutMetricAlarm": put_metric_alarm,
    "DeleteAlarms": delete_alarms,
    "EnableAlarmActions": enable_alarm_actions,
    "DisableAlarmActions": disable_alarm_actions,
    "SetAlarmState": set_alarm_state,
    "DescribeAlarmsForMetric": describe_alarms_for_metric,
}
