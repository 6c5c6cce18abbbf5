"""euca2ools' euscale-suspend-processes and euscale-resume-processes: a group's processes
(Launch, Terminate, AlarmNotification, ...) stopped and started again; none named means all."""

from __future__ import annotations

import argparse
from collections.abc import Iterator

from mallee.euca.command import Command, Context, Line
from mallee.euca.commands import auto_scaling_args as asa


def _arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("name", metavar="ASGROUP", help="name of the auto-scaling group (required)")
    p.add_argument(
        "--processes",
        type=asa.names,
        metavar="PROCESS1,PROCESS2,...",
        help="auto-scaling processes to change (default: all processes)",
    )


def _params(args: argparse.Namespace) -> dict[str, object]:
    return asa.put({"AutoScalingGroupName": args.name}, ScalingProcesses=args.processes)


def _suspend(ctx: Context, args: argparse.Namespace) -> Iterator[Line]:
    ctx.client().suspend_processes(**_params(args))
    yield from ()


def _resume(ctx: Context, args: argparse.Namespace) -> Iterator[Line]:
    ctx.client().resume_processes(**_params(args))
    yield from ()


COMMANDS = (
    Command(
        "euscale-suspend-processes",
        "Suspend an auto-scaling group's auto-scaling processes",
        "autoscaling",
        _arguments,
        _suspend,
    ),
    Command(
        "euscale-resume-processes",
        "Resume an auto-scaling group's auto-scaling processes",
        "autoscaling",
        _arguments,
        _resume,
    ),
)
