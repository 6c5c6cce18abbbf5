"""Instances: the list (a page at a time, its rows polled by htmx while any is changing state),
launching, start/stop/reboot/terminate, an instance's details and tags, the console output."""

from __future__ import annotations

import base64
import binascii
from typing import Any
from urllib.parse import urlencode

from starlette.responses import Response

from mallee.console.context import BadRequest, Ctx, Route
from mallee.console.pages.common import paged, tag
from mallee.console.pages.listing import Column, Listing, api_page, ec2_filters, listing

ACTIONS = {
    "start": "start_instances",
    "stop": "stop_instances",
    "reboot": "reboot_instances",
    "terminate": "terminate_instances",
}
# Actions asked about first: they end what runs on the instance.
DESTRUCTIVE = frozenset({"terminate", "stop", "reboot"})
# Which actions make sense in which state (the API refuses the others anyway).
_OFFERED = {
    "pending": ("terminate",),
    "running": ("stop", "reboot", "terminate"),
    "stopped": ("start", "terminate"),
    "stopping": ("terminate",),
}
# States an instance leaves by itself: while one is shown, the rows are asked for again.
CHANGING = frozenset({"pending", "stopping", "shutting-down"})
MAX_COUNT = 20

COLUMNS = (
    Column("id", "Id"),
    Column("name", "Name"),
    Column("state", "State"),
    Column("type", "Type"),
    Column("image", "Image"),
    Column("private_ip", "Private IP"),
    Column("public_ip", "Public IP"),
    Column("vpc", "VPC"),
    Column("subnet", "Subnet"),
    Column("key", "Key"),
    Column("launched", "Launched"),
)
# EC2's own filters: the API filters, then pages.
FILTERS = (
    ("tag:Name", "Name"),
    ("instance-id", "Id"),
    ("instance-state-name", "State"),
    ("instance-type", "Type"),
    ("image-id", "Image"),
    ("key-name", "Key"),
    ("private-ip-address", "Private IP"),
    ("ip-address", "Public IP"),
    ("vpc-id", "VPC"),
    ("subnet-id", "Subnet"),
)


def _row(i: dict[str, Any]) -> dict[str, Any]:
    state = i["State"]["Name"]
    return {
        "id": i["InstanceId"],
        "name": tag(i, "Name"),
        "state": state,
        "type": i.get("InstanceType", ""),
        "image": i.get("ImageId", ""),
        "private_ip": i.get("PrivateIpAddress", ""),
        "public_ip": i.get("PublicIpAddress", ""),
        # None once terminated: it no longer holds an address there.
        "vpc": i.get("VpcId") or "",
        "subnet": i.get("SubnetId") or "",
        "key": i.get("KeyName", ""),
        "launched": i.get("LaunchTime", ""),
        "actions": _OFFERED.get(state, ()),
    }


def _listing(ctx: Ctx) -> Listing:
    lst = listing(ctx, "/instances", COLUMNS, FILTERS)
    ec2 = ctx.client("ec2")

    def fetch(paging: dict[str, Any]) -> tuple[list[dict[str, Any]], str | None]:
        params: dict[str, Any] = {"MaxResults": paging["size"], "Filters": ec2_filters(lst)}
        if "token" in paging:
            params["NextToken"] = paging["token"]
        answer = ec2.describe_instances(**params)
        found = [i for r in answer.get("Reservations", []) for i in r.get("Instances", [])]
        return [_row(i) for i in found], answer.get("NextToken")

    return api_page(lst, fetch)


def _rows(lst: Listing) -> dict[str, Any]:
    changing = any(r["state"] in CHANGING for r in lst.rows)
    return {"lst": lst, "changing": changing}


def list_instances(ctx: Ctx) -> Response:
    return ctx.page("instances.html", "Instances", **_rows(_listing(ctx)))


def rows(ctx: Ctx) -> Response:
    """The list's rows alone (the same page of it), for htmx's polling."""
    return ctx.fragment("_instance_rows.html", **_rows(_listing(ctx)))


def _types(ec2: Any) -> list[tuple[str, str]]:
    names = [t["InstanceType"] for t in paged(ec2, "describe_instance_types", "InstanceTypes")]
    return [(n, n) for n in names or ["m1.small"]]


def launch_page(ctx: Ctx) -> Response:
    ec2 = ctx.client("ec2")
    machine = [{"Name": "image-type", "Values": ["machine"]}]
    images = [
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
    return ctx.page(
        "instance_launch.html",
        "Launch instances",
        images=images,
        types=_types(ec2),
        keys=keys,
        groups=groups,
        chosen=ctx.arg("image"),
    )


def _count(text: str) -> int:
    try:
        count = int(text or "1")
    except ValueError:
        raise BadRequest("the count is not a number") from None
    if not 1 <= count <= MAX_COUNT:
        raise BadRequest(f"the count must be 1 to {MAX_COUNT}")
    return count


def launch(ctx: Ctx) -> Response:
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
    user_data = ctx.form.get("user_data", "")
    if user_data:
        params["UserData"] = user_data
    if ctx.arg("monitoring"):
        params["Monitoring"] = {"Enabled": True}
    if ctx.arg("name"):
        tags = [{"Key": "Name", "Value": ctx.arg("name")}]
        params["TagSpecifications"] = [{"ResourceType": "instance", "Tags": tags}]
    launched = ctx.client("ec2").run_instances(**params).get("Instances", [])
    ctx.ok("Launched " + ", ".join(i["InstanceId"] for i in launched))
    return ctx.back("/instances")


def action(ctx: Ctx) -> Response:
    op, instance_id = ctx.arg("op"), ctx.arg("id")
    if op not in ACTIONS or not instance_id:
        raise BadRequest("unknown instance action")
    if op in DESTRUCTIVE:
        asked = ctx.confirmed(f"{op.title()} instance {instance_id}?", f"Yes, {op} it")
        if asked is not None:
            return asked
    getattr(ctx.client("ec2"), ACTIONS[op])(InstanceIds=[instance_id])
    ctx.ok(f"{op.title()}: {instance_id}")
    return ctx.back()


def detail_path(instance_id: str) -> str:
    return "/instances/detail?" + urlencode({"id": instance_id})


def detail(ctx: Ctx) -> Response:
    instance_id = ctx.arg("id")
    if not instance_id:
        raise BadRequest("which instance?")
    found = ctx.client("ec2").describe_instances(InstanceIds=[instance_id])
    reservations = found.get("Reservations", [])
    instance = next((i for r in reservations for i in r.get("Instances", [])), None)
    if instance is None:
        raise BadRequest(f"no instance {instance_id}")
    row = _row(instance)
    groups = ", ".join(g.get("GroupId", "") for g in instance.get("SecurityGroups", []))
    facts = [
        ("State", row["state"]),
        ("Type", row["type"]),
        ("Image", row["image"]),
        ("Zone", instance.get("Placement", {}).get("AvailabilityZone", "")),
        ("Private IP", row["private_ip"]),
        ("Public IP", row["public_ip"]),
        ("VPC", row["vpc"]),
        ("Subnet", row["subnet"]),
        ("Key pair", row["key"]),
        ("Security groups", groups),
        ("Launched", row["launched"]),
    ]
    tags = sorted((t.get("Key", ""), t.get("Value", "")) for t in instance.get("Tags") or [])
    return ctx.page(
        "instance_detail.html",
        f"Instance {instance_id}",
        i=row,
        facts=facts,
        tags=tags,
        here=detail_path(instance_id),
    )


def set_tag(ctx: Ctx) -> Response:
    instance_id, key = ctx.arg("id"), ctx.arg("key")
    if not key:
        raise BadRequest("give the tag's key")
    value = ctx.form.get("value", "")
    ctx.client("ec2").create_tags(Resources=[instance_id], Tags=[{"Key": key, "Value": value}])
    ctx.ok(f"Tagged {instance_id}: {key} = {value}")
    return ctx.back(detail_path(instance_id))


def delete_tag(ctx: Ctx) -> Response:
    instance_id, key = ctx.arg("id"), ctx.form.get("key", "")
    asked = ctx.confirmed(f"Remove the tag {key!r} from {instance_id}?", "Yes, remove it")
    if asked is not None:
        return asked
    ctx.client("ec2").delete_tags(Resources=[instance_id], Tags=[{"Key": key}])
    ctx.ok(f"Removed the tag {key} from {instance_id}")
    return ctx.back(detail_path(instance_id))


def _decoded(output: str) -> str:
    # EC2 sends the console output base64-encoded (the AWS CLI decodes it, boto3 does not).
    try:
        return base64.b64decode(output, validate=True).decode("utf-8", "replace")
    except (binascii.Error, ValueError):
        return output


def console_output(ctx: Ctx) -> Response:
    instance_id = ctx.arg("id")
    answer = ctx.client("ec2").get_console_output(InstanceId=instance_id)
    return ctx.page(
        "console_output.html",
        f"Console output of {instance_id}",
        when=answer.get("Timestamp", ""),
        text=_decoded(answer.get("Output") or ""),
    )


ROUTES = [
    Route("GET", "/instances", list_instances, "/instances"),
    Route("GET", "/instances/rows", rows, "/instances"),
    Route("GET", "/instances/launch", launch_page, "/instances"),
    Route("POST", "/instances/launch", launch, "/instances/launch"),
    Route("POST", "/instances/action", action, "/instances"),
    Route("GET", "/instances/detail", detail, "/instances"),
    Route("POST", "/instances/tags", set_tag, "/instances"),
    Route("POST", "/instances/tags/delete", delete_tag, "/instances"),
    Route("GET", "/instances/console-output", console_output, "/instances"),
]
