"""GetMetricData: MetricStat queries read from the roll-up tiers, expressions computed over
them (metric_math), results ordered by ScanBy and paged by MaxDatapoints."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from mallee.api.context import RequestContext
from mallee.metrics import histogram
from mallee.metrics import store as metrics
from mallee.metrics.points import Bucket
from mallee.services import page_tokens
from mallee.services.base import Operations, Params, Result, Runtime
from mallee.services.cloudwatch import fields, metric_math
from mallee.services.cloudwatch.errors import invalid_token, validation
from mallee.services.cloudwatch.statistics import time_range

MAX_QUERIES = 500
MAX_DATAPOINTS = 100_800
_ID = re.compile(r"^[a-z][a-zA-Z0-9_]*$")


@dataclass(slots=True)
class _Query:
    id: str
    label: str
    returned: bool
    stat: dict[str, Any] | None
    expression: str
    period: int


def _queries(raw: list[dict[str, Any]]) -> list[_Query]:
    if not raw:
        raise validation("The parameter MetricDataQueries is required.")
    if len(raw) > MAX_QUERIES:
        raise validation(
            f"The collection MetricDataQueries must not have a size greater than {MAX_QUERIES}."
        )
    out: list[_Query] = []
    seen: set[str] = set()
    for i, q in enumerate(raw, 1):
        where = f"MetricDataQueries.member.{i}"
        qid = str(q.get("Id") or "")
        if not _ID.match(qid):
            raise validation(
                f"The value {qid} for parameter {where}.Id is invalid: it must start with a "
                "lowercase letter and hold only letters, numbers and underscores."
            )
        if qid in seen:
            raise validation("The values for parameter id in MetricDataQueries are not unique.")
        seen.add(qid)
        stat, expression = q.get("MetricStat"), q.get("Expression")
        if stat is not None and expression is not None:
            raise validation(
                f"The parameters {where}.Expression and {where}.MetricStat are mutually "
                "exclusive and you have specified both."
            )
        if stat is None and expression is None:
            raise validation(
                f"Each MetricDataQuery must specify Expression or MetricStat ({where})."
            )
        if stat is not None and q.get("Period") is not None:
            raise validation(
                f"The parameters {where}.Period and {where}.MetricStat are mutually exclusive "
                "and you have specified both."
            )
        if stat is not None:
            period = fields.period(stat["Period"], f"{where}.MetricStat.Period")
            name = str(stat["Stat"])
            if name not in fields.STATISTICS and fields.percentile(name) is None:
                raise validation(
                    f"The value {name} for parameter {where}.MetricStat.Stat is invalid."
                )
            fields.unit(stat.get("Unit"), f"{where}.MetricStat.Unit")
            label = str(stat["Metric"].get("MetricName") or "")
        else:
            period = (
                fields.period(q["Period"], f"{where}.Period") if q.get("Period") is not None else 0
            )
            label = qid
        returned = q.get("ReturnData")
        out.append(
            _Query(
                qid,
                str(q.get("Label") or label),
                True if returned is None else bool(returned),
                stat,
                str(expression or ""),
                period,
            )
        )
    return out


def _combined(buckets: list[Bucket]) -> list[Bucket]:
    """One bucket per timestamp: a query without Unit takes every unit's samples together."""
    by_time: dict[float, Bucket] = {}
    for b in buckets:
        had = by_time.get(b.timestamp)
        if had is None:
            by_time[b.timestamp] = b
            continue
        bins: histogram.Bins | None = None
        if had.bins is not None and b.bins is not None:
            bins = dict(had.bins)
            histogram.merge(bins, b.bins)
        by_time[b.timestamp] = Bucket(
            b.timestamp,
            had.count + b.count,
            had.sum + b.sum,
            min(had.minimum, b.minimum),
            max(had.maximum, b.maximum),
            had.unit,
            bins,
        )
    return [by_time[t] for t in sorted(by_time)]


def _metric_series(
    rt: Runtime, account: str, stat: dict[str, Any], where: str, start: float, end: float
) -> metric_math.Series:
    metric = stat["Metric"]
    name = str(stat["Stat"])
    dims = fields.dimensions(metric.get("Dimensions"), f"{where}.MetricStat.Metric.Dimensions")
    with rt.store.read() as s:
        buckets = metrics.statistics(
            s,
            account,
            str(metric.get("Namespace") or ""),
            str(metric.get("MetricName") or ""),
            dims,
            start,
            end,
            int(stat["Period"]),
            stat.get("Unit"),
            with_bins=fields.percentile(name) is not None,
        )
    out: metric_math.Series = {}
    for b in _combined(buckets):
        v = b.statistic(name)
        if v is not None:
            out[b.timestamp] = v
    return out


def _evaluate(
    rt: Runtime, ctx: RequestContext, queries: list[_Query], start: float, end: float
) -> dict[str, metric_math.Series]:
    values: dict[str, metric_math.Value] = {}
    stat_ids = [q.id for q in queries if q.stat is not None]
    times_seen: set[float] = set()
    for i, q in enumerate(queries, 1):
        if q.stat is not None:
            found = _metric_series(
                rt, ctx.principal.account_id, q.stat, f"MetricDataQueries.member.{i}", start, end
            )
            values[q.id] = found
            times_seen.update(found)
    periods = [q.period for q in queries if q.period]
    default_period = min(periods) if periods else 60
    times = sorted(times_seen)
    pending = {q.id: q for q in queries if q.stat is None}
    # Expressions may name each other in any order: compute those whose inputs are ready.
    while pending:
        ready = [
            q for q in pending.values() if not metric_math.references(q.expression) & pending.keys()
        ]
        if not ready:
            cycle = ", ".join(sorted(pending))
            raise validation(f"Circular dependency among the expressions: {cycle}")
        for q in ready:
            grid = metric_math.Grid(start, end, q.period or default_period)
            try:
                value = metric_math.Evaluator(values, grid, stat_ids).run(q.expression)
                values[q.id] = metric_math.result_series(value, grid, times)
            except metric_math.MathError as err:
                raise validation(f"Error in expression '{q.id}': {err}") from err
            del pending[q.id]
    return {qid: v for qid, v in values.items() if isinstance(v, dict)}


def get_metric_data(rt: Runtime, ctx: RequestContext, params: Params) -> Result:
    queries = _queries(list(params.get("MetricDataQueries") or []))
    start, end = time_range(params)
    limit = int(params.get("MaxDatapoints") or MAX_DATAPOINTS)
    if limit <= 0:
        raise validation("The parameter MaxDatapoints must be greater than 0.")
    descending = params.get("ScanBy", "TimestampDescending") != "TimestampAscending"
    offset = 0
    token = params.get("NextToken")
    if token:
        key = page_tokens.decode(str(token))
        if key is None or not key.isdigit():
            raise invalid_token("The service cannot decode the NextToken.")
        offset = int(key)
    series = _evaluate(rt, ctx, queries, start, end)
    results: list[dict[str, Any]] = []
    skip, room = offset, limit
    for q in (q for q in queries if q.returned):
        points = sorted(series.get(q.id, {}).items(), reverse=descending)
        shown = points[skip:][:room]
        skip = max(0, skip - len(points))
        room -= len(shown)
        if offset == 0 or shown:
            results.append(
                {
                    "Id": q.id,
                    "Label": q.label,
                    "Timestamps": [t for t, _ in shown],
                    "Values": [v for _, v in shown],
                    "StatusCode": "Complete"
                    if offset + limit >= _before(queries, series, q.id) + len(points)
                    else "PartialData",
                    "Messages": [],
                }
            )
    total = sum(len(series.get(q.id, {})) for q in queries if q.returned)
    out: Result = {"MetricDataResults": results, "Messages": []}
    if offset + limit < total:
        out["NextToken"] = page_tokens.encode(str(offset + limit))
    return out


def _before(queries: list[_Query], series: dict[str, metric_math.Series], qid: str) -> int:
    """How many returned datapoints the queries before `qid` hold."""
    count = 0
    for q in queries:
        if q.id == qid:
            break
        if q.returned:
            count += len(series.get(q.id, {}))
    return count


OPERATIONS: Operations = {"GetMetricData": get_metric_data}
