"""The dashboard: how many of each resource the account has, and where."""

from __future__ import annotations

from collections import Counter

from starlette.responses import Response

from mallee.console.context import Ctx, Route
from mallee.console.pages.common import paged

# Instances are counted from one page of the list: an account with thousands is told "100+",
# not made to wait for all of them to be read.
COUNTED = 100


def dashboard(ctx: Ctx) -> Response:
    ec2, s3 = ctx.client("ec2"), ctx.client("s3")
    answer = ec2.describe_instances(MaxResults=COUNTED)
    found = [i for r in answer.get("Reservations", []) for i in r.get("Instances", [])]
    more = "+" if answer.get("NextToken") else ""
    states = Counter(i["State"]["Name"] for i in found)
    cards = [
        (f"{len(found)}{more}", "Instances", "/instances"),
        (len(list(paged(ec2, "describe_images", "Images"))), "Images", "/images"),
        (len(ec2.describe_key_pairs().get("KeyPairs", [])), "Key pairs", "/keypairs"),
        (
            len(list(paged(ec2, "describe_security_groups", "SecurityGroups"))),
            "Security groups",
            "/security-groups",
        ),
        (len(ec2.describe_addresses().get("Addresses", [])), "Elastic IPs", "/addresses"),
        (len(s3.list_buckets().get("Buckets", [])), "Buckets", "/buckets"),
    ]
    zones = [
        (z.get("RegionName", ""), z.get("ZoneName", ""), z.get("State", ""))
        for z in ec2.describe_availability_zones().get("AvailabilityZones", [])
    ]
    return ctx.page(
        "dashboard.html",
        "Dashboard",
        cards=cards,
        states=[(state, f"{n}{more}") for state, n in sorted(states.items())],
        zones=zones,
    )


ROUTES = [Route("GET", "/", dashboard, "/")]
