"""CloudWatch (monitoring): the metric operations; the alarm and dashboard modules add their
tables to _TABLES."""

from __future__ import annotations

from typing import ClassVar

from mallee.api.context import RequestContext
from mallee.api.http import HttpRequest
from mallee.services.base import Operations, Provider, operations_of
from mallee.services.cloudwatch import (
    alarm_arns,
    alarm_queries,
    alarm_tags,
    alarms,
    composite_alarms,
    dashboards,
    list_metrics,
    metric_data,
    metric_queries,
    statistics,
)

_TABLES: tuple[Operations, ...] = (
    metric_data.OPERATIONS,
    statistics.OPERATIONS,
    metric_queries.OPERATIONS,
    list_metrics.OPERATIONS,
    alarms.OPERATIONS,
    composite_alarms.OPERATIONS,
    alarm_queries.OPERATIONS,
    alarm_tags.OPERATIONS,
    dashboards.OPERATIONS,
)


class CloudWatchProvider(Provider):
    service: ClassVar[str] = "cloudwatch"
    action_prefix: ClassVar[str] = "cloudwatch"
    operations: ClassVar[Operations] = operations_of(*_TABLES)

    def resources(self, ctx: RequestContext) -> list[str]:
        # Alarms, dashboards and tags are authorized on their ARNs; the metrics on "*" (AWS).
        return alarm_arns.resources(ctx) or ["*"]

    def off_loop(self, request: HttpRequest) -> bool:
        # A gzipped body (botocore compresses PutMetricData past 10 KiB) hides its Action
        # from the chain's look before parsing, and unpacking it is work of its own.
        return "content-encoding" in request.headers

    def condition_keys(self, ctx: RequestContext) -> dict[str, list[str]]:
        # AWS: PutMetricData may be limited to namespaces (cloudwatch:namespace).
        if ctx.operation_name == "PutMetricData" and ctx.params.get("Namespace"):
            return {"cloudwatch:namespace": [str(ctx.params["Namespace"])]}
        return {}
