"""euwatch-list-metrics, euwatch-get-stats, euwatch-put-data: euca2ools' CloudWatch metric
commands, with their options and tab-separated lines."""

from __future__ import annotations

import argparse
import datetime as dt
from collections.abc import Iterator
from typing import Any

from mallee.euca.command import Command, Context, Line
from mallee.euca.errors import CommandError
from mallee.euca.paging import all_items


def _dimension(text: str) -> dict[str, str]:
    name, eq, value = text.partition("=")
    if not eq:
        raise argparse.ArgumentTypeError(f'dimension filter "{text}" must have form KEY=VALUE')
    return {"Name": name, "Value": value}


def _dimensions(text: str) -> list[dict[str, str]]:
    return [_dimension(part) for part in text.split(",") if part]


def _list_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "-d",
        "--dimensions",
        metavar="KEY1=VALUE1,KEY2=VALUE2,...",
        type=_dimensions,
        help="limit results to metrics with specific dimensions",
    )
    p.add_argument("-m", "--metric-name", metavar="METRIC", help="limit results to a metric")
    p.add_argument("-n", "--namespace", metavar="NAMESPACE", help="limit results to a namespace")


def _list(ctx: Context, args: argparse.Namespace) -> Iterator[Line]:
    params: dict[str, Any] = {}
    if args.dimensions:
        params["Dimensions"] = args.dimensions
    if args.metric_name:
        params["MetricName"] = args.metric_name
    if args.namespace:
        params["Namespace"] = args.namespace
    lines: list[tuple[str, str, str]] = []
    for metric in all_items(ctx.client(), "list_metrics", "Metrics", **params):
        dims = metric.get("Dimensions") or []
        shown = ",".join(f"{d.get('Name')}={d.get('Value')}" for d in dims)
        lines.append(
            (
                str(metric.get("MetricName")),
                str(metric.get("Namespace")),
                f"{{{shown}}}" if dims else "",
            )
        )
    yield from sorted(lines)


def _when(text: str, option: str) -> dt.datetime:
    try:
        parsed = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as err:
        raise CommandError(
            f"argument {option}: {text!r} is not a YYYY-MM-DDThh:mm:ssZ time"
        ) from err
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


def _stats_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("metric", metavar="METRIC", help="name of the metric to get statistics for")
    p.add_argument("-n", "--namespace", required=True, help="the metric's namespace (required)")
    p.add_argument(
        "-s",
        "--statistics",
        required=True,
        metavar="STAT1,STAT2,...",
        type=lambda text: [s for s in text.split(",") if s],
        help="the metric statistics to show (at least 1 required)",
    )
    p.add_argument(
        "--dimensions",
        metavar="KEY1=VALUE1,KEY2=VALUE2,...",
        type=_dimensions,
        help="the dimensions of the metric to show",
    )
    p.add_argument(
        "--start-time",
        metavar="YYYY-MM-DDThh:mm:ssZ",
        help="earliest time to retrieve data points for (default: one hour ago)",
    )
    p.add_argument(
        "--end-time",
        metavar="YYYY-MM-DDThh:mm:ssZ",
        help="latest time to retrieve data points for (default: now)",
    )
    p.add_argument(
        "--period",
        metavar="SECONDS",
        type=int,
        help="granularity of the returned data points (must be a multiple of 60)",
    )
    p.add_argument("--unit", help="unit the metric is reported in")


def _timestamp(value: Any) -> str:
    """euca2ools' 'YYYY-MM-DD hh:mm:ss' (the client keeps the wire's text, or CBOR's epoch)."""
    if isinstance(value, int | float):
        moment = dt.datetime.fromtimestamp(value, dt.UTC)
    else:
        try:
            moment = dt.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
        except ValueError:
            return str(value)
    return moment.strftime("%Y-%m-%d %H:%M:%S")


def _stats(ctx: Context, args: argparse.Namespace) -> Iterator[Line]:
    if args.period is not None:
        if args.period <= 0:
            raise CommandError("argument --period: value must be positive")
        if args.period % 60:
            raise CommandError("argument --period: value must be a multiple of 60")
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    params: dict[str, Any] = {
        "MetricName": args.metric,
        "Namespace": args.namespace,
        "Statistics": args.statistics,
        "StartTime": _when(args.start_time, "--start-time")
        if args.start_time
        else now - dt.timedelta(hours=1),
        "EndTime": _when(args.end_time, "--end-time") if args.end_time else now,
        # euca2ools leaves it to the service, which requires it: a minute, as the CLI's help says.
        "Period": args.period or 60,
    }
    if args.dimensions:
        params["Dimensions"] = args.dimensions
    if args.unit:
        params["Unit"] = args.unit
    out = ctx.client().get_metric_statistics(**params)
    points = [
        (
            _timestamp(p.get("Timestamp")),
            p.get("SampleCount"),
            p.get("Average"),
            p.get("Sum"),
            p.get("Minimum"),
            p.get("Maximum"),
            p.get("Unit"),
        )
        for p in out.get("Datapoints") or []
    ]
    yield from sorted(points, key=lambda p: p[0])


def _statistic_set(text: str) -> dict[str, float]:
    pairs: dict[str, float] = {}
    for pair in text.split(","):
        key, eq, value = pair.partition("=")
        if not eq:
            raise argparse.ArgumentTypeError("statistic set must have format KEY1=VALUE1,...")
        try:
            pairs[key] = float(value)
        except ValueError as err:
            raise argparse.ArgumentTypeError(f'value "{value}" must be numeric') from err
    for name in ("Maximum", "Minimum", "SampleCount", "Sum"):
        if name not in pairs:
            raise argparse.ArgumentTypeError(f'value for statistic "{name}" is required')
    return pairs


def _put_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "-m", "--metric-name", required=True, metavar="METRIC", help="name of the metric"
    )
    p.add_argument("-n", "--namespace", required=True, help="the metric's namespace (required)")
    which = p.add_mutually_exclusive_group(required=True)
    which.add_argument("-v", "--value", metavar="FLOAT", type=float, help="data value")
    which.add_argument(
        "-s",
        "--statistic-values",
        "--statisticValues",
        type=_statistic_set,
        metavar="Maximum=FLOAT,Minimum=FLOAT,SampleCount=FLOAT,Sum=FLOAT",
        help="statistic values for the metric (Maximum, Minimum, SampleCount and Sum)",
    )
    p.add_argument(
        "-d",
        "--dimensions",
        metavar="KEY1=VALUE1,KEY2=VALUE2,...",
        type=_dimensions,
        help="the dimensions of the metric to add data points to",
    )
    p.add_argument("-t", "--timestamp", metavar="YYYY-MM-DDThh:mm:ssZ", help="its timestamp")
    p.add_argument("-u", "--unit", metavar="UNIT", help="unit the metric is being reported in")


def _put(ctx: Context, args: argparse.Namespace) -> Iterator[Line]:
    datum: dict[str, Any] = {"MetricName": args.metric_name}
    if args.value is not None:
        datum["Value"] = args.value
    else:
        datum["StatisticValues"] = args.statistic_values
    if args.dimensions:
        datum["Dimensions"] = args.dimensions
    if args.timestamp:
        datum["Timestamp"] = _when(args.timestamp, "--timestamp")
    if args.unit:
        datum["Unit"] = args.unit
    ctx.client().put_metric_data(Namespace=args.namespace, MetricData=[datum])
    # euca2ools prints nothing when the data went in.
    yield from ()


LIST_METRICS = Command(
    "euwatch-list-metrics",
    "Show a list of monitoring metrics",
    "cloudwatch",
    _list_arguments,
    _list,
)
GET_STATS = Command(
    "euwatch-get-stats", "Show a metric's statistics", "cloudwatch", _stats_arguments, _stats
)
PUT_DATA = Command(
    "euwatch-put-data",
    "Add data points or statistics to a metric",
    "cloudwatch",
    _put_arguments,
    _put,
)
COMMANDS = (LIST_METRICS, GET_STATS, PUT_DATA)
