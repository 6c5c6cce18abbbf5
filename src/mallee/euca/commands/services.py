"""euca-describe-services: the service registry, one SERVICE line per service."""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from typing import Any

from mallee.euca.command import Command, Context, Line

Obj = dict[str, Any]


def service_row(status: Obj) -> list[object]:
    """SERVICE type partition name state epoch arn, as Eucalyptus 4 prints it.

    Eucalyptus gives a service that lives in no zone its own name as partition.
    """
    sid: Obj = status.get("ServiceId") or {}
    return [
        "SERVICE",
        sid.get("Type"),
        sid.get("Partition") or sid.get("Name"),
        sid.get("Name"),
        status.get("LocalState"),
        status.get("LocalEpoch"),
        sid.get("FullName"),
    ]


def event_rows(status: Obj, stacks: bool) -> list[list[object]]:
    rows: list[list[object]] = []
    for detail in status.get("StatusDetails") or []:
        rows.append(
            [
                "SERVICEEVENT",
                detail.get("Uuid"),
                detail.get("ServiceFullName"),
                detail.get("Severity"),
                detail.get("Timestamp"),
                detail.get("Message"),
            ]
        )
        if stacks and detail.get("StackTrace"):
            rows.append(["SERVICEEVENT", detail.get("Uuid"), "STACK", detail.get("StackTrace")])
    return rows


def _arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("name", nargs="*", metavar="SERVICE", help="limit results to these services")
    p.add_argument("-A", "--all", action="store_true", help="include every service")
    p.add_argument("--system-internal", action="store_true", help="include internal services")
    p.add_argument("--user-services", action="store_true", help="only user-facing services")
    p.add_argument("-T", "--filter-type", metavar="TYPE", help="only services of this type")
    p.add_argument("-H", "--filter-host", metavar="HOST", help="only services on this host")
    p.add_argument("-F", "--filter-state", metavar="STATE", help="only services in this state")
    p.add_argument("-P", "--filter-partition", metavar="ZONE", help="only services in this zone")
    p.add_argument("-E", "--events", action="store_true", help="show service events")
    p.add_argument("--events-verbose", action="store_true", help="events with stack traces")


def _run(ctx: Context, args: argparse.Namespace) -> Iterator[Line]:
    params: Obj = {
        "ListAll": args.all,
        "ListInternal": args.system_internal,
        "ListUserServices": args.user_services,
        "ShowEvents": args.events or args.events_verbose,
        "ShowEventStacks": args.events_verbose,
    }
    for option, key in (
        ("filter_type", "ByServiceType"),
        ("filter_host", "ByHost"),
        ("filter_state", "ByState"),
        ("filter_partition", "ByPartition"),
    ):
        if getattr(args, option):
            params[key] = getattr(args, option)
    if args.name:
        params["ServiceName"] = args.name
    for status in ctx.client().describe_services(**params).get("ServiceStatuses") or []:
        yield service_row(status)
        yield from event_rows(status, args.events_verbose)


DESCRIBE_SERVICES = Command(
    name="euca-describe-services",
    help="Show the cloud's services and their states",
    service="empyrean",
    arguments=_arguments,
    run=_run,
)
