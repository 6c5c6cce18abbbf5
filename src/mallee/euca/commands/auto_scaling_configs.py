"""euca2ools' launch configuration commands: euscale-create-launch-config,
euscale-describe-launch-configs and euscale-delete-launch-config, with their options and
LAUNCH-CONFIG lines."""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from typing import Any

from mallee.euca import args as opts
from mallee.euca.command import Command, Context, Line
from mallee.euca.commands import auto_scaling_args as asa
from mallee.euca.paging import all_items


def _create_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("name", metavar="LAUNCHCONFIG", help="name of the new launch configuration")
    p.add_argument(
        "-i",
        "--image-id",
        required=True,
        metavar="IMAGE",
        help="machine image to use for instances (required)",
    )
    p.add_argument(
        "-t",
        "--instance-type",
        required=True,
        metavar="TYPE",
        help="instance type to use for instances (required)",
    )
    public = p.add_mutually_exclusive_group()
    public.add_argument(
        "--associate-public-ip-address", dest="public_ip", action="store_const", const=True
    )
    public.add_argument(
        "--no-associate-public-ip-address", dest="public_ip", action="store_const", const=False
    )
    p.add_argument(
        "--block-device-mapping",
        type=asa.block_device_mappings,
        metavar="DEVICE1=MAPPED1,DEVICE2=MAPPED2,...",
        help='MAPPED is "none", "ephemeral(0-3)" or "[SNAP-ID]:[GiB]:[true|false]"',
    )
    p.add_argument("--ebs-optimized", action="store_const", const=True)
    p.add_argument(
        "--group",
        type=asa.names,
        metavar="GROUP1,GROUP2,...",
        help="security groups for the instances (all names or all IDs)",
    )
    p.add_argument("--iam-instance-profile", metavar="PROFILE")
    p.add_argument("--kernel", metavar="KERNEL")
    p.add_argument("--key", metavar="KEYPAIR", help="name of the key pair for instances")
    monitoring = p.add_mutually_exclusive_group()
    monitoring.add_argument(
        "--monitoring-enabled",
        dest="monitoring",
        action="store_const",
        const=True,
        help="enable detailed monitoring (the default)",
    )
    monitoring.add_argument(
        "--monitoring-disabled", dest="monitoring", action="store_const", const=False
    )
    p.add_argument("--ramdisk", metavar="RAMDISK")
    p.add_argument("--spot-price", metavar="PRICE")
    opts.add_user_data(p)


def _create(ctx: Context, args: argparse.Namespace) -> Iterator[Line]:
    params = asa.put(
        {"LaunchConfigurationName": args.name},
        ImageId=args.image_id,
        InstanceType=args.instance_type,
        AssociatePublicIpAddress=args.public_ip,
        BlockDeviceMappings=args.block_device_mapping,
        EbsOptimized=args.ebs_optimized,
        SecurityGroups=args.group,
        IamInstanceProfile=args.iam_instance_profile,
        KernelId=args.kernel,
        KeyName=args.key,
        RamdiskId=args.ramdisk,
        SpotPrice=args.spot_price,
        UserData=asa.user_data(args),
    )
    if args.monitoring is not None:
        params["InstanceMonitoring"] = {"Enabled": args.monitoring}
    ctx.client().create_launch_configuration(**params)
    # euca2ools prints nothing when the launch configuration is made.
    yield from ()


def _mapping_text(mapping: dict[str, Any]) -> str:
    """DEVICE=SNAP:GiB or DEVICE=ephemeralN (euca2ools' convert_block_mapping_to_str)."""
    ebs = mapping.get("Ebs")
    if ebs:
        mapped = f"{ebs.get('SnapshotId') or ''}:{ebs.get('VolumeSize') or ''}"
    elif mapping.get("VirtualName"):
        mapped = str(mapping["VirtualName"])
    else:
        mapped = "none"
    return f"{mapping.get('DeviceName')}={mapped}"


def config_line(config: dict[str, Any], long: bool) -> list[object]:
    """euca2ools' LAUNCH-CONFIG line (DescribeLaunchConfigurations.print_result)."""
    bits: list[object] = [
        "LAUNCH-CONFIG",
        config.get("LaunchConfigurationName"),
        config.get("ImageId"),
        config.get("InstanceType"),
    ]
    if long:
        maps = [_mapping_text(m) for m in config.get("BlockDeviceMappings") or []]
        bits += [
            config.get("KeyName"),
            config.get("KernelId"),
            config.get("RamdiskId"),
            "{" + ",".join(maps) + "}" if maps else None,
            ",".join(config.get("SecurityGroups") or []) or None,
            config.get("CreatedTime"),
            (config.get("InstanceMonitoring") or {}).get("Enabled"),
            config.get("LaunchConfigurationARN"),
        ]
    bits += [config.get("SpotPrice"), config.get("IamInstanceProfile")]
    if long:
        bits.append(config.get("EbsOptimized"))
    return bits


def _describe_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("names", nargs="*", metavar="LAUNCHCONFIG", help="limit results to these")
    p.add_argument(
        "--show-long", action="store_true", help="show all of the launch configurations' info"
    )


def _describe(ctx: Context, args: argparse.Namespace) -> Iterator[Line]:
    params: dict[str, Any] = {"LaunchConfigurationNames": args.names} if args.names else {}
    for config in all_items(
        ctx.client(), "describe_launch_configurations", "LaunchConfigurations", **params
    ):
        yield config_line(config, args.show_long)


def _delete_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("name", metavar="LAUNCHCONFIG", help="name of the launch configuration")


def _delete(ctx: Context, args: argparse.Namespace) -> Iterator[Line]:
    ctx.client().delete_launch_configuration(LaunchConfigurationName=args.name)
    yield from ()


COMMANDS = (
    Command(
        "euscale-create-launch-config",
        "Create a new auto-scaling instance launch configuration",
        "autoscaling",
        _create_arguments,
        _create,
    ),
    Command(
        "euscale-describe-launch-configs",
        "Describe auto-scaling instance launch configurations",
        "autoscaling",
        _describe_arguments,
        _describe,
    ),
    Command(
        "euscale-delete-launch-config",
        "Delete an auto-scaling instance launch configuration",
        "autoscaling",
        _delete_arguments,
        _delete,
    ),
)
