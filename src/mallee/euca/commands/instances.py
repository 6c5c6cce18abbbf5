"""Instances: run, describe, terminate, monitor, console output, attributes."""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from typing import Any

from mallee.euca import args as opts
from mallee.euca.command import Command, Context, Line
from mallee.euca.ec2_lines import reservation_lines
from mallee.euca.errors import CommandError
from mallee.euca.paging import all_items


def _count(raw: str) -> tuple[int, int]:
    low, dash, high = raw.partition("-")
    try:
        lo, hi = int(low), int(high if dash else low)
    except ValueError:
        raise CommandError(
            'argument -n/--instance-count: value must have format "1" or "1-2"', status=2
        ) from None
    if lo < 1 or hi < 1:
        raise CommandError(
            "argument -n/--instance-count: instance count must be positive", status=2
        )
    return min(lo, hi), max(lo, hi)


def block_device_mapping(raw: str) -> dict[str, Any]:
    """-b DEVICE=none | ephemeralN | [SNAP]:[GiB]:[true|false]:[TYPE[:IOPS]]."""
    device, eq, mapped = raw.partition("=")
    if not eq or not device or not mapped:
        raise CommandError(
            f"argument -b/--block-device-mapping: {raw!r}: use DEVICE=MAPPED", status=2
        )
    if mapped == "none":
        return {"DeviceName": device, "NoDevice": ""}
    if mapped.startswith("ephemeral"):
        return {"DeviceName": device, "VirtualName": mapped}
    parts = mapped.split(":") + [""] * 5
    ebs: dict[str, Any] = {}
    try:
        if parts[0]:
            ebs["SnapshotId"] = parts[0]
        if parts[1]:
            ebs["VolumeSize"] = int(parts[1])
        if parts[2]:
            ebs["DeleteOnTermination"] = {"true": True, "false": False}[parts[2].lower()]
        if parts[3]:
            ebs["VolumeType"] = parts[3]
        if parts[4]:
            ebs["Iops"] = int(parts[4])
    except (KeyError, ValueError):
        raise CommandError(
            f"argument -b/--block-device-mapping: {raw!r} is malformed", status=2
        ) from None
    return {"DeviceName": device, "Ebs": ebs}


def _groups(names: list[str]) -> dict[str, list[str]]:
    by_id = [g for g in names if g.startswith("sg-")]
    by_name = [g for g in names if not g.startswith("sg-")]
    return {
        **({"SecurityGroupIds": by_id} if by_id else {}),
        **({"SecurityGroups": by_name} if by_name else {}),
    }


def _run_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("image", metavar="IMAGE", help="ID of the image to instantiate")
    p.add_argument("-n", "--instance-count", default="1", metavar="MIN[-MAX]")
    p.add_argument("-g", "--group", action="append", default=[], help="security group(s)")
    p.add_argument("-k", "--key", metavar="KEYPAIR", help="name of the key pair to use")
    opts.add_user_data(p)
    p.add_argument("-t", "--instance-type", metavar="TYPE", help="type of instance to launch")
    p.add_argument("-z", "--availability-zone", metavar="ZONE")
    p.add_argument("--kernel", metavar="KERNEL", help="kernel to launch with")
    p.add_argument("--ramdisk", metavar="RAMDISK", help="ramdisk to launch with")
    p.add_argument(
        "-b", "--block-device-mapping", action="append", default=[], metavar="DEVICE=MAPPED"
    )
    p.add_argument("-m", "--monitor", action="store_true", help="enable detailed monitoring")
    p.add_argument("--disable-api-termination", action="store_true")
    p.add_argument("--instance-initiated-shutdown-behavior", choices=("stop", "terminate"))
    p.add_argument("--placement-group", metavar="PLGROUP")
    p.add_argument("--client-token", metavar="TOKEN", help="idempotency token")
    p.add_argument("-p", "--iam-profile", metavar="IPROFILE", help="instance profile name or ARN")
    p.add_argument("--ebs-optimized", action="store_true")


def _run_params(args: argparse.Namespace) -> dict[str, Any]:
    low, high = _count(args.instance_count)
    params: dict[str, Any] = {"ImageId": args.image, "MinCount": low, "MaxCount": high}
    params.update(_groups(args.group))
    simple = {
        "KeyName": args.key,
        "InstanceType": args.instance_type,
        "KernelId": args.kernel,
        "RamdiskId": args.ramdisk,
        "ClientToken": args.client_token,
        "InstanceInitiatedShutdownBehavior": args.instance_initiated_shutdown_behavior,
        "UserData": opts.user_data(args),
    }
    params.update({k: v for k, v in simple.items() if v is not None})
    placement = {
        k: v
        for k, v in (
            ("AvailabilityZone", args.availability_zone),
            ("GroupName", args.placement_group),
        )
        if v
    }
    if placement:
        params["Placement"] = placement
    if args.block_device_mapping:
        params["BlockDeviceMappings"] = [block_device_mapping(b) for b in args.block_device_mapping]
    if args.monitor:
        params["Monitoring"] = {"Enabled": True}
    if args.disable_api_termination:
        params["DisableApiTermination"] = True
    if args.ebs_optimized:
        params["EbsOptimized"] = True
    if args.iam_profile:
        key = "Arn" if args.iam_profile.startswith("arn:") else "Name"
        params["IamInstanceProfile"] = {key: args.iam_profile}
    return params


def _run(ctx: Context, args: argparse.Namespace) -> Iterator[Line]:
    yield from reservation_lines(ctx.client().run_instances(**_run_params(args)))


def _describe_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("instance", nargs="*", metavar="INSTANCE", help="limit to these instances")
    opts.add_filters(p)


def _describe(ctx: Context, args: argparse.Namespace) -> Iterator[Line]:
    params: dict[str, Any] = {}
    if args.instance:
        params["InstanceIds"] = args.instance
    if args.filter:
        params["Filters"] = opts.filters(args.filter)
    for reservation in all_items(ctx.client(), "describe_instances", "Reservations", **params):
        yield from reservation_lines(reservation)


def _ids_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("instance", nargs="+", metavar="INSTANCE", help="instance ID(s)")


def _state_changes(changes: list[dict[str, Any]]) -> Iterator[Line]:
    for change in changes:
        previous = (change.get("PreviousState") or {}).get("Name")
        current = (change.get("CurrentState") or {}).get("Name")
        yield ["INSTANCE", change.get("InstanceId"), previous, current]


def _terminate(ctx: Context, args: argparse.Namespace) -> Iterator[Line]:
    out = ctx.client().terminate_instances(InstanceIds=args.instance)
    return _state_changes(out.get("TerminatingInstances") or [])


def _stop_arguments(p: argparse.ArgumentParser) -> None:
    _ids_arguments(p)
    p.add_argument(
        "-f", "--force", action="store_true", help="stop without waiting for the guest to shut down"
    )


def _stop(ctx: Context, args: argparse.Namespace) -> Iterator[Line]:
    out = ctx.client().stop_instances(InstanceIds=args.instance, Force=args.force)
    return _state_changes(out.get("StoppingInstances") or [])


def _start(ctx: Context, args: argparse.Namespace) -> Iterator[Line]:
    out = ctx.client().start_instances(InstanceIds=args.instance)
    return _state_changes(out.get("StartingInstances") or [])


def _reboot(ctx: Context, args: argparse.Namespace) -> Iterator[Line]:
    ctx.client().reboot_instances(InstanceIds=args.instance)
    return iter(())


def _monitoring(ctx: Context, args: argparse.Namespace, enable: bool) -> Iterator[Line]:
    client = ctx.client()
    call = client.monitor_instances if enable else client.unmonitor_instances
    for item in call(InstanceIds=args.instance).get("InstanceMonitorings") or []:
        state = (item.get("Monitoring") or {}).get("State")
        yield [item.get("InstanceId"), f"monitoring-{state}"]


def _monitor(ctx: Context, args: argparse.Namespace) -> Iterator[Line]:
    return _monitoring(ctx, args, enable=True)


def _unmonitor(ctx: Context, args: argparse.Namespace) -> Iterator[Line]:
    return _monitoring(ctx, args, enable=False)


RUN_INSTANCES = Command(
    "euca-run-instances", "Launch instances of a machine image", "ec2", _run_arguments, _run
)
DESCRIBE_INSTANCES = Command(
    "euca-describe-instances",
    "Show information about instances",
    "ec2",
    _describe_arguments,
    _describe,
)
TERMINATE_INSTANCES = Command(
    "euca-terminate-instances", "Terminate instances", "ec2", _ids_arguments, _terminate
)
STOP_INSTANCES = Command(
    "euca-stop-instances", "Stop EBS-backed instances", "ec2", _stop_arguments, _stop
)
START_INSTANCES = Command(
    "euca-start-instances", "Start stopped EBS-backed instances", "ec2", _ids_arguments, _start
)
REBOOT_INSTANCES = Command(
    "euca-reboot-instances", "Reboot instances", "ec2", _ids_arguments, _reboot
)
MONITOR_INSTANCES = Command(
    "euca-monitor-instances", "Enable detailed monitoring", "ec2", _ids_arguments, _monitor
)
UNMONITOR_INSTANCES = Command(
    "euca-unmonitor-instances", "Disable detailed monitoring", "ec2", _ids_arguments, _unmonitor
)
