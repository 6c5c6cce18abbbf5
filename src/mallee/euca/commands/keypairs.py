"""euca-create-keypair, euca-describe-keypairs, euca-delete-keypair."""

from __future__ import annotations

import argparse
import os
from collections.abc import Iterator

from mallee.euca import args as opts
from mallee.euca.command import Command, Context, Line
from mallee.euca.ec2_lines import keypair_row


def _create_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("name", metavar="KEYPAIR", help="name of the new key pair")
    p.add_argument("-f", "--filename", metavar="FILE", help="save the private key to FILE")


def save_private_key(path: str, material: str) -> None:
    # Readable by the owner only from the first byte on, as ssh demands of private keys.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(material if material.endswith("\n") else material + "\n")


def _create(ctx: Context, args: argparse.Namespace) -> Iterator[Line]:
    out = ctx.client().create_key_pair(KeyName=args.name)
    if args.filename:
        save_private_key(args.filename, str(out.get("KeyMaterial") or ""))
    yield keypair_row(out)
    if not args.filename:
        yield str(out.get("KeyMaterial") or "").rstrip("\n")


def _describe_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("name", nargs="*", metavar="KEYPAIR", help="limit to these key pairs")
    opts.add_filters(p)


def _describe(ctx: Context, args: argparse.Namespace) -> Iterator[Line]:
    params: dict[str, object] = {}
    if args.name:
        params["KeyNames"] = args.name
    if args.filter:
        params["Filters"] = opts.filters(args.filter)
    for keypair in ctx.client().describe_key_pairs(**params).get("KeyPairs") or []:
        yield keypair_row(keypair)


def _delete_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("name", metavar="KEYPAIR", help="key pair to delete")


def _delete(ctx: Context, args: argparse.Namespace) -> Iterator[Line]:
    ctx.client().delete_key_pair(KeyName=args.name)
    yield ["KEYPAIR", args.name]


CREATE_KEYPAIR = Command(
    "euca-create-keypair", "Create a new SSH key pair", "ec2", _create_arguments, _create
)
DESCRIBE_KEYPAIRS = Command(
    "euca-describe-keypairs", "Show key pairs", "ec2", _describe_arguments, _describe
)
DELETE_KEYPAIR = Command(
    "euca-delete-keypair", "Delete a key pair", "ec2", _delete_arguments, _delete
)
