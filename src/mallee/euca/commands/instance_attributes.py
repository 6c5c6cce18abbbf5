"""euca-get-console-output and euca-modify-instance-attribute."""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from typing import Any

from mallee.euca import args as opts
from mallee.euca.command import Command, Context, Line
from mallee.euca.commands.instances import block_device_mapping
from mallee.euca.errors import CommandError

# Control characters shown as ^X (caret notation), as euca2ools does unless -r.
_ESCAPES = {chr(c): "^" + chr(c + 64) for c in range(32) if chr(c) not in "\t\n\r"}
_ESCAPES["\x7f"] = "^?"
_TABLE = str.maketrans(_ESCAPES)


def escape_console(text: str) -> str:
    return text.translate(_TABLE)


def _console_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("instance", metavar="INSTANCE", help="instance to show the console of")
    p.add_argument(
        "-r", "--raw-console-output", action="store_true", help="do not escape control characters"
    )


def _console(ctx: Context, args: argparse.Namespace) -> Iterator[Line]:
    # botocore already decodes the base64 Output.
    out = ctx.client().get_console_output(InstanceId=args.instance)
    yield str(out.get("InstanceId") or "")
    yield str(out.get("Timestamp") or "")
    text = str(out.get("Output") or "")
    yield text if args.raw_console_output else escape_console(text)


def _modify_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("instance", metavar="INSTANCE", help="instance to modify")
    which = p.add_mutually_exclusive_group(required=True)
    which.add_argument("-t", "--instance-type", metavar="TYPE", help="new instance type")
    which.add_argument("--kernel", metavar="KERNEL", help="new kernel")
    which.add_argument("--ramdisk", metavar="RAMDISK", help="new ramdisk")
    which.add_argument("-g", "--group", action="append", help="security group IDs (replace all)")
    which.add_argument(
        "--disable-api-termination",
        choices=("true", "false"),
        help="whether API users may not terminate the instance",
    )
    which.add_argument("--instance-initiated-shutdown-behavior", choices=("stop", "terminate"))
    which.add_argument("--ebs-optimized", choices=("true", "false"))
    which.add_argument("--source-dest-check", choices=("true", "false"))
    which.add_argument("-b", "--block-device-mapping", action="append", metavar="DEVICE=::BOOL")
    which.add_argument("-d", "--user-data", metavar="DATA", help="new user data")
    which.add_argument("--user-data-force", metavar="DATA", help="as -d, even if a file exists")
    which.add_argument("-f", "--user-data-file", metavar="FILE", help="file holding user data")


def _change(args: argparse.Namespace) -> tuple[str, dict[str, Any]]:
    """(attribute as DescribeInstanceAttribute names it, ModifyInstanceAttribute params)."""
    if args.instance_type:
        return "instanceType", {"InstanceType": {"Value": args.instance_type}}
    if args.kernel:
        return "kernel", {"Kernel": {"Value": args.kernel}}
    if args.ramdisk:
        return "ramdisk", {"Ramdisk": {"Value": args.ramdisk}}
    if args.group:
        return "groupSet", {"Groups": args.group}
    flags = {
        "disable_api_termination": ("disableApiTermination", "DisableApiTermination"),
        "ebs_optimized": ("ebsOptimized", "EbsOptimized"),
        "source_dest_check": ("sourceDestCheck", "SourceDestCheck"),
    }
    for option, (attribute, key) in flags.items():
        if getattr(args, option):
            return attribute, {key: {"Value": getattr(args, option) == "true"}}
    if args.instance_initiated_shutdown_behavior:
        value = args.instance_initiated_shutdown_behavior
        return "instanceInitiatedShutdownBehavior", {
            "InstanceInitiatedShutdownBehavior": {"Value": value}
        }
    if args.block_device_mapping:
        mappings = [_bdm_change(b) for b in args.block_device_mapping]
        return "blockDeviceMapping", {"BlockDeviceMappings": mappings}
    data = opts.user_data(args)
    if data is None:
        raise CommandError("choose the attribute to change", status=2)
    return "userData", {"UserData": {"Value": data.encode()}}


def _bdm_change(raw: str) -> dict[str, Any]:
    mapping = block_device_mapping(raw)
    ebs = mapping.get("Ebs") or {}
    return {
        "DeviceName": mapping["DeviceName"],
        "Ebs": {k: v for k, v in ebs.items() if k in ("VolumeId", "DeleteOnTermination")},
    }


def _shown(value: Any) -> object:
    if isinstance(value, dict):
        return value.get("Value")
    if isinstance(value, list):
        return ", ".join(str(g.get("GroupId") or g.get("DeviceName") or "") for g in value)
    return value


def _modify(ctx: Context, args: argparse.Namespace) -> Iterator[Line]:
    attribute, params = _change(args)
    client = ctx.client()
    client.modify_instance_attribute(InstanceId=args.instance, **params)
    # The attribute as it is now, in the EC2 API tools' "attribute instance value" form.
    now = client.describe_instance_attribute(InstanceId=args.instance, Attribute=attribute)
    key = attribute[0].upper() + attribute[1:]
    key = {"GroupSet": "Groups", "BlockDeviceMapping": "BlockDeviceMappings"}.get(key, key)
    value = _shown(now.get(key))
    if attribute == "userData":
        value = "(changed)"
    yield [attribute, args.instance, value]


GET_CONSOLE_OUTPUT = Command(
    "euca-get-console-output",
    "Show an instance's console output",
    "ec2",
    _console_arguments,
    _console,
)
MODIFY_INSTANCE_ATTRIBUTE = Command(
    "euca-modify-instance-attribute",
    "Change an attribute of an instance",
    "ec2",
    _modify_arguments,
    _modify,
)
