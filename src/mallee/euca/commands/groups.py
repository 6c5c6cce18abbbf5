"""Security groups: create, describe, delete, authorize, revoke (GROUP and PERMISSION lines)."""

from __future__ import annotations

import argparse
import socket
from collections.abc import Iterator
from typing import Any

from mallee.euca import args as opts
from mallee.euca.command import Command, Context, Line
from mallee.euca.ec2_lines import group_lines
from mallee.euca.errors import CommandError


def _is_group_id(name: str) -> bool:
    return name.startswith("sg-")


def _group_param(name: str) -> dict[str, str]:
    return {"GroupId": name} if _is_group_id(name) else {"GroupName": name}


def _create_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("name", metavar="GROUP", help="name of the new group")
    p.add_argument("-d", "--description", required=True, help="description of the new group")


def _create(ctx: Context, args: argparse.Namespace) -> Iterator[Line]:
    out = ctx.client().create_security_group(GroupName=args.name, Description=args.description)
    yield ["GROUP", out.get("GroupId"), args.name, args.description]


def _describe_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("group", nargs="*", metavar="GROUP", help="limit to these groups")
    opts.add_filters(p)


def _describe(ctx: Context, args: argparse.Namespace) -> Iterator[Line]:
    params: dict[str, Any] = {}
    ids = [g for g in args.group if _is_group_id(g)]
    names = [g for g in args.group if not _is_group_id(g)]
    if ids:
        params["GroupIds"] = ids
    if names:
        params["GroupNames"] = names
    if args.filter:
        params["Filters"] = opts.filters(args.filter)
    for group in ctx.client().describe_security_groups(**params).get("SecurityGroups") or []:
        yield from group_lines(group)


def _delete_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("group", metavar="GROUP", help="name or ID of the group to delete")


def _delete(ctx: Context, args: argparse.Namespace) -> Iterator[Line]:
    ctx.client().delete_security_group(**_group_param(args.group))
    yield ["RETURN", True]


def _rule_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("group", metavar="GROUP", help="name or ID of the group to modify")
    p.add_argument("--egress", action="store_true", help="an egress rule (group IDs only)")
    p.add_argument("-P", "--protocol", default="tcp", help="tcp, udp, icmp, all or a number")
    p.add_argument("-p", "--port-range", metavar="RANGE", help="port or from-to")
    p.add_argument("-t", "--icmp-type-code", metavar="TYPE:CODE", help="for icmp")
    target = p.add_mutually_exclusive_group()
    target.add_argument("-s", "--cidr", metavar="CIDR", help="source range (default 0.0.0.0/0)")
    target.add_argument("-o", dest="source_group", metavar="GROUP", help="source group")
    p.add_argument("-u", dest="source_owner", metavar="ACCOUNT", help="account of the -o group")


def _protocol(raw: str) -> str:
    lowered = raw.lower()
    if lowered in ("all", "-1"):
        return "-1"
    if lowered in ("tcp", "udp", "icmp") or lowered.isdigit():
        return lowered
    try:
        return str(socket.getprotobyname(lowered))
    except OSError:
        raise CommandError(f"argument -P: no such protocol: {raw}", status=2) from None


def rule(args: argparse.Namespace) -> tuple[dict[str, Any], list[object]]:
    """The IpPermission for the options, and the PERMISSION line euca2ools prints for it."""
    protocol = _protocol(args.protocol)
    low, high = opts.port_range(protocol, args.port_range, args.icmp_type_code)
    permission: dict[str, Any] = {"IpProtocol": protocol}
    if low is not None:
        permission.update(FromPort=low, ToPort=high)
    line: list[object] = ["PERMISSION", args.group, "ALLOWS", protocol, low, high]
    if args.source_group:
        pair: dict[str, str] = {}
        if args.source_owner:
            pair["UserId"] = args.source_owner
            line += ["USER", args.source_owner]
        key = "GroupId" if _is_group_id(args.source_group) else "GroupName"
        pair[key] = args.source_group
        line += ["ID" if key == "GroupId" else "NAME", args.source_group]
        permission["UserIdGroupPairs"] = [pair]
    else:
        cidr = args.cidr or "0.0.0.0/0"
        permission["IpRanges"] = [{"CidrIp": cidr}]
        line += ["FROM", "CIDR", cidr]
    return permission, line


def _modify(ctx: Context, args: argparse.Namespace, authorize: bool) -> Iterator[Line]:
    if args.egress and not _is_group_id(args.group):
        raise CommandError("egress rules must use group IDs, not names", status=2)
    permission, line = rule(args)
    client = ctx.client()
    verb = "authorize" if authorize else "revoke"
    way = "egress" if args.egress else "ingress"
    call = getattr(client, f"{verb}_security_group_{way}")
    call(**_group_param(args.group), IpPermissions=[permission])
    yield ["GROUP", args.group]
    yield line


def _authorize(ctx: Context, args: argparse.Namespace) -> Iterator[Line]:
    return _modify(ctx, args, authorize=True)


def _revoke(ctx: Context, args: argparse.Namespace) -> Iterator[Line]:
    return _modify(ctx, args, authorize=False)


_DASHED = frozenset({"-p", "--port-range", "-t", "--icmp-type-code"})

CREATE_GROUP = Command(
    "euca-create-group", "Create a security group", "ec2", _create_arguments, _create
)
DESCRIBE_GROUPS = Command(
    "euca-describe-groups", "Show security groups", "ec2", _describe_arguments, _describe
)
DELETE_GROUP = Command(
    "euca-delete-group", "Delete a security group", "ec2", _delete_arguments, _delete
)
AUTHORIZE = Command(
    "euca-authorize",
    "Allow traffic into a security group",
    "ec2",
    _rule_arguments,
    _authorize,
    dash_values=_DASHED,
)
REVOKE = Command(
    "euca-revoke",
    "Remove a rule from a security group",
    "ec2",
    _rule_arguments,
    _revoke,
    dash_values=_DASHED,
)
