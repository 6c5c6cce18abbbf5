"""Security groups: the list (a page at a time), one group with its ingress and egress rules,
create, delete, authorize and revoke."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from starlette.responses import Response

from mallee.console.context import BadRequest, Ctx, Route
from mallee.console.pages.listing import Column, api_page, ec2_filters, listing

PROTOCOLS = [("tcp", "TCP"), ("udp", "UDP"), ("icmp", "ICMP"), ("-1", "all")]


def _ports(rule: dict[str, Any]) -> str:
    low, high = rule.get("FromPort"), rule.get("ToPort")
    if low is None or rule.get("IpProtocol") == "-1":
        return "all"
    return str(low) if low == high else f"{low}-{high}"


DIRECTIONS = {"ingress": "IpPermissions", "egress": "IpPermissionsEgress"}
COLUMNS = (
    Column("id", "Id"),
    Column("name", "Name"),
    Column("description", "Description"),
    Column("ingress", "Ingress rules"),
    Column("egress", "Egress rules"),
)
FILTERS = (("group-name", "Name"), ("group-id", "Id"), ("description", "Description"))


def _rules(group: dict[str, Any], direction: str) -> list[tuple[str, str, str, dict[str, Any]]]:
    """(protocol, ports, peer, the revoke form's fields) for each peer of each rule."""
    rows = []
    for rule in group.get(DIRECTIONS[direction], []):
        base = {
            "group": group["GroupId"],
            "direction": direction,
            "protocol": rule.get("IpProtocol", ""),
            "from": rule.get("FromPort", ""),
            "to": rule.get("ToPort", ""),
        }
        sources = [("cidr", r.get("CidrIp", "")) for r in rule.get("IpRanges", [])]
        sources += [
            ("source_group", p.get("GroupId") or p.get("GroupName", ""))
            for p in rule.get("UserIdGroupPairs", [])
        ]
        for kind, source in sources:
            revoke = {**base, kind: source}
            protocol = rule.get("IpProtocol", "")
            # EC2's -1 is every protocol: shown as the AWS console shows it.
            rows.append(("all" if protocol == "-1" else protocol, _ports(rule), source, revoke))
    return rows


def _count(group: dict[str, Any], key: str) -> int:
    return sum(
        len(r.get("IpRanges", [])) + len(r.get("UserIdGroupPairs", [])) for r in group.get(key, [])
    )


def security_groups(ctx: Ctx) -> Response:
    lst = listing(ctx, "/security-groups", COLUMNS, FILTERS)
    ec2 = ctx.client("ec2")

    def fetch(paging: dict[str, Any]) -> tuple[list[dict[str, Any]], str | None]:
        params: dict[str, Any] = {"MaxResults": paging["size"], "Filters": ec2_filters(lst)}
        if "token" in paging:
            params["NextToken"] = paging["token"]
        answer = ec2.describe_security_groups(**params)
        rows = [
            {
                "id": g["GroupId"],
                "name": g["GroupName"],
                "description": g.get("Description", ""),
                "ingress": _count(g, "IpPermissions"),
                "egress": _count(g, "IpPermissionsEgress"),
            }
            for g in answer.get("SecurityGroups", [])
        ]
        return rows, answer.get("NextToken")

    return ctx.page("security_groups.html", "Security groups", lst=api_page(lst, fetch))


def detail_path(group_id: str) -> str:
    return "/security-groups/detail?" + urlencode({"id": group_id})


def detail(ctx: Ctx) -> Response:
    group_id = ctx.arg("id")
    if not group_id:
        raise BadRequest("which security group?")
    found = ctx.client("ec2").describe_security_groups(GroupIds=[group_id])
    groups = found.get("SecurityGroups", [])
    if not groups:
        raise BadRequest(f"no security group {group_id}")
    g = groups[0]
    return ctx.page(
        "security_group.html",
        f"Security group {g['GroupName']}",
        g={"id": g["GroupId"], "name": g["GroupName"], "description": g.get("Description", "")},
        ingress=_rules(g, "ingress"),
        egress=_rules(g, "egress"),
        protocols=PROTOCOLS,
        here=detail_path(g["GroupId"]),
    )


def create(ctx: Ctx) -> Response:
    name = ctx.arg("name")
    made = ctx.client("ec2").create_security_group(
        GroupName=name, Description=ctx.arg("description") or name
    )
    ctx.ok(f"Created security group {name} ({made.get('GroupId', '')})")
    return ctx.back()


def delete(ctx: Ctx) -> Response:
    asked = ctx.confirmed(f"Delete the security group {ctx.arg('group')}?", "Yes, delete it")
    if asked is not None:
        return asked
    ctx.client("ec2").delete_security_group(GroupId=ctx.arg("group"))
    ctx.ok(f"Deleted security group {ctx.arg('group')}")
    return ctx.back()


def _port(text: str, protocol: str) -> int:
    if text == "" and protocol == "-1":
        return -1
    try:
        return int(text)
    except ValueError:
        raise BadRequest(f"port {text!r} is not a number") from None


def _permission(ctx: Ctx) -> dict[str, Any]:
    protocol = ctx.arg("protocol")
    if protocol not in {p for p, _ in PROTOCOLS}:
        raise BadRequest("unknown protocol")
    rule: dict[str, Any] = {"IpProtocol": protocol}
    if protocol != "-1":
        rule["FromPort"] = _port(ctx.arg("from"), protocol)
        rule["ToPort"] = _port(ctx.arg("to"), protocol)
    if ctx.arg("source_group"):
        rule["UserIdGroupPairs"] = [{"GroupId": ctx.arg("source_group")}]
    else:
        rule["IpRanges"] = [{"CidrIp": ctx.arg("cidr") or "0.0.0.0/0"}]
    return rule


def _direction(ctx: Ctx) -> str:
    direction = ctx.arg("direction") or "ingress"
    if direction not in DIRECTIONS:
        raise BadRequest("unknown rule direction")
    return direction


def authorize(ctx: Ctx) -> Response:
    rule, direction, group = _permission(ctx), _direction(ctx), ctx.arg("group")
    call = f"authorize_security_group_{direction}"
    getattr(ctx.client("ec2"), call)(GroupId=group, IpPermissions=[rule])
    way = "into" if direction == "ingress" else "out of"
    ctx.ok(f"Authorized {rule['IpProtocol']} {_ports(rule)} {way} {group}")
    return ctx.back(detail_path(group))


def revoke(ctx: Ctx) -> Response:
    rule, direction, group = _permission(ctx), _direction(ctx), ctx.arg("group")
    asked = ctx.confirmed(
        f"Revoke the {direction} rule {rule['IpProtocol']} {_ports(rule)} of {group}?",
        "Yes, revoke it",
    )
    if asked is not None:
        return asked
    getattr(ctx.client("ec2"), f"revoke_security_group_{direction}")(
        GroupId=group, IpPermissions=[rule]
    )
    ctx.ok(f"Revoked {direction} {rule['IpProtocol']} {_ports(rule)} of {group}")
    return ctx.back(detail_path(group))


ROUTES = [
    Route("GET", "/security-groups", security_groups, "/security-groups"),
    Route("GET", "/security-groups/detail", detail, "/security-groups"),
    Route("POST", "/security-groups/create", create, "/security-groups"),
    Route("POST", "/security-groups/delete", delete, "/security-groups"),
    Route("POST", "/security-groups/authorize", authorize, "/security-groups"),
    Route("POST", "/security-groups/revoke", revoke, "/security-groups"),
]
