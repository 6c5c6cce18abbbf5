"""One metric alarm's decision over its evaluation range: the state, and the reason text and
JSON AWS writes for it. Pure: the engine (controller/alarms.py) reads the datapoints.

An evaluation range is the alarm's EvaluationPeriods last complete periods. A period without
data is handled by TreatMissingData: `breaching` and `notBreaching` count it as such;
`missing` (the default) and `ignore` leave it out, and with no datapoint at all `missing`
makes the alarm INSUFFICIENT_DATA while `ignore` keeps its state. The alarm is in ALARM when
at least DatapointsToAlarm (default EvaluationPeriods) of the datapoints evaluated breach, as
AWS's "M out of N" alarms are, else OK.
"""

from __future__ import annotations

import json
import operator
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

# Operator -> (test, the words AWS writes for it).
COMPARISONS: dict[str, tuple[Callable[[float, float], bool], str]] = {
    "GreaterThanOrEqualToThreshold": (operator.ge, "greater than or equal to"),
    "GreaterThanThreshold": (operator.gt, "greater than"),
    "LessThanThreshold": (operator.lt, "less than"),
    "LessThanOrEqualToThreshold": (operator.le, "less than or equal to"),
}
TREATMENTS = ("missing", "ignore", "breaching", "notBreaching")


@dataclass(frozen=True, slots=True)
class Slot:
    """One period of the evaluation range: its start, its statistic (None: no data)."""

    timestamp: float
    value: float | None
    sample_count: float = 0.0


@dataclass(frozen=True, slots=True)
class Rule:
    comparison: str
    threshold: float
    evaluation_periods: int
    datapoints_to_alarm: int
    treat_missing: str
    period: int
    # "Average", ... or "p90" (then `extended` is True)
    statistic: str
    extended: bool = False


@dataclass(frozen=True, slots=True)
class Decision:
    state: str
    reason: str
    reason_data: str


def java_double(v: float) -> str:
    """A double as AWS (Java's Double.toString) prints it: 85.0, 0.5, 1.0E7."""
    if v != v or v in (float("inf"), float("-inf")):
        return "NaN" if v != v else ("Infinity" if v > 0 else "-Infinity")
    magnitude = abs(v)
    if magnitude == 0 or 1e-3 <= magnitude < 1e7:
        text = repr(float(v))
        return text if "e" not in text else f"{v:.1f}"
    mantissa, exponent = f"{v:.16e}".split("e")
    digits = repr(float(mantissa))
    return f"{digits}E{int(exponent)}"


def reason_time(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%d/%m/%y %H:%M:%S")


def json_time(ts: float) -> str:
    moment = datetime.fromtimestamp(ts, UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}+0000"


def _plural(n: int) -> str:
    return "datapoint" if n == 1 else "datapoints"


def _listed(slots: Sequence[Slot]) -> str:
    # Newest first, as AWS lists them.
    return ", ".join(
        f"{java_double(s.value)} ({reason_time(s.timestamp)})"
        for s in sorted(slots, key=lambda s: -s.timestamp)
        if s.value is not None
    )


def _reason_data(rule: Rule, slots: Sequence[Slot], now: float) -> str:
    present = [s for s in slots if s.value is not None]
    data: dict[str, Any] = {"version": "1.0", "queryDate": json_time(now)}
    if slots:
        data["startDate"] = json_time(min(s.timestamp for s in slots))
    data["extendedStatistic" if rule.extended else "statistic"] = rule.statistic
    data["period"] = rule.period
    data["recentDatapoints"] = [s.value for s in sorted(present, key=lambda s: s.timestamp)]
    data["threshold"] = rule.threshold
    data["evaluatedDatapoints"] = [
        {"timestamp": json_time(s.timestamp), "sampleCount": s.sample_count, "value": s.value}
        if s.value is not None
        else {"timestamp": json_time(s.timestamp)}
        for s in sorted(slots, key=lambda s: -s.timestamp)
    ]
    return json.dumps(data, separators=(",", ":"))


def decide(rule: Rule, slots: Sequence[Slot], now: float) -> Decision | None:
    """The alarm's state over `slots` (its evaluation range), or None to keep its state."""
    test, words = COMPARISONS[rule.comparison]
    treat = rule.treat_missing or "missing"
    present = [s for s in slots if s.value is not None]
    data = _reason_data(rule, slots, now)
    if not present and treat in ("missing", "ignore"):
        if treat == "ignore":
            return None
        n = len(slots)
        verb = "was" if n == 1 else "were"
        return Decision(
            "INSUFFICIENT_DATA", f"Insufficient Data: {n} {_plural(n)} {verb} unknown.", data
        )
    if treat in ("breaching", "notBreaching"):
        evaluated = list(slots)
        breaching = [
            s
            for s in slots
            if (test(s.value, rule.threshold) if s.value is not None else treat == "breaching")
        ]
    else:
        evaluated = present
        breaching = [s for s in present if s.value is not None and test(s.value, rule.threshold)]
    needed = rule.datapoints_to_alarm
    threshold = f"the threshold ({java_double(rule.threshold)})"
    if len(breaching) >= needed:
        state = "ALARM"
        shown = breaching
        negation = ""
    else:
        state = "OK"
        shown = [s for s in evaluated if s not in breaching]
        negation = "not "
    n = len(shown)
    if state == "ALARM" and (len(breaching) < len(evaluated) or needed < rule.evaluation_periods):
        count = f"{len(breaching)} out of the last {len(evaluated)} datapoints"
        verb = "were"
        tail = f" (minimum {needed} {_plural(needed)} for OK -> ALARM transition)"
    else:
        count = f"{n} {_plural(n)}"
        verb = "was" if n == 1 else "were"
        tail = ""
    values = _listed(shown)
    listed = f" [{values}]" if values else ""
    reason = f"Threshold Crossed: {count}{listed} {verb} {negation}{words} {threshold}{tail}."
    return Decision(state, reason, data)
