"""PutMetricData: every datum is checked before any is stored, then all go in one transaction."""

from __future__ import annotations

import time
from typing import Any

from mallee.api.context import RequestContext
from mallee.metrics.group_commit import GroupCommit
from mallee.metrics.points import Datum
from mallee.services.base import Operations, Params, Result, Runtime
from mallee.services.cloudwatch import fields
from mallee.services.cloudwatch.errors import invalid_combination, invalid_value, missing

MAX_DATA = 1000
MAX_VALUES = 150
# AWS accepts datapoints up to two weeks old and two hours ahead.
PAST = 14 * 86400
FUTURE = 2 * 3600


def namespace(raw: Any) -> str:
    text = str(raw or "")
    if not text:
        raise missing("The parameter Namespace is required.")
    # AWS/ is the cloud's own (built-in metrics): nobody else may publish into it.
    if text.startswith("AWS/"):
        raise invalid_value(f"The value {text} for parameter Namespace is invalid.")
    return text


def _statistic_set(raw: dict[str, Any], where: str) -> tuple[float, float, float, float]:
    absent = [k for k in ("Maximum", "Minimum", "SampleCount", "Sum") if raw.get(k) is None]
    if absent:
        raise missing("\n".join(f"The parameter {where}.{k} is required." for k in absent))
    count = fields.number(raw["SampleCount"], f"{where}.SampleCount")
    total = fields.number(raw["Sum"], f"{where}.Sum")
    low = fields.number(raw["Minimum"], f"{where}.Minimum")
    high = fields.number(raw["Maximum"], f"{where}.Maximum")
    if high < low:
        raise invalid_value(f"The parameter {where}.Maximum must be greater than {where}.Minimum.")
    if count <= 0:
        raise invalid_value(f"The parameter {where}.SampleCount must be greater than 0.")
    return count, total, low, high


def _values(item: dict[str, Any], where: str) -> tuple[tuple[float, float], ...]:
    values = item.get("Values") or []
    counts = item.get("Counts")
    if len(values) > MAX_VALUES:
        raise invalid_value(
            f"The collection {where}.Values must not have a size greater than {MAX_VALUES}."
        )
    if counts is not None and len(counts) != len(values):
        raise invalid_value(
            f"The parameters {where}.Values and {where}.Counts must be of the same size."
        )
    pairs = []
    for i, raw in enumerate(values, 1):
        value = fields.number(raw, f"{where}.Values.member.{i}")
        count = (
            1.0 if counts is None else fields.number(counts[i - 1], f"{where}.Counts.member.{i}")
        )
        if count < 0:
            raise invalid_value(
                f"The value {count:g} for parameter {where}.Counts.member.{i} is invalid."
            )
        if count > 0:
            pairs.append((value, count))
    return tuple(pairs)


def datum(account_id: str, ns: str, item: dict[str, Any], i: int, now: float) -> Datum | None:
    """The datum `item` (MetricData.member.i) says, or None when it carries no samples (Values
    whose counts are all zero)."""
    where = f"MetricData.member.{i}"
    name = str(item.get("MetricName") or "")
    if not name:
        raise missing(f"The parameter {where}.MetricName is required.")
    dims = fields.dimensions(item.get("Dimensions"), f"{where}.Dimensions")
    stamp = now if item.get("Timestamp") is None else fields.epoch(item["Timestamp"])
    if stamp < now - PAST or stamp > now + FUTURE:
        raise invalid_value(
            f"The parameter {where}.Timestamp must specify a time no more than two weeks in "
            "the past and no more than two hours in the future."
        )
    unit = fields.unit(item.get("Unit"), f"{where}.Unit") or "None"
    resolution = int(item.get("StorageResolution") or 60)
    if resolution not in (1, 60):
        raise invalid_value(
            f"The value {resolution} for parameter {where}.StorageResolution is invalid."
        )
    given = [k for k in ("Value", "StatisticValues", "Values") if item.get(k) is not None]
    if not given:
        raise missing(
            f"At least one of the parameters {where}.Value, {where}.StatisticValues or "
            f"{where}.Values must be specified."
        )
    if len(given) > 1:
        raise invalid_combination(
            f"The parameters {where}.{given[0]} and {where}.{given[1]} are mutually exclusive "
            "and you have specified both."
        )
    if item.get("Counts") is not None and given[0] != "Values":
        raise invalid_combination(
            f"The parameter {where}.Counts may only be specified with {where}.Values."
        )
    if given[0] == "Value":
        v = fields.number(item["Value"], f"{where}.Value")
        return Datum(account_id, ns, name, dims, stamp, unit, 1.0, v, v, v, ((v, 1.0),), resolution)
    if given[0] == "StatisticValues":
        count, total, low, high = _statistic_set(
            item["StatisticValues"], f"{where}.StatisticValues"
        )
        return Datum(
            account_id, ns, name, dims, stamp, unit, count, total, low, high, (), resolution
        )
    pairs = _values(item, where)
    if not pairs:
        return None
    return Datum(
        account_id,
        ns,
        name,
        dims,
        stamp,
        unit,
        sum(c for _, c in pairs),
        sum(v * c for v, c in pairs),
        min(v for v, _ in pairs),
        max(v for v, _ in pairs),
        pairs,
        resolution,
    )


def put_metric_data(rt: Runtime, ctx: RequestContext, params: Params) -> Result:
    ns = namespace(params.get("Namespace"))
    items = params.get("MetricData") or []
    if not items:
        raise missing("The parameter MetricData is required.")
    if len(items) > MAX_DATA:
        raise invalid_value(
            f"The collection MetricData must not have a size greater than {MAX_DATA}."
        )
    now = time.time()
    account = ctx.principal.account_id
    data = [d for i, item in enumerate(items, 1) if (d := datum(account, ns, item, i, now))]
    if data:
        # Concurrent puts share a commit (one fsync for all): see metrics/group_commit.py.
        rt.shared("cloudwatch.group-commit", lambda: GroupCommit(rt.store)).put(data, now)
    return {}


OPERATIONS: Operations = {"PutMetricData": put_metric_data}
