"""EC2 regions and availability zones (one region; the zones are the node partitions).

Eucalyptus' verbose listing: when the cloud admin names the zone "verbose", each zone is
followed by a "|- vm types" header and one line per instance type whose state reads
"free / max  cpu   ram  disk", formatted as Eucalyptus did ("%04d / %04d  %2d   %4d  %4d").
Other callers' "verbose" is dropped, as Eucalyptus dropped it for non-admins.
"""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy import select

from mallee.api.context import RequestContext
from mallee.services.base import Operations, Params, Result, Runtime
from mallee.services.ec2 import errors
from mallee.services.ec2.capacity import TypeCapacity, zone_capacity
from mallee.services.ec2.filters import lookup, matches, parse_filters
from mallee.store.tables.compute import NodeRow

VERBOSE = "verbose"
HEADER = "free / max   cpu   ram  disk"

_REGION_FILTERS = {
    "region-name": lambda r: r["RegionName"],
    "endpoint": lambda r: r["Endpoint"],
    "opt-in-status": lambda r: r["OptInStatus"],
}
_ZONE_FILTERS = {
    "zone-name": lambda z: z["ZoneName"],
    "zone-id": lambda z: z["ZoneId"],
    "region-name": lambda z: z["RegionName"],
    "state": lambda z: z["State"],
    "zone-type": lambda z: z["ZoneType"],
    "group-name": lambda z: z["GroupName"],
    "opt-in-status": lambda z: z["OptInStatus"],
    "message": lambda z: [m["Message"] for m in z["Messages"]],
}


def capacity_line(c: TypeCapacity) -> str:
    """One type's verbose state, byte for byte as Eucalyptus printed it."""
    return f"{c.free:04d} / {c.max:04d}  {c.cores:2d}   {c.memory_mb:4d}  {c.disk_gb:4d}"


def describe_regions(rt: Runtime, ctx: RequestContext, params: Params) -> Result:
    st = rt.settings
    region = {
        "RegionName": st.region,
        "Endpoint": f"http://{st.host}:{st.port}/services/compute",
        "OptInStatus": "opt-in-not-required",
    }
    unknown = [str(r) for r in params.get("RegionNames") or [] if r != st.region]
    if unknown:
        raise errors.invalid_region(unknown[0])
    filters = parse_filters(params.get("Filters"), _REGION_FILTERS)
    keep = matches(filters, lookup(_REGION_FILTERS, region), {})
    return {"Regions": [region] if keep else []}


def _az_names(rt: Runtime) -> list[str]:
    with rt.store.read() as s:
        found = set(s.scalars(select(NodeRow.zone)).all())
    return sorted(found | {rt.settings.zone})


def _az_item(rt: Runtime, name: str) -> dict[str, Any]:
    region = rt.settings.region
    return {
        "ZoneName": name,
        "ZoneId": name,
        "State": "available",
        "RegionName": region,
        "ZoneType": "availability-zone",
        "OptInStatus": "opt-in-not-required",
        "GroupName": region,
        "NetworkBorderGroup": region,
        "Messages": [],
    }


def describe_availability_zones(rt: Runtime, ctx: RequestContext, params: Params) -> Result:
    names = [str(n) for n in params.get("ZoneNames") or []]
    verbose = VERBOSE in names and ctx.principal.is_cloud_admin
    names = [n for n in names if n != VERBOSE]
    zones = _az_names(rt)
    unknown = [n for n in names if n not in zones]
    if unknown:
        raise errors.invalid_zone(unknown[0])
    filters = parse_filters(params.get("Filters"), _ZONE_FILTERS)
    out: list[dict[str, Any]] = []
    for name in names or zones:
        item = _az_item(rt, name)
        if not matches(filters, lookup(_ZONE_FILTERS, item), {}):
            continue
        out.append(item)
        if verbose:
            out.extend(_az_capacity_lines(rt, name))
    return {"AvailabilityZones": out}


def _az_capacity_lines(rt: Runtime, zone: str) -> list[dict[str, Any]]:
    with rt.store.read() as s:
        caps = zone_capacity(
            s, zone, now=time.time(), heartbeat_timeout=rt.settings.heartbeat_timeout
        )
    lines = [("|- vm types", HEADER)] + [(f"|- {c.name}", capacity_line(c)) for c in caps]
    region = rt.settings.region
    return [{"ZoneName": n, "State": state, "RegionName": region} for n, state in lines]


OPERATIONS: Operations = {
    "DescribeAvailabilityZones": describe_availability_zones,
    "DescribeRegions": describe_regions,
}
