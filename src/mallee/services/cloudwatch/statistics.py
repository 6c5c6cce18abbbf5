"""GetMetricStatistics: one metric's statistics per period, read from the roll-up tiers."""

from __future__ import annotations

import datetime as dt
from typing import Any

from mallee.api.context import RequestContext
from mallee.metrics import store as metrics
from mallee.metrics.points import Bucket, statistic_getter
from mallee.services.base import Operations, Params, Result, Runtime
from mallee.services.cloudwatch import fields
from mallee.services.cloudwatch.errors import invalid_combination, invalid_value

MAX_DATAPOINTS = 1440
_EPOCH = dt.datetime(1970, 1, 1)


def time_range(params: Params) -> tuple[float, float]:
    start = fields.epoch(params["StartTime"])
    end = fields.epoch(params["EndTime"])
    if start >= end:
        raise invalid_value("The parameter StartTime must be less than the parameter EndTime.")
    return start, end


def _datapoints(buckets: list[Bucket], names: list[str], extended: list[str]) -> list[Any]:
    plain = [(name, statistic_getter(name)) for name in names]
    percentiles = [(name, statistic_getter(name)) for name in extended]
    out = []
    for bucket in buckets:
        # A naive UTC datetime, not epoch seconds: the serializers format it as is (an epoch
        # float is converted through Decimal, which for 1440 datapoints cost more than the
        # read, and an aware datetime's isoformat takes twice a naive one's).
        stamp = _EPOCH + dt.timedelta(seconds=bucket.timestamp)
        point: dict[str, Any] = {"Timestamp": stamp, "Unit": bucket.unit}
        for name, get in plain:
            point[name] = get(bucket)
        if percentiles:
            found = ((name, get(bucket)) for name, get in percentiles)
            point["ExtendedStatistics"] = {k: v for k, v in found if v is not None}
        out.append(point)
    return out


def get_metric_statistics(rt: Runtime, ctx: RequestContext, params: Params) -> Result:
    name = str(params["MetricName"])
    dims = fields.dimensions(params.get("Dimensions"), "Dimensions")
    start, end = time_range(params)
    period = fields.period(params["Period"])
    names = list(params.get("Statistics") or [])
    extended = list(params.get("ExtendedStatistics") or [])
    fields.statistic_values(names, extended)
    unit = fields.unit(params.get("Unit"))
    asked = int((end - start) // period)
    if asked > MAX_DATAPOINTS:
        raise invalid_combination(
            f"You have requested up to {asked:,} datapoints, which exceeds the limit of "
            f"{MAX_DATAPOINTS:,}. You may reduce the datapoints requested by increasing "
            "Period, or decreasing the time range."
        )
    with rt.store.read() as s:
        buckets = metrics.statistics(
            s,
            ctx.principal.account_id,
            str(params["Namespace"]),
            name,
            dims,
            start,
            end,
            period,
            unit,
            with_bins=bool(extended),
        )
    return {"Label": name, "Datapoints": _datapoints(buckets, names, extended)}


OPERATIONS: Operations = {"GetMetricStatistics": get_metric_statistics}
