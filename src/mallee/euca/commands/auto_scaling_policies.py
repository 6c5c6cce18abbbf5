"""euca2ools' scaling policy commands: euscale-put-scaling-policy (which prints the policy's
ARN, the alarm action that runs it), -execute-policy, -describe-policies and -delete-policy."""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from typing import Any

from mallee.euca.command import Command, Context, Line
from mallee.euca.commands import auto_scaling_args as asa
from mallee.euca.paging import all_items

ADJUSTMENT_TYPES = ("ChangeInCapacity", "ExactCapacity", "PercentChangeInCapacity")


def _put_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("name", metavar="POLICY", help="name of the policy to create or update")
    p.add_argument(
        "-g",
        "--auto-scaling-group",
        required=True,
        metavar="ASGROUP",
        help="name of the auto-scaling group the policy is for (required)",
    )
    p.add_argument(
        "-a",
        "--adjustment",
        required=True,
        type=int,
        metavar="SCALE",
        help="amount to scale the group by; a negative value, as in "
        '"--adjustment=-1", decreases capacity (required)',
    )
    p.add_argument(
        "-t",
        "--type",
        required=True,
        choices=ADJUSTMENT_TYPES,
        help="whether the adjustment is the new size, or a number or percentage "
        "to add to the current one (required)",
    )
    p.add_argument(
        "--cooldown",
        type=int,
        metavar="SECONDS",
        help="seconds after an activity during which later ones do not run",
    )
    p.add_argument(
        "-s",
        "--min-adjustment-step",
        type=int,
        metavar="PERCENT",
        help="for PercentChangeInCapacity: change capacity by at least this much",
    )
    p.add_argument(
        "--min-adjustment-magnitude",
        type=int,
        metavar="COUNT",
        help="for PercentChangeInCapacity: the API's newer name for -s",
    )


def _put(ctx: Context, args: argparse.Namespace) -> Iterator[Line]:
    params = asa.put(
        {
            "PolicyName": args.name,
            "AutoScalingGroupName": args.auto_scaling_group,
            "ScalingAdjustment": args.adjustment,
            "AdjustmentType": args.type,
        },
        Cooldown=args.cooldown,
        MinAdjustmentStep=args.min_adjustment_step,
        MinAdjustmentMagnitude=args.min_adjustment_magnitude,
    )
    answer = ctx.client().put_scaling_policy(**params)
    yield str(answer.get("PolicyARN") or "")


def _execute_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("name", metavar="POLICY", help="name or ARN of the policy to run (required)")
    p.add_argument(
        "-g",
        "--auto-scaling-group",
        metavar="ASGROUP",
        help="name or ARN of the auto-scaling group",
    )
    asa.add_cooldown_switches(p)


def _execute(ctx: Context, args: argparse.Namespace) -> Iterator[Line]:
    params = asa.put(
        {"PolicyName": args.name},
        AutoScalingGroupName=args.auto_scaling_group,
        HonorCooldown=args.honor_cooldown,
    )
    ctx.client().execute_policy(**params)
    yield from ()


def policy_line(policy: dict[str, Any], long: bool) -> list[object]:
    """euca2ools' SCALING-POLICY line (DescribePolicies.print_result)."""
    bits: list[object] = [
        "SCALING-POLICY",
        policy.get("AutoScalingGroupName"),
        policy.get("PolicyName"),
        policy.get("ScalingAdjustment"),
    ]
    if long:
        step = policy.get("MinAdjustmentStep")
        bits.append(step if step is not None else policy.get("MinAdjustmentMagnitude"))
    bits.append(policy.get("AdjustmentType"))
    if long:
        bits.append(policy.get("Cooldown"))
    bits.append(policy.get("PolicyARN"))
    return bits


def _describe_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("names", nargs="*", metavar="POLICY", help="limit results to these policies")
    p.add_argument("-g", "--auto-scaling-group", metavar="ASGROUP")
    p.add_argument("--show-long", action="store_true", help="show all of the policies' info")


def _describe(ctx: Context, args: argparse.Namespace) -> Iterator[Line]:
    params = asa.put(
        {"PolicyNames": args.names} if args.names else {},
        AutoScalingGroupName=args.auto_scaling_group,
    )
    for policy in all_items(ctx.client(), "describe_policies", "ScalingPolicies", **params):
        yield policy_line(policy, args.show_long)


def _delete_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("name", metavar="POLICY", help="name of the policy to delete (required)")
    p.add_argument(
        "-g",
        "--auto-scaling-group",
        required=True,
        metavar="ASGROUP",
        help="name of the auto-scaling group the policy is for (required)",
    )
    p.add_argument("-f", "--force", action="store_true", help=argparse.SUPPRESS)


def _delete(ctx: Context, args: argparse.Namespace) -> Iterator[Line]:
    ctx.client().delete_policy(PolicyName=args.name, AutoScalingGroupName=args.auto_scaling_group)
    yield from ()


COMMANDS = (
    Command(
        "euscale-put-scaling-policy",
        "Create or update an auto-scaling group's scaling policy",
        "autoscaling",
        _put_arguments,
        _put,
        dash_values=frozenset({"-a", "--adjustment"}),
    ),
    Command(
        "euscale-execute-policy",
        "Manually run an auto-scaling policy",
        "autoscaling",
        _execute_arguments,
        _execute,
    ),
    Command(
        "euscale-describe-policies",
        "Describe auto-scaling policies",
        "autoscaling",
        _describe_arguments,
        _describe,
    ),
    Command(
        "euscale-delete-policy",
        "Delete a scaling policy",
        "autoscaling",
        _delete_arguments,
        _delete,
    ),
)
