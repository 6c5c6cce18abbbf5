"""The dashboard: how many of each resource the account has, and where."""

from __future__ import annotations

from collections import Counter

from mallee.api.http import HttpResponse
from mallee.console.context import Ctx, Route
from mallee.console.html import Html, join, link, render, section, table
from mallee.console.pages.common import instances, paged
from mallee.console.web import PREFIX


def _card(count: int, text: str, href: str) -> Html:
    return render(
        '<div class="card"><div class="n">{count}</div>{text}</div>',
        count=count,
        text=link(PREFIX + href, text),
    )


def dashboard(ctx: Ctx) -> HttpResponse:
    ec2, s3 = ctx.client("ec2"), ctx.client("s3")
    states = Counter(i["State"]["Name"] for i in instances(ec2))
    cards = [
        _card(sum(states.values()), "Instances", "/instances"),
        _card(len(list(paged(ec2, "describe_images", "Images"))), "Images", "/images"),
        _card(len(ec2.describe_key_pairs().get("KeyPairs", [])), "Key pairs", "/keypairs"),
        _card(
            len(list(paged(ec2, "describe_security_groups", "SecurityGroups"))),
            "Security groups",
            "/security-groups",
        ),
        _card(len(ec2.describe_addresses().get("Addresses", [])), "Elastic IPs", "/addresses"),
        _card(len(s3.list_buckets().get("Buckets", [])), "Buckets", "/buckets"),
    ]
    zones = ec2.describe_availability_zones().get("AvailabilityZones", [])
    return ctx.page(
        "Dashboard",
        render('<div class="cards">{cards}</div>', cards=join(cards)),
        section(
            "Instances by state",
            table(["State", "Count"], sorted(states.items()), empty="No instances."),
        ),
        section(
            "Region and zones",
            table(
                ["Region", "Zone", "State"],
                [
                    (z.get("RegionName", ""), z.get("ZoneName", ""), z.get("State", ""))
                    for z in zones
                ],
            ),
        ),
    )


ROUTES = [Route("GET", "/", dashboard, "/")]
