"""EBS snapshots: create, describe, delete (SNAPSHOT lines)."""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from typing import Any

from mallee.euca import args as opts
from mallee.euca.command import Command, Context, Line
from mallee.euca.ec2_lines import snapshot_lines
from mallee.euca.errors import CommandError
from mallee.euca.paging import all_items


def _create_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("volume", metavar="VOLUME", help="the volume to snapshot")
    p.add_argument("-d", "--description", metavar="DESC", help="description of the snapshot")


def _create(ctx: Context, args: argparse.Namespace) -> Iterator[Line]:
    params: dict[str, Any] = {"VolumeId": args.volume}
    if args.description:
        params["Description"] = args.description
    yield from snapshot_lines(ctx.client().create_snapshot(**params))


def _describe_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("snapshot", nargs="*", metavar="SNAPSHOT", help="limit results to these")
    p.add_argument("-a", "--all", action="store_true", help="describe all snapshots")
    p.add_argument(
        "-o", "--owner", action="append", metavar="ACCOUNT", help="only snapshots owned by ACCOUNT"
    )
    p.add_argument(
        "-r",
        "--restorable-by",
        action="append",
        metavar="ACCOUNT",
        help="only snapshots ACCOUNT may create volumes from",
    )
    opts.add_filters(p)


def _describe(ctx: Context, args: argparse.Namespace) -> Iterator[Line]:
    if args.all and (args.owner or args.restorable_by):
        raise CommandError("argument -a/--all: not allowed with -o or -r", status=2)
    params: dict[str, Any] = {}
    if args.snapshot:
        params["SnapshotIds"] = args.snapshot
    if args.owner:
        params["OwnerIds"] = args.owner
    if args.restorable_by:
        params["RestorableByUserIds"] = args.restorable_by
    if args.filter:
        params["Filters"] = opts.filters(args.filter)
    if not (args.all or args.snapshot or args.owner or args.restorable_by):
        # euca2ools' default, as for images: the snapshots you may use, not every public one.
        params["RestorableByUserIds"] = ["self"]
    for snapshot in all_items(ctx.client(), "describe_snapshots", "Snapshots", **params):
        yield from snapshot_lines(snapshot)


def _delete_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("snapshot", nargs="+", metavar="SNAPSHOT", help="the snapshots to delete")


def _delete(ctx: Context, args: argparse.Namespace) -> Iterator[Line]:
    for snapshot_id in args.snapshot:
        ctx.client().delete_snapshot(SnapshotId=snapshot_id)
        yield ["SNAPSHOT", snapshot_id]


CREATE_SNAPSHOT = Command(
    "euca-create-snapshot", "Create a snapshot of a volume", "ec2", _create_arguments, _create
)
DESCRIBE_SNAPSHOTS = Command(
    "euca-describe-snapshots",
    "Show information about snapshots",
    "ec2",
    _describe_arguments,
    _describe,
)
DELETE_SNAPSHOT = Command(
    "euca-delete-snapshot", "Delete one or more snapshots", "ec2", _delete_arguments, _delete
)
