"""Graphs of CloudWatch metrics, which the instance, alarm and dashboard pages share: the time
ranges offered, the period that keeps a graph to at most MAX_POINTS points, GetMetricData
asked once per graph (following its NextToken), and its answer drawn by svg_chart."""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from markupsafe import Markup

from mallee.console.svg_chart import Chart, Series, line_chart

# (query value, label, seconds)
RANGES = (
    ("1h", "1 hour", 3600),
    ("3h", "3 hours", 3 * 3600),
    ("12h", "12 hours", 12 * 3600),
    ("1d", "1 day", 86400),
    ("1w", "1 week", 7 * 86400),
)
DEFAULT_RANGE = "3h"
MAX_POINTS = 300
# Periods a graph is asked at: multiples of a minute, so they exist in every roll-up tier.
PERIODS = (60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400)
# The units of the built-in metrics (GetMetricData does not say them).
UNITS = {
    "CPUUtilization": "Percent",
    "NetworkIn": "Bytes",
    "NetworkOut": "Bytes",
    "DiskReadBytes": "Bytes",
    "DiskWriteBytes": "Bytes",
    "VolumeReadBytes": "Bytes",
    "VolumeWriteBytes": "Bytes",
    "NetworkPacketsIn": "Count",
    "NetworkPacketsOut": "Count",
    "DiskReadOps": "Count",
    "DiskWriteOps": "Count",
    "StatusCheckFailed": "Count",
    "StatusCheckFailed_Instance": "Count",
    "StatusCheckFailed_System": "Count",
}
# GetMetricData's pages: enough for a graph's few queries in one or two answers.
_MAX_PAGES = 20


@dataclass(frozen=True)
class Window:
    key: str
    seconds: int
    start: float
    end: float
    period: int


def chosen_range(key: str) -> tuple[str, int]:
    """The range the query names, else the default."""
    for name, _, seconds in RANGES:
        if name == key:
            return name, seconds
    return chosen_range(DEFAULT_RANGE)


def period_for(seconds: float, at_least: int = 60) -> int:
    """The shortest offered period, not below `at_least` (the data's own resolution), that
    keeps `seconds` of data to MAX_POINTS points."""
    wanted = max(at_least, math.ceil(seconds / MAX_POINTS))
    for period in PERIODS:
        if period >= wanted:
            return period
    return int(math.ceil(wanted / 60) * 60)


def window(key: str, at_least: int = 60, now: float | None = None) -> Window:
    """The range ending now, its end on a period boundary (so the last, still filling period
    is the last point)."""
    name, seconds = chosen_range(key)
    period = period_for(seconds, at_least)
    now = time.time() if now is None else now
    end = math.ceil(now / period) * period
    return Window(name, seconds, float(end - seconds), float(end), period)


@dataclass
class Line:
    """One series of a graph: a MetricStat (or an expression) and its label."""

    id: str
    label: str
    stat: dict[str, Any] | None = None
    expression: str = ""
    # False: asked only for an expression to use, not drawn.
    returned: bool = True

    def query(self, period: int) -> dict[str, Any]:
        q: dict[str, Any] = {"Id": self.id, "Label": self.label, "ReturnData": self.returned}
        if self.stat is not None:
            q["MetricStat"] = {**self.stat, "Period": period}
        else:
            q["Expression"] = self.expression
            q["Period"] = period
        return q


@dataclass
class Graph:
    title: str
    lines: list[Line]
    unit: str = ""
    threshold: float | None = None
    # Filled by fetch: the points of each line, by its id.
    points: dict[str, list[tuple[float, float]]] = field(default_factory=dict)
    # A query the API refused or could not complete, shown under the graph.
    messages: list[str] = field(default_factory=list)


def metric_stat(
    namespace: str, name: str, dimensions: Sequence[tuple[str, str]], stat: str
) -> dict[str, Any]:
    return {
        "Metric": {
            "Namespace": namespace,
            "MetricName": name,
            "Dimensions": [{"Name": k, "Value": v} for k, v in dimensions],
        },
        "Stat": stat,
    }


def epoch(value: Any) -> float:
    """A timestamp as the client parsed it (a datetime, epoch seconds, or the ISO text the
    console's clients keep) in epoch seconds."""
    if isinstance(value, datetime):
        return value.timestamp() if value.tzinfo else value.replace(tzinfo=UTC).timestamp()
    if isinstance(value, int | float):
        return float(value)
    text = str(value).strip()
    try:
        return float(text)
    except ValueError:
        pass
    parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return parsed.timestamp() if parsed.tzinfo else parsed.replace(tzinfo=UTC).timestamp()


def shown_time(value: Any) -> str:
    """A CloudWatch timestamp as a person reads it (the API's CBOR sends epoch seconds)."""
    if value in (None, ""):
        return ""
    try:
        at = epoch(value)
    except (TypeError, ValueError):
        return str(value)
    return datetime.fromtimestamp(at, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def fetch(cloudwatch: Any, graphs: Sequence[Graph], span: Window) -> None:
    """Every graph's points: in one GetMetricData (ids made unique across graphs) unless a
    graph holds an expression, whose ids must stay as written: then one per graph."""
    if any(line.stat is None for graph in graphs for line in graph.lines):
        for graph in graphs:
            _ask(cloudwatch, {line.id: (graph, line) for line in graph.lines}, span)
        return
    _ask(
        cloudwatch,
        {
            f"g{g}_{line.id}": (graph, line)
            for g, graph in enumerate(graphs)
            for line in graph.lines
        },
        span,
    )


def _ask(cloudwatch: Any, owners: dict[str, tuple[Graph, Line]], span: Window) -> None:
    if not owners:
        return
    queries = [{**line.query(span.period), "Id": qid} for qid, (_, line) in owners.items()]
    params: dict[str, Any] = {
        "MetricDataQueries": queries,
        "StartTime": datetime.fromtimestamp(span.start, UTC),
        "EndTime": datetime.fromtimestamp(span.end, UTC),
        "ScanBy": "TimestampAscending",
    }
    for _ in range(_MAX_PAGES):
        answer = cloudwatch.get_metric_data(**params)
        for result in answer.get("MetricDataResults", []):
            owner = owners.get(str(result.get("Id", "")))
            if owner is None:
                continue
            graph, line = owner
            found = graph.points.setdefault(line.id, [])
            pairs = zip(result.get("Timestamps", []), result.get("Values", []), strict=False)
            found += [(epoch(t), float(v)) for t, v in pairs]
            if result.get("StatusCode") == "InternalError":
                graph.messages.append(f"{line.label}: the cloud could not compute this line")
            for message in result.get("Messages") or []:
                graph.messages.append(f"{message.get('Code', '')}: {message.get('Value', '')}")
        for message in answer.get("Messages") or []:
            for graph in {id(g): g for g, _ in owners.values()}.values():
                graph.messages.append(f"{message.get('Code', '')}: {message.get('Value', '')}")
        token = answer.get("NextToken")
        if not token:
            return
        params["NextToken"] = token


def draw(graph: Graph, span: Window, width: int = 640) -> Markup:
    """The graph as SVG markup (every text in it escaped by svg_chart)."""
    series = [
        Series(line.label, graph.points.get(line.id, [])) for line in graph.lines if line.returned
    ]
    chart = Chart(
        title=graph.title,
        start=span.start,
        end=span.end,
        period=span.period,
        series=series,
        unit=graph.unit,
        threshold=graph.threshold,
        width=width,
    )
    # svg_chart escapes every text the markup holds.
    return Markup(line_chart(chart))


def range_links(key: str) -> list[tuple[str, str, bool]]:
    """(query value, label, chosen) of each range offered."""
    return [(name, label, name == key) for name, label, _ in RANGES]
