"""Elastic IPs: allocate, associate, describe, disassociate, release (ADDRESS lines)."""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from typing import Any

from mallee.euca import args as opts
from mallee.euca.command import Command, Context, Line
from mallee.euca.ec2_lines import address_row
from mallee.euca.errors import CommandError


def _by_address(address: str) -> dict[str, str]:
    return {"AllocationId": address} if address.startswith("eipalloc-") else {"PublicIp": address}


def _allocate_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("-d", "--domain", choices=("vpc", "standard"), help="address domain")


def _allocate(ctx: Context, args: argparse.Namespace) -> Iterator[Line]:
    out = ctx.client().allocate_address(**({"Domain": args.domain} if args.domain else {}))
    yield ["ADDRESS", out.get("PublicIp"), out.get("Domain") or "standard", out.get("AllocationId")]


def _associate_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("address", nargs="?", metavar="ADDRESS", help="the elastic IP")
    p.add_argument("-a", "--allocation-id", metavar="ALLOC", help="allocation ID (VPC)")
    p.add_argument("-i", "--instance-id", required=True, metavar="INSTANCE")
    p.add_argument("-p", "--private-ip-address", metavar="ADDRESS")
    p.add_argument("--allow-reassociation", action="store_true")


def _associate(ctx: Context, args: argparse.Namespace) -> Iterator[Line]:
    if bool(args.address) == bool(args.allocation_id):
        raise CommandError("give either an ADDRESS or -a/--allocation-id", status=2)
    params: dict[str, Any] = {"InstanceId": args.instance_id}
    params.update(_by_address(args.address or args.allocation_id))
    if args.private_ip_address:
        params["PrivateIpAddress"] = args.private_ip_address
    if args.allow_reassociation:
        params["AllowReassociation"] = True
    out = ctx.client().associate_address(**params)
    if "AllocationId" in params:
        yield [
            "ADDRESS",
            args.instance_id,
            params["AllocationId"],
            out.get("AssociationId"),
            args.private_ip_address,
        ]
    else:
        yield ["ADDRESS", args.address, args.instance_id]


def _describe_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("address", nargs="*", metavar="ADDRESS", help="IPs or allocation IDs")
    opts.add_filters(p)


def _describe(ctx: Context, args: argparse.Namespace) -> Iterator[Line]:
    params: dict[str, Any] = {}
    ips = sorted(a for a in args.address if not a.startswith("eipalloc-"))
    allocations = sorted(a for a in args.address if a.startswith("eipalloc-"))
    if ips:
        params["PublicIps"] = ips
    if allocations:
        params["AllocationIds"] = allocations
    if args.filter:
        params["Filters"] = opts.filters(args.filter)
    for address in ctx.client().describe_addresses(**params).get("Addresses") or []:
        yield address_row(address)


def _one_address(p: argparse.ArgumentParser) -> None:
    p.add_argument("address", metavar="ADDRESS", help="the elastic IP (or allocation/association)")


def _disassociate(ctx: Context, args: argparse.Namespace) -> Iterator[Line]:
    key = "AssociationId" if args.address.startswith("eipassoc-") else "PublicIp"
    ctx.client().disassociate_address(**{key: args.address})
    yield ["ADDRESS", args.address]


def _release(ctx: Context, args: argparse.Namespace) -> Iterator[Line]:
    ctx.client().release_address(**_by_address(args.address))
    yield ["ADDRESS", args.address]


ALLOCATE_ADDRESS = Command(
    "euca-allocate-address", "Allocate an elastic IP", "ec2", _allocate_arguments, _allocate
)
ASSOCIATE_ADDRESS = Command(
    "euca-associate-address",
    "Associate an elastic IP with an instance",
    "ec2",
    _associate_arguments,
    _associate,
)
DESCRIBE_ADDRESSES = Command(
    "euca-describe-addresses", "Show elastic IPs", "ec2", _describe_arguments, _describe
)
DISASSOCIATE_ADDRESS = Command(
    "euca-disassociate-address",
    "Detach an elastic IP from its instance",
    "ec2",
    _one_address,
    _disassociate,
)
RELEASE_ADDRESS = Command(
    "euca-release-address", "Release an elastic IP", "ec2", _one_address, _release
)
