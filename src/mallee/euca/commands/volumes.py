"""EBS volumes: create, attach, detach, delete, describe (VOLUME and ATTACHMENT lines)."""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from typing import Any

from mallee.euca import args as opts
from mallee.euca.command import Command, Context, Line
from mallee.euca.ec2_lines import attachment_row, volume_lines
from mallee.euca.errors import CommandError
from mallee.euca.paging import all_items


def _create_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("-s", "--size", type=int, metavar="GiB", help="size of the volume (GiB)")
    p.add_argument("--snapshot", metavar="SNAPSHOT", help="snapshot to make the volume from")
    p.add_argument(
        "-z", "--availability-zone", required=True, metavar="ZONE", help="zone to create it in"
    )
    p.add_argument("-t", "--type", metavar="VOLTYPE", help="volume type")
    p.add_argument("-i", "--iops", type=int, metavar="IOPS", help="provisioned IOPS")


def _create(ctx: Context, args: argparse.Namespace) -> Iterator[Line]:
    if args.size is None and not args.snapshot:
        raise CommandError("argument -s/--size or --snapshot is required", status=2)
    params: dict[str, Any] = {"AvailabilityZone": args.availability_zone}
    if args.size is not None:
        params["Size"] = args.size
    if args.snapshot:
        params["SnapshotId"] = args.snapshot
    if args.type:
        params["VolumeType"] = args.type
    if args.iops is not None:
        params["Iops"] = args.iops
    out = ctx.client().create_volume(**params)
    yield [
        "VOLUME",
        out.get("VolumeId"),
        out.get("Size"),
        out.get("SnapshotId"),
        out.get("AvailabilityZone"),
        out.get("State"),
        out.get("CreateTime"),
    ]


def _attach_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("volume", metavar="VOLUME", help="the volume to attach")
    p.add_argument(
        "-i", "--instance", required=True, metavar="INSTANCE", help="instance to attach to"
    )
    p.add_argument("-d", "--device", required=True, metavar="DEVICE", help="device name (/dev/sdf)")


def _attach(ctx: Context, args: argparse.Namespace) -> Iterator[Line]:
    out = ctx.client().attach_volume(
        VolumeId=args.volume, InstanceId=args.instance, Device=args.device
    )
    yield attachment_row(out)


def _detach_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("volume", metavar="VOLUME", help="the volume to detach")
    p.add_argument("-i", "--instance", metavar="INSTANCE", help="instance to detach it from")
    p.add_argument("-d", "--device", metavar="DEVICE", help="its device name")
    p.add_argument("-f", "--force", action="store_true", help="detach without waiting for the OS")


def _detach(ctx: Context, args: argparse.Namespace) -> Iterator[Line]:
    params: dict[str, Any] = {"VolumeId": args.volume}
    if args.instance:
        params["InstanceId"] = args.instance
    if args.device:
        params["Device"] = args.device
    if args.force:
        params["Force"] = True
    yield attachment_row(ctx.client().detach_volume(**params))


def _delete_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("volume", nargs="+", metavar="VOLUME", help="the volumes to delete")


def _delete(ctx: Context, args: argparse.Namespace) -> Iterator[Line]:
    for volume_id in args.volume:
        ctx.client().delete_volume(VolumeId=volume_id)
        yield ["VOLUME", volume_id]


def _describe_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("volume", nargs="*", metavar="VOLUME", help="limit results to these volumes")
    opts.add_filters(p)


def _describe(ctx: Context, args: argparse.Namespace) -> Iterator[Line]:
    params: dict[str, Any] = {}
    if args.volume:
        params["VolumeIds"] = args.volume
    if args.filter:
        params["Filters"] = opts.filters(args.filter)
    for volume in all_items(ctx.client(), "describe_volumes", "Volumes", **params):
        yield from volume_lines(volume)


CREATE_VOLUME = Command(
    "euca-create-volume", "Create a new volume", "ec2", _create_arguments, _create
)
ATTACH_VOLUME = Command(
    "euca-attach-volume", "Attach a volume to an instance", "ec2", _attach_arguments, _attach
)
DETACH_VOLUME = Command(
    "euca-detach-volume", "Detach a volume from an instance", "ec2", _detach_arguments, _detach
)
DELETE_VOLUME = Command(
    "euca-delete-volume", "Delete one or more volumes", "ec2", _delete_arguments, _delete
)
DESCRIBE_VOLUMES = Command(
    "euca-describe-volumes", "Show information about volumes", "ec2", _describe_arguments, _describe
)
