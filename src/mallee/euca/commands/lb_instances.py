"""euca2ools' commands for a load balancer's instances: eulb-register-instances-with-lb,
eulb-deregister-instances-from-lb and eulb-describe-instance-health."""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from typing import Any

from mallee.euca.command import Command, Context, Line
from mallee.euca.commands import elb_args


def _change_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("name", metavar="ELB", help="name of the load balancer to modify (required)")
    p.add_argument(
        "--instances", required=True, type=elb_args.instances, metavar="INSTANCE1,INSTANCE2,...",
        help="IDs of the instances (required)",
    )  # fmt: skip


def _instance_lines(answer: dict[str, Any]) -> Iterator[Line]:
    """What the load balancer has registered after the change, one INSTANCE line each."""
    for instance in answer.get("Instances") or []:
        yield ["INSTANCE", instance.get("InstanceId")]


def _register(ctx: Context, args: argparse.Namespace) -> Iterator[Line]:
    yield from _instance_lines(
        ctx.client().register_instances_with_load_balancer(
            LoadBalancerName=args.name, Instances=args.instances
        )
    )


def _deregister(ctx: Context, args: argparse.Namespace) -> Iterator[Line]:
    yield from _instance_lines(
        ctx.client().deregister_instances_from_load_balancer(
            LoadBalancerName=args.name, Instances=args.instances
        )
    )


def _health_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("name", metavar="ELB", help="name of the load balancer (required)")
    p.add_argument(
        "--instances", type=elb_args.instances, metavar="INSTANCE1,INSTANCE2,...",
        help="limit results to specific instances",
    )  # fmt: skip
    p.add_argument("--show-long", action="store_true", help="show all of the instances' info")


def _health(ctx: Context, args: argparse.Namespace) -> Iterator[Line]:
    params: dict[str, Any] = {"LoadBalancerName": args.name}
    if args.instances:
        params["Instances"] = args.instances
    for state in ctx.client().describe_instance_health(**params).get("InstanceStates") or []:
        bits: list[object] = ["INSTANCE", state.get("InstanceId"), state.get("State")]
        if args.show_long:
            bits += [state.get("Description"), state.get("ReasonCode")]
        yield bits


COMMANDS = (
    Command(
        "eulb-register-instances-with-lb",
        "Add one or more instances to a load balancer",
        "elb",
        _change_arguments,
        _register,
    ),
    Command(
        "eulb-deregister-instances-from-lb",
        "Remove one or more instances from a load balancer",
        "elb",
        _change_arguments,
        _deregister,
    ),
    Command(
        "eulb-describe-instance-health",
        "Show the state of instances registered with a load balancer",
        "elb",
        _health_arguments,
        _health,
    ),
)
