"""An alarm's own page: its configuration and state, a graph of its metric over a chosen range
with the threshold drawn, its history (DescribeAlarmHistory), and its actions: enable or
disable them, set its state, delete it."""

from __future__ import annotations

from typing import Any

from starlette.responses import Response

from mallee.console.context import BadRequest, Ctx, Route
from mallee.console.pages import metric_graphs as mg
from mallee.console.pages.alarms import STATES, alarm_view, detail_path

HISTORY = 50


def _graph(a: dict[str, Any]) -> mg.Graph | None:
    """The alarm's metric with the statistic it is evaluated by; None for a composite alarm
    (no metric of its own)."""
    if "MetricName" in a:
        dims = [(str(d.get("Name")), str(d.get("Value"))) for d in a.get("Dimensions") or []]
        stat = str(a.get("ExtendedStatistic") or a.get("Statistic") or "Average")
        namespace = str(a.get("Namespace", ""))
        line = mg.Line("m", a["MetricName"], mg.metric_stat(namespace, a["MetricName"], dims, stat))
        title = f"{a['MetricName']} ({stat})"
    elif a.get("Metrics"):
        # Metric math: the query it returns, when that is a metric (an expression would need
        # the other queries it names, drawn together: not done here).
        returned = next((m for m in a["Metrics"] if m.get("ReturnData", True)), a["Metrics"][0])
        if "MetricStat" not in returned:
            return None
        title = str(returned.get("Label") or returned.get("Id", "metric"))
        line = mg.Line("m", title, dict(returned["MetricStat"]))
    else:
        return None
    threshold = float(a["Threshold"]) if "Threshold" in a else None
    return mg.Graph(title, [line], mg.UNITS.get(str(a.get("MetricName", "")), ""), threshold)


def _history(cloudwatch: Any, name: str) -> list[dict[str, Any]]:
    answer = cloudwatch.describe_alarm_history(AlarmName=name, MaxRecords=HISTORY)
    return [
        {
            "when": mg.shown_time(h.get("Timestamp")),
            "kind": h.get("HistoryItemType", ""),
            "summary": h.get("HistorySummary", ""),
        }
        for h in answer.get("AlarmHistoryItems", [])
    ]


def detail(ctx: Ctx) -> Response:
    name = ctx.arg("name")
    if not name:
        raise BadRequest("which alarm?")
    cloudwatch = ctx.client("cloudwatch")
    found = cloudwatch.describe_alarms(
        AlarmNames=[name], AlarmTypes=["MetricAlarm", "CompositeAlarm"]
    )
    alarm = next(iter([*found.get("MetricAlarms", []), *found.get("CompositeAlarms", [])]), None)
    if alarm is None:
        raise BadRequest(f"no alarm {name}")
    view = alarm_view(alarm)
    graph = _graph(alarm)
    span = mg.window(ctx.arg("range"), int(alarm.get("Period") or 60))
    chart = None
    if graph is not None:
        mg.fetch(cloudwatch, [graph], span)
        chart = mg.draw(graph, span, width=800)
    facts = [
        ("State", view["state"]),
        ("Reason", alarm.get("StateReason", "")),
        ("State changed", view["updated"]),
        ("Description", alarm.get("AlarmDescription", "")),
        ("Metric", view["metric"]),
        ("Condition", view["condition"]),
        ("Missing data", alarm.get("TreatMissingData", "")),
        ("Actions", view["actions_enabled"]),
        ("In ALARM", ", ".join(alarm.get("AlarmActions") or []) or "none"),
        ("In OK", ", ".join(alarm.get("OKActions") or []) or "none"),
        ("In INSUFFICIENT_DATA", ", ".join(alarm.get("InsufficientDataActions") or []) or "none"),
        ("ARN", alarm.get("AlarmArn", "")),
    ]
    here = detail_path(name)
    return ctx.page(
        "alarm_detail.html",
        f"Alarm {name}",
        a=view,
        facts=[(k, v) for k, v in facts if v != ""],
        chart=chart,
        graph=graph,
        span=span,
        ranges=mg.range_links(span.key),
        history=_history(cloudwatch, name),
        states=STATES,
        here=here + (f"&range={span.key}" if ctx.arg("range") else ""),
        base=here,
    )


ROUTES = [Route("GET", "/alarms/detail", detail, "/alarms")]
