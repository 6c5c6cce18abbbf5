"""euca2ools' commands for what groups did and hold: euscale-describe-scaling-activities
(ACTIVITY lines) and euscale-describe-auto-scaling-instances (INSTANCE lines)."""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from typing import Any

from mallee.euca.command import Command, Context, Line
from mallee.euca.commands import auto_scaling_args as asa
from mallee.euca.paging import all_items


def activity_line(activity: dict[str, Any], long: bool) -> list[object]:
    """euca2ools' ACTIVITY line (DescribeScalingActivities.print_result)."""
    bits: list[object] = [
        "ACTIVITY",
        activity.get("ActivityId"),
        activity.get("EndTime"),
        activity.get("AutoScalingGroupName"),
        activity.get("StatusCode"),
        activity.get("StatusMessage"),
    ]
    if long:
        bits += [
            activity.get("Cause"),
            activity.get("Progress"),
            activity.get("Description"),
            activity.get("Details"),
            activity.get("StartTime"),
        ]
    return bits


def _activities_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("ids", nargs="*", metavar="ACTIVITY", help="limit results to these activities")
    p.add_argument(
        "-g",
        "--auto-scaling-group",
        metavar="ASGROUP",
        help="name of an auto-scaling group to limit results to",
    )
    p.add_argument("--show-long", action="store_true", help="show all of the activities' info")


def _activities(ctx: Context, args: argparse.Namespace) -> Iterator[Line]:
    params = asa.put(
        {"ActivityIds": args.ids} if args.ids else {},
        AutoScalingGroupName=args.auto_scaling_group,
    )
    for activity in all_items(ctx.client(), "describe_scaling_activities", "Activities", **params):
        yield activity_line(activity, args.show_long)


def instance_line(instance: dict[str, Any]) -> list[object]:
    """euca2ools' INSTANCE line (DescribeAutoScalingInstances.print_result)."""
    template = instance.get("LaunchTemplate") or {}
    return [
        "INSTANCE",
        instance.get("InstanceId"),
        instance.get("AutoScalingGroupName"),
        instance.get("AvailabilityZone"),
        instance.get("LifecycleState"),
        instance.get("HealthStatus"),
        instance.get("LaunchConfigurationName") or template.get("LaunchTemplateName"),
    ]


def _instances_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("ids", nargs="*", metavar="INSTANCE", help="limit results to these instances")
    # It changes nothing, but people give it out of habit (euca2ools accepts it too).
    p.add_argument("--show-long", action="store_true", help=argparse.SUPPRESS)


def _instances(ctx: Context, args: argparse.Namespace) -> Iterator[Line]:
    params: dict[str, Any] = {"InstanceIds": args.ids} if args.ids else {}
    for instance in all_items(
        ctx.client(), "describe_auto_scaling_instances", "AutoScalingInstances", **params
    ):
        yield instance_line(instance)


COMMANDS = (
    Command(
        "euscale-describe-scaling-activities",
        "Describe past and current auto-scaling activities",
        "autoscaling",
        _activities_arguments,
        _activities,
    ),
    Command(
        "euscale-describe-auto-scaling-instances",
        "Describe instances in auto-scaling groups",
        "autoscaling",
        _instances_arguments,
        _instances,
    ),
)
