"""The console's pages, one module per page family, each listing its routes in ROUTES."""

from __future__ import annotations

from mallee.console.context import Route
from mallee.console.pages import (
    addresses,
    admin,
    alarm_create,
    alarm_detail,
    alarms,
    auth,
    buckets,
    dashboard,
    dashboards,
    iam,
    images,
    instance_monitoring,
    instances,
    keypairs,
    security_groups,
    snapshots,
    volumes,
    vpc_detail,
    vpc_parts,
    vpcs,
)

ROUTES: list[Route] = [
    *auth.ROUTES,
    *dashboard.ROUTES,
    *instances.ROUTES,
    *instance_monitoring.ROUTES,
    *images.ROUTES,
    *volumes.ROUTES,
    *snapshots.ROUTES,
    *keypairs.ROUTES,
    *security_groups.ROUTES,
    *addresses.ROUTES,
    *vpcs.ROUTES,
    *vpc_detail.ROUTES,
    *vpc_parts.ROUTES,
    *buckets.ROUTES,
    *alarms.ROUTES,
    *alarm_create.ROUTES,
    *alarm_detail.ROUTES,
    *dashboards.ROUTES,
    *iam.ROUTES,
    *admin.ROUTES,
]
