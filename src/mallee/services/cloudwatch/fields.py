"""Checks the metric operations share: dimensions, units, periods, statistics, timestamps."""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Sequence
from typing import Any

from mallee.services.cloudwatch.errors import invalid_combination, invalid_value, missing

UNITS = (  # noqa: SIM905
    "Seconds Microseconds Milliseconds Bytes Kilobytes Megabytes Gigabytes Terabytes Bits "
    "Kilobits Megabits Gigabits Terabits Percent Count Bytes/Second Kilobytes/Second "
    "Megabytes/Second Gigabytes/Second Terabytes/Second Bits/Second Kilobits/Second "
    "Megabits/Second Gigabits/Second Terabits/Second Count/Second None"
).split()
_UNIT_SET = frozenset(UNITS)
STATISTICS = ("SampleCount", "Average", "Sum", "Minimum", "Maximum")
# pNN and pNN.NN (0 < NN < 100), as GetMetricStatistics' ExtendedStatistics take them.
_PERCENTILE = re.compile(r"^p(\d{1,2}(\.\d{1,10})?|100(\.0{1,10})?)$")
HIGH_RESOLUTION_PERIODS = (1, 5, 10, 30)
# AWS: values outside +-2^360 are refused (and NaN, +-Infinity).
_LIMIT = 2.0**360


def dimensions(raw: Sequence[dict[str, Any]] | None, where: str) -> tuple[tuple[str, str], ...]:
    pairs = [(str(d.get("Name", "")), str(d.get("Value", ""))) for d in raw or ()]
    if len(pairs) > 30:
        raise invalid_value(f"The collection {where} must not have a size greater than 30.")
    seen: set[str] = set()
    for i, (name, value) in enumerate(pairs, 1):
        for part, text in (("Name", name), ("Value", value)):
            if not 1 <= len(text) <= 1024:
                raise invalid_value(
                    f"The parameter {where}.member.{i}.{part} must be between 1 and 1024 "
                    "characters long."
                )
        if name in seen:
            raise invalid_value("No Metric may specify the same dimension twice.")
        seen.add(name)
    return tuple(sorted(pairs))


def unit(raw: Any, where: str = "Unit") -> str | None:
    if raw is None:
        return None
    text = str(raw)
    if text not in _UNIT_SET:
        raise invalid_value(
            f"The parameter {where} must be a value in the set [{', '.join(UNITS)}]."
        )
    return text


def number(raw: Any, where: str) -> float:
    value = float(raw)
    if math.isnan(value) or math.isinf(value) or abs(value) > _LIMIT:
        raise invalid_value(f"The value {_show(raw)} for parameter {where} is invalid.")
    if value != 0 and abs(value) < 1 / _LIMIT:
        raise invalid_value(f"The value {_show(raw)} for parameter {where} is invalid.")
    return value


def _show(raw: Any) -> str:
    if isinstance(raw, float):
        if math.isnan(raw):
            return "NaN"
        if math.isinf(raw):
            return "Infinity" if raw > 0 else "-Infinity"
    return str(raw)


def epoch(raw: Any) -> float:
    if isinstance(raw, dt.datetime):
        if raw.tzinfo is None:
            raw = raw.replace(tzinfo=dt.UTC)
        return float(raw.timestamp())
    return float(raw)


def period(raw: Any, where: str = "Period") -> int:
    value = int(raw)
    if value <= 0:
        raise invalid_value(f"The parameter {where} must be greater than 0.")
    if value not in HIGH_RESOLUTION_PERIODS and value % 60:
        raise invalid_value(f"The parameter {where} must be 1, 5, 10, 30, or any multiple of 60.")
    return value


def percentile(stat: str) -> float | None:
    """The p of a pNN statistic, or None when `stat` is not one."""
    if not _PERCENTILE.match(stat):
        return None
    return float(stat[1:])


def statistic_values(names: Sequence[str], extended: Sequence[str]) -> None:
    if not names and not extended:
        raise missing("Must specify either Statistics or ExtendedStatistics.")
    if names and extended:
        raise invalid_combination(
            "The parameters Statistics and ExtendedStatistics are mutually exclusive and you "
            "have specified both."
        )
    for i, name in enumerate(names, 1):
        if name not in STATISTICS:
            raise invalid_value(
                f"The parameter Statistics.member.{i} must be a value in the set "
                f"[{', '.join(STATISTICS)}]."
            )
    for name in extended:
        if percentile(name) is None:
            raise invalid_value(f"The value {name} for parameter ExtendedStatistics is invalid.")
