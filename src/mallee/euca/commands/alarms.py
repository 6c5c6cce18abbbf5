"""euca2ools' CloudWatch alarm commands: euwatch-put-metric-alarm, -describe-alarms,
-describe-alarm-history, -set-alarm-state, -delete-alarms, -enable-alarm-actions and
-disable-alarm-actions, with their options and tab-separated lines."""

from __future__ import annotations

import argparse
import datetime as dt
from collections.abc import Iterator
from typing import Any

from mallee.euca.command import Command, Context, Line
from mallee.euca.commands.monitoring import _dimensions, _when
from mallee.euca.paging import all_items

OPERATORS = (
    "GreaterThanOrEqualToThreshold",
    "GreaterThanThreshold",
    "LessThanThreshold",
    "LessThanOrEqualToThreshold",
)
STATISTICS = ("Average", "Maximum", "Minimum", "SampleCount", "Sum")
STATES = ("OK", "ALARM", "INSUFFICIENT_DATA")


def _arns(text: str) -> list[str]:
    return [part for part in text.split(",") if part]


def _put_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("alarm", metavar="ALARM", help="name of the alarm (required)")
    p.add_argument("--comparison-operator", required=True, choices=OPERATORS)
    p.add_argument("--evaluation-periods", required=True, type=int, metavar="COUNT")
    p.add_argument("--metric-name", required=True, metavar="METRIC")
    p.add_argument("--namespace", required=True, metavar="NAMESPACE")
    p.add_argument("--period", required=True, type=int, metavar="SECONDS")
    p.add_argument("--statistic", required=True, choices=STATISTICS)
    p.add_argument("--threshold", required=True, type=float, metavar="FLOAT")
    p.add_argument("--actions-enabled", choices=("true", "false"))
    p.add_argument("--alarm-actions", type=_arns, metavar="ARN1,ARN2,...")
    p.add_argument("--alarm-description", metavar="DESCRIPTION")
    p.add_argument("-d", "--dimensions", type=_dimensions, metavar="KEY1=VALUE1,KEY2=VALUE2,...")
    p.add_argument("--insufficient-data-actions", type=_arns, metavar="ARN1,ARN2,...")
    p.add_argument("--ok-actions", type=_arns, metavar="ARN1,ARN2,...")
    p.add_argument("--unit", help="unit for the alarm's associated metric")


def _put(ctx: Context, args: argparse.Namespace) -> Iterator[Line]:
    params: dict[str, Any] = {
        "AlarmName": args.alarm,
        "ComparisonOperator": args.comparison_operator,
        "EvaluationPeriods": args.evaluation_periods,
        "MetricName": args.metric_name,
        "Namespace": args.namespace,
        "Period": args.period,
        "Statistic": args.statistic,
        "Threshold": args.threshold,
    }
    if args.actions_enabled is not None:
        params["ActionsEnabled"] = args.actions_enabled == "true"
    for key, value in (
        ("AlarmActions", args.alarm_actions),
        ("AlarmDescription", args.alarm_description),
        ("Dimensions", args.dimensions),
        ("InsufficientDataActions", args.insufficient_data_actions),
        ("OKActions", args.ok_actions),
        ("Unit", args.unit),
    ):
        if value is not None:
            params[key] = value
    ctx.client().put_metric_alarm(**params)
    # euca2ools prints nothing when the alarm is saved.
    yield from ()


def alarm_line(alarm: dict[str, Any], long: bool) -> list[object]:
    """euca2ools' alarm line (CloudWatchRequest.print_alarm)."""
    bits: list[object] = [alarm.get("AlarmName")]
    if long:
        bits.append(alarm.get("AlarmDescription"))
    bits.append(alarm.get("StateValue"))
    if long:
        bits += [
            alarm.get("StateReason"),
            alarm.get("StateReasonData"),
            alarm.get("ActionsEnabled"),
            ",".join(alarm.get("OKActions") or []),
        ]
    bits.append(",".join(alarm.get("AlarmActions") or []))
    if long:
        bits.append(",".join(alarm.get("InsufficientDataActions") or []))
    bits += [alarm.get("Namespace"), alarm.get("MetricName")]
    if long:
        dims = [f"{d.get('Name')}={d.get('Value')}" for d in alarm.get("Dimensions") or []]
        bits.append(f"{{{','.join(dims)}}}" if dims else None)
    bits += [alarm.get("Period"), alarm.get("Statistic")]
    if long:
        bits.append(alarm.get("Unit"))
    bits += [alarm.get("EvaluationPeriods"), alarm.get("ComparisonOperator")]
    bits.append(alarm.get("Threshold"))
    return bits


def _describe_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("alarm", nargs="*", metavar="ALARM", help="limit results to specific alarms")
    p.add_argument("--action-prefix", metavar="PREFIX")
    p.add_argument("--alarm-name-prefix", metavar="PREFIX")
    p.add_argument("--show-long", action="store_true", help="show all of the alarms' info")
    p.add_argument("--state-value", choices=STATES)


def _describe(ctx: Context, args: argparse.Namespace) -> Iterator[Line]:
    params: dict[str, Any] = {}
    if args.alarm:
        params["AlarmNames"] = args.alarm
    if args.action_prefix:
        params["ActionPrefix"] = args.action_prefix
    if args.alarm_name_prefix:
        params["AlarmNamePrefix"] = args.alarm_name_prefix
    if args.state_value:
        params["StateValue"] = args.state_value
    for alarm in all_items(ctx.client(), "describe_alarms", "MetricAlarms", **params):
        yield alarm_line(alarm, args.show_long)


def _time(value: Any) -> str:
    """A timestamp as euca2ools printed the query answer's text (2013-06-10T12:29:41.082Z)."""
    if isinstance(value, str):
        return value
    moment = (
        value if isinstance(value, dt.datetime) else dt.datetime.fromtimestamp(float(value), dt.UTC)
    )
    moment = moment.astimezone(dt.UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def _history_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("alarm", nargs="?", metavar="ALARM", help="limit results to a specific alarm")
    p.add_argument("--end-date", metavar="DATE")
    p.add_argument("--history-item-type", choices=("Action", "ConfigurationUpdate", "StateUpdate"))
    p.add_argument("--show-long", action="store_true", help="show detailed event data as JSON")
    p.add_argument("--start-date", metavar="DATE")


def _history(ctx: Context, args: argparse.Namespace) -> Iterator[Line]:
    params: dict[str, Any] = {}
    if args.alarm:
        params["AlarmName"] = args.alarm
    if args.end_date:
        params["EndDate"] = _when(args.end_date, "--end-date")
    if args.start_date:
        params["StartDate"] = _when(args.start_date, "--start-date")
    if args.history_item_type:
        params["HistoryItemType"] = args.history_item_type
    for item in all_items(ctx.client(), "describe_alarm_history", "AlarmHistoryItems", **params):
        bits: list[object] = [
            item.get("AlarmName"),
            _time(item.get("Timestamp")),
            item.get("HistoryItemType"),
            item.get("HistorySummary"),
        ]
        if args.show_long:
            bits.append(item.get("HistoryData"))
        yield bits


def _set_state_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("alarm", metavar="ALARM", help="name of the alarm to update (required)")
    p.add_argument("--state-value", required=True, choices=("ALARM", "INSUFFICIENT_DATA", "OK"))
    p.add_argument("--state-reason", required=True, metavar="REASON")
    p.add_argument("--state-reason-data", metavar="JSON")


def _set_state(ctx: Context, args: argparse.Namespace) -> Iterator[Line]:
    params: dict[str, Any] = {
        "AlarmName": args.alarm,
        "StateValue": args.state_value,
        "StateReason": args.state_reason,
    }
    if args.state_reason_data is not None:
        params["StateReasonData"] = args.state_reason_data
    ctx.client().set_alarm_state(**params)
    yield from ()


def _names_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("alarm", nargs="+", metavar="ALARM", help="names of the alarms")


def _delete(ctx: Context, args: argparse.Namespace) -> Iterator[Line]:
    ctx.client().delete_alarms(AlarmNames=args.alarm)
    yield from ()


def _enable(ctx: Context, args: argparse.Namespace) -> Iterator[Line]:
    ctx.client().enable_alarm_actions(AlarmNames=args.alarm)
    yield from ()


def _disable(ctx: Context, args: argparse.Namespace) -> Iterator[Line]:
    ctx.client().disable_alarm_actions(AlarmNames=args.alarm)
    yield from ()


COMMANDS = (
    Command(
        "euwatch-put-metric-alarm",
        "Create or update an alarm",
        "cloudwatch",
        _put_arguments,
        _put,
        dash_values=frozenset({"--threshold"}),
    ),
    Command(
        "euwatch-describe-alarms", "Describe alarms", "cloudwatch", _describe_arguments, _describe
    ),
    Command(
        "euwatch-describe-alarm-history",
        "Retrieve history for one alarm or all alarms",
        "cloudwatch",
        _history_arguments,
        _history,
    ),
    Command(
        "euwatch-set-alarm-state",
        "Temporarily set the state of an alarm",
        "cloudwatch",
        _set_state_arguments,
        _set_state,
    ),
    Command("euwatch-delete-alarms", "Delete alarms", "cloudwatch", _names_arguments, _delete),
    Command(
        "euwatch-enable-alarm-actions",
        "Enable all actions for one or more alarms",
        "cloudwatch",
        _names_arguments,
        _enable,
    ),
    Command(
        "euwatch-disable-alarm-actions",
        "Disable all actions for one or more alarms",
        "cloudwatch",
        _names_arguments,
        _disable,
    ),
)
