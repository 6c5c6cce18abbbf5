"""Instances: the list, launching, start/stop/reboot/terminate, and the console output."""

from __future__ import annotations

import base64
import binascii
from typing import Any

from mallee.api.http import HttpResponse
from mallee.console.context import Ctx, Route
from mallee.console.html import (
    Html,
    button,
    field,
    form,
    join,
    link,
    render,
    section,
    select,
    table,
    textarea,
    url,
)
from mallee.console.pages.common import instances, paged, tag
from mallee.console.web import PREFIX, BadRequest

ACTIONS = {
    "start": "start_instances",
    "stop": "stop_instances",
    "reboot": "reboot_instances",
    "terminate": "terminate_instances",
}
# Which actions make sense in which state (the API refuses the others anyway).
_OFFERED = {
    "pending": ("terminate",),
    "running": ("stop", "reboot", "terminate"),
    "stopped": ("start", "terminate"),
    "stopping": ("terminate",),
}
MAX_COUNT = 20


def _actions(ctx: Ctx, instance: dict[str, Any]) -> Html:
    instance_id = instance["InstanceId"]
    state = instance["State"]["Name"]
    buttons = [
        button(PREFIX + "/instances/action", ctx.csrf, {"id": instance_id, "op": op}, op.title())
        for op in _OFFERED.get(state, ())
    ]
    output = link(url(PREFIX + "/instances/console-output", id=instance_id), "Console output")
    return join([*buttons, output])


def _row(ctx: Ctx, i: dict[str, Any]) -> list[object]:
    return [
        i["InstanceId"],
        tag(i, "Name"),
        i["State"]["Name"],
        i.get("InstanceType", ""),
        i.get("ImageId", ""),
        i.get("PrivateIpAddress", ""),
        i.get("PublicIpAddress", ""),
        i.get("KeyName", ""),
        i.get("LaunchTime", ""),
        _actions(ctx, i),
    ]


def _types(ec2: Any) -> list[str]:
    names = [t["InstanceType"] for t in paged(ec2, "describe_instance_types", "InstanceTypes")]
    return names or ["m1.small"]


def _launch_form(ctx: Ctx, ec2: Any) -> Html:
    machine = [{"Name": "image-type", "Values": ["machine"]}]
    emis = [
        (i["ImageId"], f"{i['ImageId']} {i.get('Name', '')}".strip())
        for i in paged(ec2, "describe_images", "Images", Filters=machine)
        if i.get("State") == "available"
    ]
    keys = [("", "(none)")] + [
        (k["KeyName"], k["KeyName"]) for k in ec2.describe_key_pairs().get("KeyPairs", [])
    ]
    groups = [
        (g["GroupId"], f"{g['GroupName']} ({g['GroupId']})")
        for g in paged(ec2, "describe_security_groups", "SecurityGroups")
    ]
    return form(
        PREFIX + "/instances/launch",
        ctx.csrf,
        [
            select("Image", "image", emis),
            select("Type", "type", [(t, t) for t in _types(ec2)], "m1.small"),
            select("Key pair", "key", keys),
            select("Security group", "group", groups),
            field("Count", "count", value=1, kind="number"),
            field("Name", "name"),
            Html("<br>"),
            textarea("User data", "user_data"),
        ],
        "Launch",
    )


def list_instances(ctx: Ctx) -> HttpResponse:
    ec2 = ctx.client("ec2")
    headers = [
        "Id",
        "Name",
        "State",
        "Type",
        "Image",
        "Private IP",
        "Public IP",
        "Key",
        "Launched",
        "",
    ]
    rows = [_row(ctx, i) for i in instances(ec2)]
    return ctx.page(
        "Instances",
        section("Instances", table(headers, rows, empty="No instances.")),
        section("Launch instances", _launch_form(ctx, ec2)),
    )


def _count(text: str) -> int:
    try:
        count = int(text or "1")
    except ValueError:
        raise BadRequest("the count is not a number") from None
    if not 1 <= count <= MAX_COUNT:
        raise BadRequest(f"the count must be 1 to {MAX_COUNT}")
    return count


def launch(ctx: Ctx) -> HttpResponse:
    count = _count(ctx.arg("count"))
    params: dict[str, Any] = {
        "ImageId": ctx.arg("image"),
        "InstanceType": ctx.arg("type") or "m1.small",
        "MinCount": count,
        "MaxCount": count,
    }
    if ctx.arg("key"):
        params["KeyName"] = ctx.arg("key")
    if ctx.arg("group"):
        params["SecurityGroupIds"] = [ctx.arg("group")]
    user_data = ctx.request.form.get("user_data", "")
    if user_data:
        params["UserData"] = user_data
    if ctx.arg("name"):
        tags = [{"Key": "Name", "Value": ctx.arg("name")}]
        params["TagSpecifications"] = [{"ResourceType": "instance", "Tags": tags}]
    launched = ctx.client("ec2").run_instances(**params).get("Instances", [])
    ctx.ok("Launched " + ", ".join(i["InstanceId"] for i in launched))
    return ctx.back()


def action(ctx: Ctx) -> HttpResponse:
    op, instance_id = ctx.arg("op"), ctx.arg("id")
    if op not in ACTIONS or not instance_id:
        raise BadRequest("unknown instance action")
    getattr(ctx.client("ec2"), ACTIONS[op])(InstanceIds=[instance_id])
    ctx.ok(f"{op.title()}: {instance_id}")
    return ctx.back()


def _decoded(output: str) -> str:
    # EC2 sends the console output base64-encoded (the AWS CLI decodes it, boto3 does not).
    try:
        return base64.b64decode(output, validate=True).decode("utf-8", "replace")
    except (binascii.Error, ValueError):
        return output


def console_output(ctx: Ctx) -> HttpResponse:
    instance_id = ctx.arg("id")
    answer = ctx.client("ec2").get_console_output(InstanceId=instance_id)
    text = _decoded(answer.get("Output") or "")
    return ctx.page(
        f"Console output of {instance_id}",
        render("<p>As of {when}</p>", when=answer.get("Timestamp", "")),
        render("<pre>{text}</pre>", text=text or "(no output yet)"),
        link(PREFIX + "/instances", "Back to instances"),
    )


ROUTES = [
    Route("GET", "/instances", list_instances, "/instances"),
    Route("POST", "/instances/launch", launch, "/instances"),
    Route("POST", "/instances/action", action, "/instances"),
    Route("GET", "/instances/console-output", console_output, "/instances"),
]
