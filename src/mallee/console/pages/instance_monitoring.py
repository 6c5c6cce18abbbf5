"""An instance's Monitoring tab: graphs of its AWS/EC2 metrics (CPU, network, disk) over a
chosen range, at the period its monitoring publishes (a minute when detailed, five when basic)
or longer, refreshed by htmx; and detailed monitoring turned on or off."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from starlette.responses import Response

from mallee.console.context import BadRequest, Ctx, Route
from mallee.console.pages import metric_graphs as mg
from mallee.console.pages.common import tag

BASIC, DETAILED = 300, 60


def graphs_for(instance_id: str) -> list[mg.Graph]:
    def line(name: str, label: str) -> mg.Line:
        stat = mg.metric_stat("AWS/EC2", name, [("InstanceId", instance_id)], "Average")
        return mg.Line(name.lower(), label, stat)

    return [
        mg.Graph("CPU utilization (%)", [line("CPUUtilization", "CPUUtilization")], "Percent"),
        mg.Graph(
            "Network (bytes)",
            [line("NetworkIn", "NetworkIn"), line("NetworkOut", "NetworkOut")],
            "Bytes",
        ),
        mg.Graph(
            "Disk (bytes)",
            [line("DiskReadBytes", "DiskReadBytes"), line("DiskWriteBytes", "DiskWriteBytes")],
            "Bytes",
        ),
    ]


def path(instance_id: str, key: str = "") -> str:
    query = {"id": instance_id, **({"range": key} if key else {})}
    return "/instances/monitoring?" + urlencode(query)


def _instance(ctx: Ctx, instance_id: str) -> dict[str, Any]:
    found = ctx.client("ec2").describe_instances(InstanceIds=[instance_id])
    instance = next(
        (i for r in found.get("Reservations", []) for i in r.get("Instances", [])), None
    )
    if instance is None:
        raise BadRequest(f"no instance {instance_id}")
    return dict(instance)


def _graphs(ctx: Ctx, instance_id: str, detailed: bool) -> dict[str, Any]:
    span = mg.window(ctx.arg("range"), DETAILED if detailed else BASIC)
    graphs = graphs_for(instance_id)
    mg.fetch(ctx.client("cloudwatch"), graphs, span)
    return {
        # Two side by side on a common screen.
        "charts": [(g, mg.draw(g, span, width=600)) for g in graphs],
        "span": span,
        "refresh": "/instances/monitoring/graphs?"
        + urlencode({"id": instance_id, "range": span.key, "detailed": "1" if detailed else ""}),
    }


def monitoring(ctx: Ctx) -> Response:
    instance_id = ctx.arg("id")
    if not instance_id:
        raise BadRequest("which instance?")
    instance = _instance(ctx, instance_id)
    detailed = instance.get("Monitoring", {}).get("State") in ("enabled", "pending")
    shown = _graphs(ctx, instance_id, detailed)
    name = tag(instance, "Name")
    return ctx.page(
        "instance_monitoring.html",
        f"Instance {instance_id}",
        instance_id=instance_id,
        name=name,
        state=instance.get("State", {}).get("Name", ""),
        detailed=detailed,
        ranges=mg.range_links(shown["span"].key),
        here=path(instance_id, shown["span"].key),
        **shown,
    )


def graphs(ctx: Ctx) -> Response:
    """The graphs alone, for htmx to refresh them in place."""
    instance_id = ctx.arg("id")
    if not instance_id:
        raise BadRequest("which instance?")
    return ctx.fragment(
        "_metric_graphs.html", **_graphs(ctx, instance_id, bool(ctx.arg("detailed")))
    )


def set_monitoring(ctx: Ctx) -> Response:
    instance_id, op = ctx.arg("id"), ctx.arg("op")
    if not instance_id or op not in ("enable", "disable"):
        raise BadRequest("unknown monitoring change")
    ec2 = ctx.client("ec2")
    if op == "enable":
        ec2.monitor_instances(InstanceIds=[instance_id])
        ctx.ok(f"Detailed monitoring (every minute) enabled for {instance_id}")
    else:
        ec2.unmonitor_instances(InstanceIds=[instance_id])
        ctx.ok(f"Detailed monitoring disabled for {instance_id}: basic (every 5 minutes)")
    return ctx.back(path(instance_id))


ROUTES = [
    Route("GET", "/instances/monitoring", monitoring, "/instances"),
    Route("GET", "/instances/monitoring/graphs", graphs, "/instances"),
    Route("POST", "/instances/monitoring", set_monitoring, "/instances"),
]
