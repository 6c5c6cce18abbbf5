"""A dashboard's body (CloudWatch's DashboardBody JSON) as the console draws it: each
`metric` widget a graph (its `metrics` array read as AWS reads it, with the "." and "..."
shorthands, options objects and expressions), each `text` widget its markdown as plain,
escaped text, and any other kind named as not drawn here."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from mallee.console.pages import metric_graphs as mg

DEFAULT_PERIOD = 300
DEFAULT_STAT = "Average"


@dataclass
class Widget:
    kind: str
    title: str
    # A metric widget's graph and the period its data is at.
    graph: mg.Graph | None = None
    period: int = DEFAULT_PERIOD
    text: str = ""
    problems: list[str] = field(default_factory=list)


def _expanded(entry: list[Any], before: list[Any] | None) -> list[Any]:
    """A metric entry with its shorthands written out: "." repeats the value at the same
    place in the entry before, a leading "..." repeats the entry before's values up to
    where the rest of this one begins."""
    if entry and entry[0] == "..." and before is not None:
        rest = entry[1:]
        return [*before[: max(len(before) - len(rest), 0)], *rest]
    return [
        before[i] if v == "." and before is not None and i < len(before) else v
        for i, v in enumerate(entry)
    ]


def metric_lines(props: dict[str, Any]) -> tuple[list[mg.Line], int, list[str]]:
    """The widget's lines, the longest period among them, and what could not be read."""
    stat = str(props.get("stat") or DEFAULT_STAT)
    period = _period(props.get("period"), DEFAULT_PERIOD)
    lines: list[mg.Line] = []
    problems: list[str] = []
    before: list[Any] | None = None
    longest = period
    for n, raw in enumerate(props.get("metrics") or [], 1):
        if not isinstance(raw, list) or not raw:
            problems.append(f"metrics[{n - 1}] is not an array")
            continue
        options = raw[-1] if isinstance(raw[-1], dict) else {}
        values = raw[:-1] if options else raw
        qid = str(options.get("id") or f"m{n}")
        visible = options.get("visible", True) is not False
        if "expression" in options and not values:
            label = str(options.get("label") or options["expression"])
            lines.append(mg.Line(qid, label, None, str(options["expression"]), visible))
            continue
        values = _expanded(list(values), before)
        before = values
        if len(values) < 2 or len(values) % 2:
            problems.append(f"metrics[{n - 1}]: namespace, name and dimension name/value pairs")
            continue
        namespace, name = str(values[0]), str(values[1])
        dims = [(str(values[i]), str(values[i + 1])) for i in range(2, len(values), 2)]
        own_period = _period(options.get("period"), period)
        longest = max(longest, own_period)
        label = str(options.get("label") or " ".join([name, *[v for _, v in dims]]))
        chosen = str(options.get("stat") or stat)
        lines.append(
            mg.Line(qid, label, mg.metric_stat(namespace, name, dims, chosen), "", visible)
        )
    return lines, longest, problems


def _period(raw: Any, default: int) -> int:
    try:
        value = int(raw)
    except (TypeError, ValueError):
        return default
    return value if value > 0 else default


def _unit(lines: list[mg.Line]) -> str:
    names = {
        str(line.stat["Metric"]["MetricName"]) for line in lines if line.stat and line.returned
    }
    units = {mg.UNITS.get(n, "") for n in names}
    return units.pop() if len(units) == 1 else ""


def widgets(body: str) -> list[Widget]:
    """The body's widgets in reading order (top to bottom, left to right)."""
    try:
        parsed = json.loads(body)
    except ValueError:
        return [Widget("text", "Unreadable body", problems=["The body is not valid JSON"])]
    raw = parsed.get("widgets") if isinstance(parsed, dict) else None
    if not isinstance(raw, list):
        return []
    placed = [w for w in raw if isinstance(w, dict)]
    placed.sort(key=lambda w: (_int(w.get("y")), _int(w.get("x"))))
    out = []
    for n, w in enumerate(placed, 1):
        kind = str(w.get("type", ""))
        found = w.get("properties")
        props: dict[str, Any] = found if isinstance(found, dict) else {}
        title = str(props.get("title") or f"Widget {n}")
        if kind == "metric":
            lines, period, problems = metric_lines(props)
            graph = mg.Graph(title, lines, _unit(lines))
            out.append(Widget(kind, title, graph, period, problems=problems))
        elif kind == "text":
            out.append(
                Widget(kind, str(props.get("title") or ""), text=str(props.get("markdown", "")))
            )
        else:
            out.append(
                Widget(
                    kind,
                    title,
                    problems=[f"A {kind or 'typeless'} widget is not drawn by the console"],
                )
            )
    return out


def _int(value: Any) -> int:
    return value if isinstance(value, int) else 0
