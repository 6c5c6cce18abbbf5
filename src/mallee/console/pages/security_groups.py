"""Security groups: list with their ingress rules, create, delete, authorize and revoke."""

from __future__ import annotations

from typing import Any

from mallee.api.http import HttpResponse
from mallee.console.context import Ctx, Route
from mallee.console.html import Html, button, field, form, join, render, section, select, table
from mallee.console.pages.common import paged
from mallee.console.web import PREFIX, BadRequest

PROTOCOLS = [("tcp", "TCP"), ("udp", "UDP"), ("icmp", "ICMP"), ("-1", "all")]


def _ports(rule: dict[str, Any]) -> str:
    low, high = rule.get("FromPort"), rule.get("ToPort")
    if low is None or rule.get("IpProtocol") == "-1":
        return "all"
    return str(low) if low == high else f"{low}-{high}"


def _rule_rows(ctx: Ctx, group: dict[str, Any]) -> list[list[object]]:
    rows: list[list[object]] = []
    for rule in group.get("IpPermissions", []):
        base = {
            "group": group["GroupId"],
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
            revoke = button(
                PREFIX + "/security-groups/revoke", ctx.csrf, {**base, kind: source}, "Revoke"
            )
            rows.append([rule.get("IpProtocol", ""), _ports(rule), source, revoke])
    return rows


def _group_section(ctx: Ctx, group: dict[str, Any]) -> Html:
    title = f"{group['GroupName']} ({group['GroupId']})"
    delete = button(
        PREFIX + "/security-groups/delete", ctx.csrf, {"group": group["GroupId"]}, "Delete group"
    )
    rules = table(
        ["Protocol", "Ports", "Source", ""],
        _rule_rows(ctx, group),
        empty="No ingress rules: nothing reaches its instances.",
    )
    desc = render("<p>{d}</p>", d=group.get("Description", ""))
    return section(title, desc, rules, delete)


def _authorize_form(ctx: Ctx, groups: list[dict[str, Any]]) -> Html:
    choices = [(g["GroupId"], f"{g['GroupName']} ({g['GroupId']})") for g in groups]
    return form(
        PREFIX + "/security-groups/authorize",
        ctx.csrf,
        [
            select("Group", "group", choices),
            select("Protocol", "protocol", PROTOCOLS, "tcp"),
            field("From port", "from", value=22),
            field("To port", "to", value=22),
            field("CIDR", "cidr", value="0.0.0.0/0"),
        ],
        "Authorize",
    )


def security_groups(ctx: Ctx) -> HttpResponse:
    groups = list(paged(ctx.client("ec2"), "describe_security_groups", "SecurityGroups"))
    create = form(
        PREFIX + "/security-groups/create",
        ctx.csrf,
        [field("Name", "name", required=True), field("Description", "description")],
        "Create",
    )
    return ctx.page(
        "Security groups",
        section("Create a security group", create),
        section("Allow traffic in", _authorize_form(ctx, groups)),
        join(_group_section(ctx, g) for g in groups),
    )


def create(ctx: Ctx) -> HttpResponse:
    name = ctx.arg("name")
    made = ctx.client("ec2").create_security_group(
        GroupName=name, Description=ctx.arg("description") or name
    )
    ctx.ok(f"Created security group {name} ({made.get('GroupId', '')})")
    return ctx.back()


def delete(ctx: Ctx) -> HttpResponse:
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


def authorize(ctx: Ctx) -> HttpResponse:
    rule = _permission(ctx)
    ctx.client("ec2").authorize_security_group_ingress(
        GroupId=ctx.arg("group"), IpPermissions=[rule]
    )
    ctx.ok(f"Authorized {rule['IpProtocol']} {_ports(rule)} into {ctx.arg('group')}")
    return ctx.back()


def revoke(ctx: Ctx) -> HttpResponse:
    rule = _permission(ctx)
    ctx.client("ec2").revoke_security_group_ingress(GroupId=ctx.arg("group"), IpPermissions=[rule])
    ctx.ok(f"Revoked {rule['IpProtocol']} {_ports(rule)} from {ctx.arg('group')}")
    return ctx.back()


ROUTES = [
    Route("GET", "/security-groups", security_groups, "/security-groups"),
    Route("POST", "/security-groups/create", create, "/security-groups"),
    Route("POST", "/security-groups/delete", delete, "/security-groups"),
    Route("POST", "/security-groups/authorize", authorize, "/security-groups"),
    Route("POST", "/security-groups/revoke", revoke, "/security-groups"),
]
