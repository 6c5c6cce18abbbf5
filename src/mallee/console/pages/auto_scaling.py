"""Auto Scaling groups: the list (a page at a time, as DescribeAutoScalingGroups pages) with
each group's sizes and instances, making a group from a launch configuration, and deleting one
with its instances after asking. A group's own page is auto_scaling_group.py; launch
configurations are auto_scaling_configs.py."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from starlette.responses import Response

from mallee.console.context import BadRequest, Ctx, Route
from mallee.console.pages import auto_scaling_configs
from mallee.console.pages.common import paged
from mallee.console.pages.listing import Column, api_page, listing
from mallee.console.pages.load_balancers import chosen
from mallee.console.pages.volumes import zones

COLUMNS = (
    Column("name", "Name"),
    Column("config", "Launch configuration"),
    Column("zones", "Zones"),
    Column("min", "Min"),
    Column("desired", "Desired"),
    Column("max", "Max"),
    Column("instances", "Instances"),
    Column("in_service", "In service"),
)
# DescribeAutoScalingGroups' name filter: whole names.
FILTERS = (("name", "Name (exact)"),)


def group_path(name: str) -> str:
    return "/auto-scaling/group?" + urlencode({"name": name})


def _row(group: dict[str, Any]) -> dict[str, Any]:
    members = group.get("Instances", [])
    return {
        "name": group.get("AutoScalingGroupName", ""),
        "config": group.get("LaunchConfigurationName")
        or group.get("LaunchTemplate", {}).get("LaunchTemplateName", ""),
        "zones": ", ".join(group.get("AvailabilityZones", [])),
        "min": group.get("MinSize", ""),
        "desired": group.get("DesiredCapacity", ""),
        "max": group.get("MaxSize", ""),
        "instances": len(members),
        "in_service": sum(1 for i in members if i.get("LifecycleState") == "InService"),
    }


def groups(ctx: Ctx) -> Response:
    lst = listing(ctx, "/auto-scaling", COLUMNS, FILTERS)
    client = ctx.client("autoscaling")

    def fetch(paging: dict[str, Any]) -> tuple[list[dict[str, Any]], str | None]:
        params: dict[str, Any] = {"MaxRecords": min(paging["size"], 100)}
        if "token" in paging:
            params["NextToken"] = paging["token"]
        if lst.filtered:
            params["AutoScalingGroupNames"] = [lst.value]
        answer = client.describe_auto_scaling_groups(**params)
        rows = [_row(g) for g in answer.get("AutoScalingGroups", [])]
        return rows, answer.get("NextToken")

    lst = api_page(lst, fetch)
    balancers = paged(ctx.client("elb"), "describe_load_balancers", "LoadBalancerDescriptions")
    return ctx.page(
        "auto_scaling.html",
        "Auto Scaling groups",
        lst=lst,
        configs=auto_scaling_configs.names(ctx),
        zones=zones(ctx.client("ec2")),
        balancers=[str(b["LoadBalancerName"]) for b in balancers],
    )


def size(ctx: Ctx, field: str, what: str, default: str = "") -> int | None:
    """A whole number the form gives, None when left empty (and no default)."""
    text = ctx.arg(field, default) or default
    if not text:
        return None
    if not text.isdigit():
        raise BadRequest(f"the {what} must be a whole number")
    return int(text)


def create(ctx: Ctx) -> Response:
    name = ctx.arg("name")
    if not name:
        raise BadRequest("give the group's name")
    config = ctx.arg("config")
    if not config:
        raise BadRequest("choose a launch configuration (make one first if there is none)")
    picked = chosen(ctx, "zone:")
    if not picked:
        raise BadRequest("choose at least one availability zone")
    params: dict[str, Any] = {
        "AutoScalingGroupName": name,
        "LaunchConfigurationName": config,
        "AvailabilityZones": picked,
        "MinSize": size(ctx, "min", "minimum size", "0"),
        "MaxSize": size(ctx, "max", "maximum size", "0"),
    }
    desired = size(ctx, "desired", "desired capacity")
    if desired is not None:
        params["DesiredCapacity"] = desired
    balancers = chosen(ctx, "lb:")
    if balancers:
        params["LoadBalancerNames"] = balancers
        if ctx.arg("elb_health") == "yes":
            params["HealthCheckType"] = "ELB"
    ctx.client("autoscaling").create_auto_scaling_group(**params)
    ctx.ok(f"Created Auto Scaling group {name}")
    return ctx.back(group_path(name))


def delete(ctx: Ctx) -> Response:
    name = ctx.arg("name")
    if not name:
        raise BadRequest("which group?")
    asked = ctx.confirmed(
        f"Delete Auto Scaling group {name} and terminate its instances?", "Yes, delete it"
    )
    if asked is not None:
        return asked
    ctx.client("autoscaling").delete_auto_scaling_group(AutoScalingGroupName=name, ForceDelete=True)
    ctx.ok(f"Deleting Auto Scaling group {name}")
    came_from = ctx.form.get("_back", "")
    return ctx.back("/auto-scaling" if came_from.startswith("/auto-scaling/group") else None)


ROUTES = [
    Route("GET", "/auto-scaling", groups, "/auto-scaling"),
    Route("POST", "/auto-scaling/groups/create", create, "/auto-scaling"),
    Route("POST", "/auto-scaling/groups/delete", delete, "/auto-scaling"),
]
