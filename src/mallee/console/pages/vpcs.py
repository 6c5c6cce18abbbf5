"""VPCs: the list (a page at a time, the API's own filters), creating one (a CIDR and a Name
tag) and deleting one after asking. A VPC's own page is vpc_detail.py; what is made inside it
is vpc_parts.py."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from starlette.responses import Response

from mallee.console.context import BadRequest, Ctx, Route
from mallee.console.pages.common import tag
from mallee.console.pages.listing import Column, api_page, ec2_filters, listing

COLUMNS = (
    Column("id", "Id"),
    Column("name", "Name"),
    Column("cidr", "CIDR"),
    Column("state", "State"),
    Column("default", "Default"),
    Column("dhcp", "DHCP options"),
    Column("tags", "Tags", sortable=False),
)
# EC2's own filters: the API filters, then pages.
FILTERS = (
    ("tag:Name", "Name"),
    ("vpc-id", "Id"),
    ("cidr-block", "CIDR"),
    ("state", "State"),
    ("dhcp-options-id", "DHCP options"),
)


def tags_text(resource: dict[str, Any]) -> str:
    """Every tag as key=value, by key: a list's one cell for them."""
    pairs = sorted((t.get("Key", ""), t.get("Value", "")) for t in resource.get("Tags") or [])
    return ", ".join(f"{k}={v}" for k, v in pairs)


def name_tags(resource_type: str, name: str) -> list[dict[str, Any]]:
    """TagSpecifications giving the new resource its Name, if one was typed."""
    if not name:
        return []
    return [{"ResourceType": resource_type, "Tags": [{"Key": "Name", "Value": name}]}]


def _row(v: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": v.get("VpcId", ""),
        "name": tag(v, "Name"),
        "cidr": v.get("CidrBlock", ""),
        "state": v.get("State", ""),
        "default": "yes" if v.get("IsDefault") else "no",
        "dhcp": v.get("DhcpOptionsId", ""),
        "tags": tags_text(v),
    }


def detail_path(vpc_id: str) -> str:
    return "/vpcs/detail?" + urlencode({"id": vpc_id})


def vpcs(ctx: Ctx) -> Response:
    lst = listing(ctx, "/vpcs", COLUMNS, FILTERS)
    ec2 = ctx.client("ec2")

    def fetch(paging: dict[str, Any]) -> tuple[list[dict[str, Any]], str | None]:
        params: dict[str, Any] = {"MaxResults": paging["size"], "Filters": ec2_filters(lst)}
        if "token" in paging:
            params["NextToken"] = paging["token"]
        answer = ec2.describe_vpcs(**params)
        return [_row(v) for v in answer.get("Vpcs", [])], answer.get("NextToken")

    return ctx.page("vpcs.html", "VPCs", lst=api_page(lst, fetch))


def create(ctx: Ctx) -> Response:
    cidr = ctx.arg("cidr")
    if not cidr:
        raise BadRequest("give the VPC's IPv4 CIDR block (a /16 to a /28)")
    params: dict[str, Any] = {"CidrBlock": cidr}
    specs = name_tags("vpc", ctx.arg("name"))
    if specs:
        params["TagSpecifications"] = specs
    made = ctx.client("ec2").create_vpc(**params).get("Vpc", {})
    vpc_id = str(made.get("VpcId", ""))
    ctx.ok(f"Created VPC {vpc_id} ({made.get('CidrBlock', cidr)})")
    return ctx.back(detail_path(vpc_id) if vpc_id else "/vpcs")


def delete(ctx: Ctx) -> Response:
    vpc_id = ctx.arg("id")
    if not vpc_id:
        raise BadRequest("which VPC?")
    # AWS refuses one that still holds subnets or gateways (DependencyViolation), shown as it
    # says; the console does not empty it first.
    asked = ctx.confirmed(f"Delete VPC {vpc_id}?", "Yes, delete it")
    if asked is not None:
        return asked
    ctx.client("ec2").delete_vpc(VpcId=vpc_id)
    ctx.ok(f"Deleted VPC {vpc_id}")
    # Its own page is gone: from there, to the list; from the list, to the same page of it.
    came_from = ctx.form.get("_back", "")
    return ctx.back("/vpcs" if came_from.startswith("/vpcs/detail") else None)


ROUTES = [
    Route("GET", "/vpcs", vpcs, "/vpcs"),
    Route("POST", "/vpcs/create", create, "/vpcs"),
    Route("POST", "/vpcs/delete", delete, "/vpcs"),
]
