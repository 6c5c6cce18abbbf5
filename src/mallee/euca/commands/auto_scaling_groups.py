"""euca2ools' auto scaling group commands: euscale-create-auto-scaling-group,
-update-auto-scaling-group, -describe-auto-scaling-groups, -delete-auto-scaling-group and
-set-desired-capacity, with their options and AUTO-SCALING-GROUP, INSTANCE,
SUSPENDED-PROCESS and ENABLED-METRICS lines."""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from typing import Any

from mallee.euca.command import Command, Context, Line
from mallee.euca.commands import auto_scaling_args as asa
from mallee.euca.paging import all_items


def _group_name(p: argparse.ArgumentParser, help: str) -> None:
    p.add_argument("name", metavar="ASGROUP", help=help)


def _settings(p: argparse.ArgumentParser, required: bool) -> None:
    """The options create and update share; create requires -l, -m and -M."""
    p.add_argument(
        "-l",
        "--launch-configuration",
        required=required,
        metavar="LAUNCHCONFIG",
        help="name of the launch configuration for the group's instances",
    )
    p.add_argument(
        "-M", "--max-size", required=required, type=int, metavar="COUNT", help="maximum group size"
    )
    p.add_argument(
        "-m", "--min-size", required=required, type=int, metavar="COUNT", help="minimum group size"
    )
    p.add_argument(
        "--default-cooldown",
        type=int,
        metavar="SECONDS",
        help="seconds after a scaling activity before the next may start",
    )
    p.add_argument(
        "--desired-capacity",
        type=int,
        metavar="COUNT",
        help="number of running instances the group should contain",
    )
    p.add_argument(
        "--grace-period",
        type=int,
        metavar="SECONDS",
        help="seconds before health checks of new instances start",
    )
    p.add_argument(
        "--health-check-type",
        choices=("EC2", "ELB"),
        help="service to obtain health check status from",
    )
    p.add_argument("--placement-group", help="placement group for new instances")
    p.add_argument(
        "--termination-policies",
        type=asa.names,
        metavar="POLICY1,POLICY2,...",
        help="ordered termination policies, the first the highest precedence",
    )
    p.add_argument(
        "--vpc-zone-identifier",
        metavar="ZONE1,ZONE2,...",
        help="comma-separated subnet identifiers",
    )
    p.add_argument(
        "-z",
        "--availability-zones",
        type=asa.names,
        metavar="ZONE1,ZONE2,...",
        help="availability zones for the group (required unless subnets are given)",
    )


def _create_arguments(p: argparse.ArgumentParser) -> None:
    _group_name(p, "name of the new auto-scaling group (required)")
    _settings(p, required=True)
    p.add_argument(
        "--load-balancers",
        type=asa.names,
        metavar="ELB1,ELB2,...",
        help="load balancers the group's instances are registered with",
    )
    asa.add_tags(p)


def _settings_params(args: argparse.Namespace) -> dict[str, Any]:
    return asa.put(
        {"AutoScalingGroupName": args.name},
        LaunchConfigurationName=args.launch_configuration,
        MaxSize=args.max_size,
        MinSize=args.min_size,
        DefaultCooldown=args.default_cooldown,
        DesiredCapacity=args.desired_capacity,
        HealthCheckGracePeriod=args.grace_period,
        HealthCheckType=args.health_check_type,
        PlacementGroup=args.placement_group,
        TerminationPolicies=args.termination_policies,
        VPCZoneIdentifier=args.vpc_zone_identifier,
        AvailabilityZones=args.availability_zones,
    )


def _create(ctx: Context, args: argparse.Namespace) -> Iterator[Line]:
    params = asa.put(_settings_params(args), LoadBalancerNames=args.load_balancers, Tags=args.tags)
    ctx.client().create_auto_scaling_group(**params)
    yield from ()


def _update_arguments(p: argparse.ArgumentParser) -> None:
    _group_name(p, "name of the auto-scaling group to update (required)")
    _settings(p, required=False)


def _update(ctx: Context, args: argparse.Namespace) -> Iterator[Line]:
    ctx.client().update_auto_scaling_group(**_settings_params(args))
    yield from ()


def _source(thing: dict[str, Any]) -> object:
    """What the group or instance launches from: its launch configuration's name, or (for a
    launch template, which euca2ools predates) the template's."""
    template = thing.get("LaunchTemplate") or {}
    return thing.get("LaunchConfigurationName") or template.get("LaunchTemplateName")


def group_line(group: dict[str, Any], long: bool) -> list[object]:
    """euca2ools' AUTO-SCALING-GROUP line (DescribeAutoScalingGroups.print_result)."""
    bits: list[object] = [
        "AUTO-SCALING-GROUP",
        group.get("AutoScalingGroupName"),
        _source(group),
        ",".join(group.get("AvailabilityZones") or []),
    ]
    if long:
        bits.append(group.get("CreatedTime"))
    bits.append(",".join(group.get("LoadBalancerNames") or []) or None)
    if long:
        bits.append(group.get("HealthCheckType"))
    bits += [group.get("MinSize"), group.get("MaxSize"), group.get("DesiredCapacity")]
    if long:
        bits += [
            group.get("DefaultCooldown"),
            group.get("HealthCheckGracePeriod"),
            group.get("VPCZoneIdentifier"),
            group.get("PlacementGroup"),
            group.get("AutoScalingGroupARN"),
        ]
    bits.append(",".join(group.get("TerminationPolicies") or []) or None)
    return bits


def group_lines(group: dict[str, Any], long: bool) -> list[list[object]]:
    """The group's line, then one per instance, suspended process and enabled metric."""
    name = group.get("AutoScalingGroupName")
    lines = [group_line(group, long)]
    lines += [
        [
            "INSTANCE",
            i.get("InstanceId"),
            i.get("AvailabilityZone"),
            i.get("LifecycleState"),
            i.get("HealthStatus"),
            _source(i),
        ]
        for i in group.get("Instances") or []
    ]
    lines += [
        ["SUSPENDED-PROCESS", p.get("ProcessName"), p.get("SuspensionReason"), name]
        for p in group.get("SuspendedProcesses") or []
    ]
    lines += [
        ["ENABLED-METRICS", m.get("Metric"), m.get("Granularity")]
        for m in group.get("EnabledMetrics") or []
    ]
    return lines


def _describe_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("names", nargs="*", metavar="ASGROUP", help="limit results to these groups")
    p.add_argument("--show-long", action="store_true", help="show all of the groups' info")


def _describe(ctx: Context, args: argparse.Namespace) -> Iterator[Line]:
    params: dict[str, Any] = {"AutoScalingGroupNames": args.names} if args.names else {}
    for group in all_items(
        ctx.client(), "describe_auto_scaling_groups", "AutoScalingGroups", **params
    ):
        yield from group_lines(group, args.show_long)


def _delete_arguments(p: argparse.ArgumentParser) -> None:
    _group_name(p, "name of the auto-scaling group to delete (required)")
    p.add_argument(
        "-d",
        "--force-delete",
        action="store_const",
        const=True,
        help="delete the group and terminate its instances without waiting",
    )
    # euca2ools accepts and ignores it, for scripts written for the old tools.
    p.add_argument("-f", "--force", action="store_true", help=argparse.SUPPRESS)


def _delete(ctx: Context, args: argparse.Namespace) -> Iterator[Line]:
    params = asa.put({"AutoScalingGroupName": args.name}, ForceDelete=args.force_delete)
    ctx.client().delete_auto_scaling_group(**params)
    yield from ()


def _capacity_arguments(p: argparse.ArgumentParser) -> None:
    _group_name(p, "name of the auto-scaling group to update (required)")
    p.add_argument(
        "-c",
        "--desired-capacity",
        required=True,
        type=int,
        metavar="COUNT",
        help="new capacity setting for the group (required)",
    )
    asa.add_cooldown_switches(p)


def _capacity(ctx: Context, args: argparse.Namespace) -> Iterator[Line]:
    params = asa.put(
        {"AutoScalingGroupName": args.name, "DesiredCapacity": args.desired_capacity},
        HonorCooldown=args.honor_cooldown,
    )
    ctx.client().set_desired_capacity(**params)
    yield from ()


COMMANDS = (
    Command(
        "euscale-create-auto-scaling-group",
        "Create a new auto-scaling group",
        "autoscaling",
        _create_arguments,
        _create,
    ),
    Command(
        "euscale-update-auto-scaling-group",
        "Update an auto-scaling group's parameters",
        "autoscaling",
        _update_arguments,
        _update,
    ),
    Command(
        "euscale-describe-auto-scaling-groups",
        "Describe auto-scaling groups",
        "autoscaling",
        _describe_arguments,
        _describe,
    ),
    Command(
        "euscale-delete-auto-scaling-group",
        "Delete an auto-scaling group",
        "autoscaling",
        _delete_arguments,
        _delete,
    ),
    Command(
        "euscale-set-desired-capacity",
        "Set an auto-scaling group's desired capacity",
        "autoscaling",
        _capacity_arguments,
        _capacity,
    ),
)
