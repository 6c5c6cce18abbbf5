"""euca-describe-instance-types (the INSTANCETYPE table) and euca-describe-availability-zones."""

from __future__ import annotations

import argparse
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from mallee.euca import args as opts
from mallee.euca.command import Command, Context, Line
from mallee.euca.ec2_lines import zone_row
from mallee.euca.paging import all_items

VERBOSE = "verbose"
# A verbose zone listing's row for one type: "|- m1.small", "0008 / 0010   1    256     5".
_CAPACITY = re.compile(r"\s*(\d+)\s*/\s*(\d+)\b.*")


@dataclass(frozen=True, slots=True)
class TypeRow:
    name: str
    cpu: int
    memory: int
    disk: int
    available: int = 0
    total: int = 0


def type_row(t: dict[str, Any]) -> TypeRow:
    return TypeRow(
        name=str(t["InstanceType"]),
        cpu=int((t.get("VCpuInfo") or {}).get("DefaultVCpus") or 0),
        memory=int((t.get("MemoryInfo") or {}).get("SizeInMiB") or 0),
        disk=int((t.get("InstanceStorageInfo") or {}).get("TotalSizeInGB") or 0),
    )


def type_table(rows: list[TypeRow], capacity: bool = False) -> list[str]:
    """The table as Eucalyptus prints it: INSTANCETYPE, a tab, then aligned columns."""
    header = {"name": "Name", "cpu": "CPUs", "memory": "Memory (MB)", "disk": "Disk (GB)"}
    header |= {"used": "Used", "total": "Total", "pct": "Used %"}
    cells = [header]
    for r in rows:
        used = r.total - r.available
        pct = f"{used / r.total:.0%}" if r.total else ""
        cells.append(
            {"name": r.name, "cpu": str(r.cpu), "memory": str(r.memory), "disk": str(r.disk)}
            | {"used": str(used), "total": str(r.total), "pct": pct}
        )
    w = {k: max(len(c[k]) for c in cells) for k in header}
    lines = []
    for c in cells:
        text = (
            f"{c['name']:<{w['name']}}  {c['cpu']:>{w['cpu']}}  "
            f"{c['memory']:>{w['memory']}}  {c['disk']:>{w['disk']}}"
        )
        if capacity:
            text += (
                f"  {c['used']:>{w['used']}} / {c['total']:>{w['total']}}  {c['pct']:>{w['pct']}}"
            )
        lines.append("INSTANCETYPE\t" + text)
    return lines


def zone_capacity(zones: list[dict[str, Any]]) -> dict[str, dict[str, tuple[int, int]]]:
    """zone -> type -> (available, max), from the admin's verbose zone listing."""
    found: dict[str, dict[str, tuple[int, int]]] = {}
    zone = ""
    for row in zones:
        name = str(row.get("ZoneName") or "")
        if not name.startswith("|- "):
            zone = name
            found.setdefault(zone, {})
            continue
        match = _CAPACITY.fullmatch(str(row.get("State") or ""))
        if match:
            found[zone][name[3:]] = (int(match.group(1)), int(match.group(2)))
    return found


def _with_capacity(rows: list[TypeRow], capacity: dict[str, tuple[int, int]]) -> list[TypeRow]:
    out = []
    for r in rows:
        free, most = capacity.get(r.name, (0, 0))
        out.append(TypeRow(r.name, r.cpu, r.memory, r.disk, free, most))
    return out


def _types_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("type", nargs="*", metavar="INSTANCETYPE", help="limit to these types")
    p.add_argument("--show-capacity", action="store_true", help="used and total per type")
    p.add_argument("--by-zone", action="store_true", help="capacity per availability zone")


def _types(ctx: Context, args: argparse.Namespace) -> Iterator[Line]:
    params = {"InstanceTypes": args.type} if args.type else {}
    client = ctx.client()
    rows = [
        type_row(t) for t in all_items(client, "describe_instance_types", "InstanceTypes", **params)
    ]
    if not (args.show_capacity or args.by_zone):
        yield from type_table(rows)
        return
    verbose = client.describe_availability_zones(ZoneNames=[VERBOSE]).get("AvailabilityZones")
    by_zone = zone_capacity(verbose or [])
    if args.by_zone:
        for zone, capacity in sorted(by_zone.items()):
            yield ["AVAILABILITYZONE", zone]
            yield from type_table(_with_capacity(rows, capacity), capacity=True)
            yield ""
        return
    totals: dict[str, tuple[int, int]] = {}
    for capacity in by_zone.values():
        for name, (free, most) in capacity.items():
            have = totals.get(name, (0, 0))
            totals[name] = (have[0] + free, have[1] + most)
    yield from type_table(_with_capacity(rows, totals), capacity=True)


def _zones_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "zone", nargs="*", metavar="ZONE", help='limit to these zones ("verbose": capacity)'
    )
    opts.add_filters(p)


def _zones(ctx: Context, args: argparse.Namespace) -> Iterator[Line]:
    params: dict[str, Any] = {}
    if args.zone:
        params["ZoneNames"] = args.zone
    if args.filter:
        params["Filters"] = opts.filters(args.filter)
    for zone in ctx.client().describe_availability_zones(**params).get("AvailabilityZones") or []:
        yield zone_row(zone)


DESCRIBE_INSTANCE_TYPES = Command(
    "euca-describe-instance-types",
    "[Eucalyptus] Show instance types",
    "ec2",
    _types_arguments,
    _types,
)
DESCRIBE_AVAILABILITY_ZONES = Command(
    "euca-describe-availability-zones", "Show availability zones", "ec2", _zones_arguments, _zones
)
