"""euca-create-image: an EBS-backed image of an EBS-backed instance (IMAGE line)."""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from typing import Any

from mallee.euca.command import Command, Context, Line
from mallee.euca.commands.instances import block_device_mapping


def _arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("instance", metavar="INSTANCE", help="the instance to make an image of")
    p.add_argument("-n", "--name", required=True, help="name of the new image")
    p.add_argument("-d", "--description", metavar="DESC", help="description of the new image")
    p.add_argument(
        "--no-reboot",
        action="store_true",
        help="do not stop the instance first (its disks are then copied as they are)",
    )
    p.add_argument(
        "-b",
        "--block-device-mapping",
        action="append",
        default=[],
        metavar="DEVICE=MAPPED",
        help="change the image's mapping of DEVICE: none, ephemeralN or [SNAP]:[GiB]:[true|false]",
    )


def _create(ctx: Context, args: argparse.Namespace) -> Iterator[Line]:
    params: dict[str, Any] = {"InstanceId": args.instance, "Name": args.name}
    if args.description:
        params["Description"] = args.description
    if args.no_reboot:
        params["NoReboot"] = True
    mappings = [block_device_mapping(b) for b in args.block_device_mapping]
    if mappings:
        params["BlockDeviceMappings"] = mappings
    yield ["IMAGE", ctx.client().create_image(**params).get("ImageId")]


CREATE_IMAGE = Command(
    "euca-create-image",
    "Create an EBS image from a running or stopped EBS-backed instance",
    "ec2",
    _arguments,
    _create,
)
