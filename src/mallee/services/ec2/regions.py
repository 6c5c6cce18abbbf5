"""EC2 regions and availability zones (one region; the zones are the node partitions)."""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy import select

from mallee.api.context import RequestContext
from mallee.api.errors import ServiceError
from mallee.services.base import Params, Provider, Result
from mallee.services.ec2.capacity import zone_capacity
from mallee.services.ec2.filters import lookup, matches, parse_filters
from mallee.store.tables.compute import NodeRow

_REGION_FILTERS = {"region-name": lambda r: r["RegionName"], "endpoint": lambda r: r["Endpoint"]}
_ZONE_FILTERS = {
    "zone-name": lambda z: z["ZoneName"],
    "region-name": lambda z: z["RegionName"],
    "state": lambda z: z["State"],
    "zone-type": lambda z: z["ZoneType"],
}


class RegionsApi(Provider):
    def describe_regions(self, ctx: RequestContext, params: Params) -> Result:
        st = self.runtime.settings
        region = {
            "RegionName": st.region,
            "Endpoint": f"http://{st.host}:{st.port}/services/compute",
            "OptInStatus": "opt-in-not-required",
        }
        wanted = params.get("RegionNames") or []
        unknown = [r for r in wanted if r != st.region]
        if unknown:
            raise ServiceError("InvalidParameterValue", f"Invalid region: {unknown[0]}", 400)
        filters = parse_filters(params.get("Filters"), _REGION_FILTERS)
        keep = matches(filters, lookup(_REGION_FILTERS, region), {})
        return {"Regions": [region] if keep else []}

    def _zones(self) -> list[str]:
        with self.store.read() as s:
            found = set(s.scalars(select(NodeRow.zone)).all())
        return sorted(found | {self.runtime.settings.zone})

    def describe_availability_zones(self, ctx: RequestContext, params: Params) -> Result:
        st = self.runtime.settings
        names = [str(n) for n in params.get("ZoneNames") or []]
        verbose = "verbose" in names
        names = [n for n in names if n != "verbose"]
        zones = self._zones()
        unknown = [n for n in names if n not in zones]
        if unknown:
            raise ServiceError(
                "InvalidParameterValue", f"The zone '{unknown[0]}' does not exist", 400
            )
        filters = parse_filters(params.get("Filters"), _ZONE_FILTERS)
        out: list[dict[str, Any]] = []
        for zone in names or zones:
            item = {
                "ZoneName": zone,
                "ZoneId": zone,
                "State": "available",
                "RegionName": st.region,
                "ZoneType": "availability-zone",
                "OptInStatus": "opt-in-not-required",
                "GroupName": st.region,
                "Messages": [],
            }
            if not matches(filters, lookup(_ZONE_FILTERS, item), {}):
                continue
            out.append(item)
            if verbose:
                out.extend(self._capacity_lines(zone))
        return {"AvailabilityZones": out}

    def _capacity_lines(self, zone: str) -> list[dict[str, Any]]:
        """Eucalyptus' verbose listing: one pseudo-zone per type, "free / max cpu ram disk"."""
        with self.store.read() as s:
            caps = zone_capacity(
                s, zone, now=time.time(), heartbeat_timeout=self.runtime.settings.heartbeat_timeout
            )
        lines = [{"ZoneName": "|- vm types", "ZoneState": "free / max   cpu   ram  disk"}]
        for c in caps:
            state = f"{c.free:04d} / {c.max:04d}   {c.cores:3d}  {c.memory_mb:5d}  {c.disk_gb:4d}"
            lines.append({"ZoneName": f"|- {c.name}", "ZoneState": state})
        return [
            {
                "ZoneName": line["ZoneName"],
                "State": line["ZoneState"],
                "RegionName": self.runtime.settings.region,
            }
            for line in lines
        ]
