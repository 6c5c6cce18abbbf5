"""Elastic IPs: allocate, associate with an instance, disassociate, release."""

from __future__ import annotations

from starlette.responses import Response

from mallee.console.context import Ctx, Route
from mallee.console.pages.listing import Column, listing, local_filters, local_page

COLUMNS = (
    Column("ip", "Public IP"),
    Column("allocation", "Allocation"),
    Column("instance", "Instance"),
    Column("private_ip", "Private IP"),
)


def addresses(ctx: Ctx) -> Response:
    # DescribeAddresses has no paging: the page is cut here. The instance to associate is
    # typed, not chosen from a list of every instance the account has.
    lst = listing(ctx, "/addresses", COLUMNS, local_filters(COLUMNS), default_sort="ip")
    ec2 = ctx.client("ec2")
    rows = [
        {
            "ip": a.get("PublicIp", ""),
            "allocation": a.get("AllocationId", ""),
            "instance": a.get("InstanceId", ""),
            "private_ip": a.get("PrivateIpAddress", ""),
        }
        for a in ec2.describe_addresses().get("Addresses", [])
    ]
    return ctx.page("addresses.html", "Elastic IPs", lst=local_page(lst, rows))


def allocate(ctx: Ctx) -> Response:
    made = ctx.client("ec2").allocate_address()
    ctx.ok(f"Allocated {made.get('PublicIp', '')}")
    return ctx.back()


def associate(ctx: Ctx) -> Response:
    ip, instance = ctx.arg("ip"), ctx.arg("instance")
    ctx.client("ec2").associate_address(PublicIp=ip, InstanceId=instance)
    ctx.ok(f"Associated {ip} with {instance}")
    return ctx.back()


def disassociate(ctx: Ctx) -> Response:
    asked = ctx.confirmed(f"Disassociate {ctx.arg('ip')} from its instance?", "Yes, disassociate")
    if asked is not None:
        return asked
    ctx.client("ec2").disassociate_address(PublicIp=ctx.arg("ip"))
    ctx.ok(f"Disassociated {ctx.arg('ip')}")
    return ctx.back()


def release(ctx: Ctx) -> Response:
    asked = ctx.confirmed(f"Release the address {ctx.arg('ip')}?", "Yes, release it")
    if asked is not None:
        return asked
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
