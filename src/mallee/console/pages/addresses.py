"""Elastic IPs: allocate, associate with an instance, disassociate, release."""

from __future__ import annotations

from typing import Any

from mallee.api.http import HttpResponse
from mallee.console.context import Ctx, Route
from mallee.console.html import Html, button, form, hidden, join, section, select, table
from mallee.console.pages.common import instances, tag
from mallee.console.web import PREFIX


def _actions(ctx: Ctx, address: dict[str, Any], targets: list[tuple[str, str]]) -> Html:
    ip = address.get("PublicIp", "")
    if address.get("InstanceId"):
        return button(PREFIX + "/addresses/disassociate", ctx.csrf, {"ip": ip}, "Disassociate")
    parts = []
    if targets:
        parts.append(
            form(
                PREFIX + "/addresses/associate",
                ctx.csrf,
                [hidden("ip", ip), select("", "instance", targets)],
                "Associate",
                css="inline",
            )
        )
    parts.append(button(PREFIX + "/addresses/release", ctx.csrf, {"ip": ip}, "Release"))
    return join(parts)


def addresses(ctx: Ctx) -> HttpResponse:
    ec2 = ctx.client("ec2")
    running = [{"Name": "instance-state-name", "Values": ["running", "pending", "stopped"]}]
    targets = [
        (i["InstanceId"], f"{i['InstanceId']} {tag(i, 'Name')}".strip())
        for i in instances(ec2, Filters=running)
    ]
    rows = [
        (
            a.get("PublicIp", ""),
            a.get("AllocationId", ""),
            a.get("InstanceId", ""),
            a.get("PrivateIpAddress", ""),
            _actions(ctx, a, targets),
        )
        for a in ec2.describe_addresses().get("Addresses", [])
    ]
    allocate = form(PREFIX + "/addresses/allocate", ctx.csrf, [], "Allocate an address")
    return ctx.page(
        "Elastic IPs",
        section(
            "Addresses",
            table(
                ["Public IP", "Allocation", "Instance", "Private IP", ""],
                rows,
                empty="No elastic IPs.",
            ),
            allocate,
        ),
    )


def allocate(ctx: Ctx) -> HttpResponse:
    made = ctx.client("ec2").allocate_address()
    ctx.ok(f"Allocated {made.get('PublicIp', '')}")
    return ctx.back()


def associate(ctx: Ctx) -> HttpResponse:
    ip, instance = ctx.arg("ip"), ctx.arg("instance")
    ctx.client("ec2").associate_address(PublicIp=ip, InstanceId=instance)
    ctx.ok(f"Associated {ip} with {instance}")
    return ctx.back()


def disassociate(ctx: Ctx) -> HttpResponse:
    ctx.client("ec2").disassociate_address(PublicIp=ctx.arg("ip"))
    ctx.ok(f"Disassociated {ctx.arg('ip')}")
    return ctx.back()


def release(ctx: Ctx) -> HttpResponse:
    ctx.client("ec2").release_address(PublicIp=ctx.arg("ip"))
    ctx.ok(f"Released {ctx.arg('ip')}")
    return ctx.back()


ROUTES = [
    Route("GET", "/addresses", addresses, "/addresses"),
    Route("POST", "/addresses/allocate", allocate, "/addresses"),
    Route("POST", "/addresses/associate", associate, "/addresses"),
    Route("POST", "/addresses/disassociate", disassociate, "/addresses"),
    Route("POST", "/addresses/release", release, "/addresses"),
]
