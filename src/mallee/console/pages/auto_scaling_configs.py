"""Launch configurations: the list (a page at a time, as DescribeLaunchConfigurations pages),
making one from the account's images, types, key pairs and security groups, and deleting one
after asking (the API refuses while a group uses it, in its own words)."""

from __future__ import annotations

import base64
from typing import Any

from starlette.responses import Response

from mallee.console.context import BadRequest, Ctx, Route
from mallee.console.pages.common import paged
from mallee.console.pages.listing import Column, api_page, listing
from mallee.console.pages.load_balancers import chosen

PATH = "/auto-scaling/launch-configurations"

COLUMNS = (
    Column("name", "Name"),
    Column("image", "Image"),
    Column("type", "Instance type"),
    Column("key", "Key pair"),
    Column("groups", "Security groups"),
    Column("created", "Created"),
)
# DescribeLaunchConfigurations' only filter: whole names.
FILTERS = (("name", "Name (exact)"),)


def _row(config: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": config.get("LaunchConfigurationName", ""),
        "image": config.get("ImageId", ""),
        "type": config.get("InstanceType", ""),
        "key": config.get("KeyName", ""),
        "groups": ", ".join(config.get("SecurityGroups", [])),
        "created": config.get("CreatedTime", ""),
    }


def names(ctx: Ctx) -> list[tuple[str, str]]:
    """Every launch configuration's name, for a group's choice."""
    found = paged(
        ctx.client("autoscaling"), "describe_launch_configurations", "LaunchConfigurations"
    )
    return [(str(c["LaunchConfigurationName"]),) * 2 for c in found]


def _choices(ctx: Ctx) -> dict[str, Any]:
    """What the create form offers: the account's available machine images, the instance
    types, key pairs and security groups."""
    ec2 = ctx.client("ec2")
    machine = [{"Name": "image-type", "Values": ["machine"]}]
    images = [
        (i["ImageId"], f"{i['ImageId']} {i.get('Name', '')}".strip())
        for i in paged(ec2, "describe_images", "Images", Filters=machine)
        if i.get("State") == "available"
    ]
    types = [t["InstanceType"] for t in paged(ec2, "describe_instance_types", "InstanceTypes")]
    keys = [("", "(none)")] + [
        (k["KeyName"], k["KeyName"]) for k in ec2.describe_key_pairs().get("KeyPairs", [])
    ]
    groups = [
        (g["GroupName"], f"{g['GroupName']} ({g['GroupId']})")
        for g in paged(ec2, "describe_security_groups", "SecurityGroups")
        if not g.get("VpcId")
    ]
    return {"images": images, "types": [(t, t) for t in types], "keys": keys, "groups": groups}


def launch_configurations(ctx: Ctx) -> Response:
    lst = listing(ctx, PATH, COLUMNS, FILTERS)
    client = ctx.client("autoscaling")

    def fetch(paging: dict[str, Any]) -> tuple[list[dict[str, Any]], str | None]:
        params: dict[str, Any] = {"MaxRecords": min(paging["size"], 100)}
        if "token" in paging:
            params["NextToken"] = paging["token"]
        if lst.filtered:
            params["LaunchConfigurationNames"] = [lst.value]
        answer = client.describe_launch_configurations(**params)
        rows = [_row(c) for c in answer.get("LaunchConfigurations", [])]
        return rows, answer.get("NextToken")

    lst = api_page(lst, fetch)
    return ctx.page("auto_scaling_configs.html", "Launch configurations", lst=lst, **_choices(ctx))


def create(ctx: Ctx) -> Response:
    name = ctx.arg("name")
    if not name:
        raise BadRequest("give the launch configuration's name")
    image, kind = ctx.arg("image"), ctx.arg("type")
    if not image or not kind:
        raise BadRequest("choose the image and the instance type")
    params: dict[str, Any] = {
        "LaunchConfigurationName": name,
        "ImageId": image,
        "InstanceType": kind,
    }
    if ctx.arg("key"):
        params["KeyName"] = ctx.arg("key")
    groups = chosen(ctx, "group:")
    if groups:
        params["SecurityGroups"] = groups
    # Kept as typed (not stripped): a script's trailing newline is part of it.
    user_data = ctx.form.get("user_data", "")
    if user_data:
        params["UserData"] = base64.b64encode(user_data.encode()).decode("ascii")
    ctx.client("autoscaling").create_launch_configuration(**params)
    ctx.ok(f"Created launch configuration {name}")
    return ctx.back()


def delete(ctx: Ctx) -> Response:
    name = ctx.arg("name")
    if not name:
        raise BadRequest("which launch configuration?")
    asked = ctx.confirmed(f"Delete launch configuration {name}?", "Yes, delete it")
    if asked is not None:
        return asked
    ctx.client("autoscaling").delete_launch_configuration(LaunchConfigurationName=name)
    ctx.ok(f"Deleted launch configuration {name}")
    return ctx.back()


ROUTES = [
    Route("GET", PATH, launch_configurations, "/auto-scaling"),
    Route("POST", PATH + "/create", create, "/auto-scaling"),
    Route("POST", PATH + "/delete", delete, "/auto-scaling"),
]
