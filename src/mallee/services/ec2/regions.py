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
from mallee.api.errors import ServiceError
from mallee.services.base import Params, Provider, Result
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


class RegionsApi(Provider):
    def describe_regions(self, ctx: RequestContext, params: Params) -> Result:
        st = self.runtime.settings
        region = {
            "RegionName": st.region,
            "Endpoint": f"http://{st.host}:{st.port}/services/compute",
            "OptInStatus": "opt-in-not-required",
        }
        unknown = [str(r) for r in params.get("RegionNames") or [] if r != st.region]
        if unknown:
            raise ServiceError("InvalidParameterValue", f"Invalid region: {unknown[0]}", 400)
        filters = parse_filters(params.get("Filters"), _REGION_FILTERS)
        keep = matches(filters, lookup(_REGION_FILTERS, region), {})
        return {"Regions": [region] if keep else []}

    def _az_names(self) -> list[str]:
        with self.store.read() as s:
            found = set(s.scalars(select(NodeRow.zone)).all())
        return sorted(found | {self.runtime.settings.zone})

    def _az_item(self, name: str) -> dict[str, Any]:
        region = self.runtime.settings.region
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

    def describe_availability_zones(self, ctx: RequestContext, params: Params) -> Result:
        names = [str(n) for n in params.get("ZoneNames") or []]
        verbose = VERBOSE in names and ctx.principal.is_cloud_admin
        names = [n for n in names if n != VERBOSE]
        zones = self._az_names()
        unknown = [n for n in names if n not in zones]
        if unknown:
            raise ServiceError(
                "InvalidParameterValue", f"Invalid availability zone: [{unknown[0]}]", 400
            )
        filters = parse_filters(params.get("Filters"), _ZONE_FILTERS)
        out: list[dict[str, Any]] = []
        for name in names or zones:
            item = self._az_item(name)
            if not matches(filters, lookup(_ZONE_FILTERS, item), {}):
                continue
            out.append(item)
            if verbose:
                out.extend(self._az_capacity_lines(name))
        return {"AvailabilityZones": out}

    def _az_capacity_lines(self, zone: str) -> list[dict[str, Any]]:
        with self.store.read() as s:
            caps = zone_capacity(
                s, zone, now=time.time(), heartbeat_timeout=self.runtime.settings.heartbeat_timeout
            )
        lines = [("|- vm types", HEADER)] + [(f"|- {c.name}", capacity_line(c)) for c in caps]
        region = self.runtime.settings.region
        return [{"ZoneName": n, "State": state, "RegionName": region} for n, state in lines]
