"""Alarms: the list (a page at a time, filtered by the API by state and name prefix), and
what is done to an alarm from it or its own page: delete (after asking), enable or disable its
actions, set its state (SetAlarmState, for testing actions, as the API allows). Creating one
is alarm_create.py, an alarm's own page alarm_detail.py."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from starlette.responses import Response

from mallee.console.context import BadRequest, Ctx, Route
from mallee.console.pages.listing import Column, api_page, listing
from mallee.console.pages.metric_graphs import shown_time

STATES = ("OK", "ALARM", "INSUFFICIENT_DATA")
COMPARISONS = {
    "GreaterThanOrEqualToThreshold": ">=",
    "GreaterThanThreshold": ">",
    "LessThanThreshold": "<",
    "LessThanOrEqualToThreshold": "<=",
    "LessThanLowerOrGreaterThanUpperThreshold": "outside the band",
    "LessThanLowerThreshold": "below the band",
    "GreaterThanUpperThreshold": "above the band",
}
COLUMNS = (
    Column("name", "Name"),
    Column("state", "State"),
    Column("metric", "Metric"),
    Column("condition", "Condition"),
    Column("actions_enabled", "Actions"),
    Column("updated", "State changed"),
)


def detail_path(name: str) -> str:
    return "/alarms/detail?" + urlencode({"name": name})


def _number(value: Any) -> str:
    number = float(value)
    return str(int(number)) if number.is_integer() else f"{number:g}"


def metric_text(a: dict[str, Any]) -> str:
    """The alarm's metric as Namespace MetricName (Dimension=value, ...)."""
    if "MetricName" not in a:
        if a.get("Metrics"):
            return "metric math: " + ", ".join(
                str(m.get("Expression") or m.get("Id", "")) for m in a["Metrics"]
            )
        return ""
    dims = ", ".join(f"{d.get('Name')}={d.get('Value')}" for d in a.get("Dimensions") or [])
    text = f"{a.get('Namespace', '')} {a['MetricName']}"
    return f"{text} ({dims})" if dims else text


def condition_text(a: dict[str, Any]) -> str:
    """What puts the alarm in ALARM, in words: "Average > 80 for 3 of 3 periods of 5 min"."""
    if "AlarmRule" in a:
        return str(a["AlarmRule"])
    stat = a.get("ExtendedStatistic") or a.get("Statistic") or ""
    op = COMPARISONS.get(str(a.get("ComparisonOperator", "")), a.get("ComparisonOperator", ""))
    threshold = _number(a["Threshold"]) if "Threshold" in a else a.get("ThresholdMetricId", "")
    periods = int(a.get("EvaluationPeriods") or 0)
    needed = int(a.get("DatapointsToAlarm") or periods)
    period = int(a.get("Period") or 0)
    length = f"{period // 60} min" if period and period % 60 == 0 else f"{period} s"
    text = f"{stat} {op} {threshold}".strip()
    if periods:
        text += f" for {needed} of {periods} periods"
        if period:
            text += f" of {length}"
    return text


def alarm_view(a: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": a.get("AlarmName", ""),
        "state": a.get("StateValue", ""),
        "metric": metric_text(a),
        "condition": condition_text(a),
        "actions_enabled": "enabled" if a.get("ActionsEnabled") else "disabled",
        "enabled": bool(a.get("ActionsEnabled")),
        "updated": shown_time(a.get("StateUpdatedTimestamp")),
        "reason": a.get("StateReason", ""),
        "composite": "AlarmRule" in a,
    }


def alarms(ctx: Ctx) -> Response:
    state = ctx.query("state")
    state = state if state in STATES else ""
    prefix = ctx.query("prefix")
    lst = listing(ctx, "/alarms", COLUMNS, keep={"state": state, "prefix": prefix})
    cloudwatch = ctx.client("cloudwatch")

    def fetch(paging: dict[str, Any]) -> tuple[list[dict[str, Any]], str | None]:
        params: dict[str, Any] = {
            "MaxRecords": paging["size"],
            "AlarmTypes": ["MetricAlarm", "CompositeAlarm"],
        }
        if state:
            params["StateValue"] = state
        if prefix:
            params["AlarmNamePrefix"] = prefix
        if "token" in paging:
            params["NextToken"] = paging["token"]
        answer = cloudwatch.describe_alarms(**params)
        found = [*answer.get("MetricAlarms", []), *answer.get("CompositeAlarms", [])]
        return [alarm_view(a) for a in found], answer.get("NextToken")

    return ctx.page(
        "alarms.html",
        "Alarms",
        lst=api_page(lst, fetch),
        states=[("", "any state"), *[(s, s) for s in STATES]],
        state=state,
        # Not `prefix`: templates know the console's own path by that name.
        prefix_text=prefix,
    )


def delete(ctx: Ctx) -> Response:
    name = ctx.form.get("name", "")
    if not name:
        raise BadRequest("which alarm?")
    asked = ctx.confirmed(f"Delete alarm {name}?", "Yes, delete it")
    if asked is not None:
        return asked
    ctx.client("cloudwatch").delete_alarms(AlarmNames=[name])
    ctx.ok(f"Deleted alarm {name}")
    came_from = ctx.form.get("_back", "")
    return ctx.back("/alarms" if came_from.startswith("/alarms/detail") else None)


def set_actions(ctx: Ctx) -> Response:
    name, op = ctx.form.get("name", ""), ctx.arg("op")
    if not name or op not in ("enable", "disable"):
        raise BadRequest("unknown alarm action")
    cloudwatch = ctx.client("cloudwatch")
    if op == "enable":
        cloudwatch.enable_alarm_actions(AlarmNames=[name])
    else:
        cloudwatch.disable_alarm_actions(AlarmNames=[name])
    ctx.ok(f"Actions of alarm {name} {op}d")
    return ctx.back()


def set_state(ctx: Ctx) -> Response:
    name, state = ctx.form.get("name", ""), ctx.arg("state")
    if not name or state not in STATES:
        raise BadRequest("which alarm, and which state?")
    reason = ctx.arg("reason") or "Set from the console"
    ctx.client("cloudwatch").set_alarm_state(AlarmName=name, StateValue=state, StateReason=reason)
    ctx.ok(f"Alarm {name} set to {state}")
    return ctx.back()


ROUTES = [
    Route("GET", "/alarms", alarms, "/alarms"),
    Route("POST", "/alarms/delete", delete, "/alarms"),
    Route("POST", "/alarms/actions", set_actions, "/alarms"),
    Route("POST", "/alarms/state", set_state, "/alarms"),
]
