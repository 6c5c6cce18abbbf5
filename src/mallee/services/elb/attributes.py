"""ConfigureHealthCheck, DescribeLoadBalancerAttributes and ModifyLoadBalancerAttributes
(cross-zone balancing, connection draining, idle timeout, access logs)."""

from __future__ import annotations

from typing import Any

from mallee.api.context import RequestContext
from mallee.services.base import Operations, Params, Result, Runtime
from mallee.services.elb import checks, errors, rows
from mallee.store.tables.elb import ElbLoadBalancer, bump_elb

# AWS: access logs are published every 5 or 60 minutes.
EMIT_INTERVALS = (5, 60)


def configure_health_check(rt: Runtime, ctx: RequestContext, params: Params) -> Result:
    check = checks.health_check(params.get("HealthCheck"))
    with rt.store.session() as s:
        lb = rows.named(s, ctx, params)
        lb.hc_target, lb.hc_interval, lb.hc_timeout = check.target, check.interval, check.timeout
        lb.hc_unhealthy, lb.hc_healthy = check.unhealthy, check.healthy
        bump_elb(s)
    return {
        "HealthCheck": {
            "Target": check.target,
            "Interval": check.interval,
            "Timeout": check.timeout,
            "UnhealthyThreshold": check.unhealthy,
            "HealthyThreshold": check.healthy,
        }
    }


def attributes_out(lb: ElbLoadBalancer) -> dict[str, Any]:
    access_log: dict[str, Any] = {"Enabled": lb.access_log_enabled}
    if lb.access_log_bucket:
        access_log.update(
            S3BucketName=lb.access_log_bucket,
            EmitInterval=lb.access_log_interval,
            S3BucketPrefix=lb.access_log_prefix,
        )
    return {
        "CrossZoneLoadBalancing": {"Enabled": lb.cross_zone},
        "AccessLog": access_log,
        "ConnectionDraining": {"Enabled": lb.draining_enabled, "Timeout": lb.draining_timeout},
        "ConnectionSettings": {"IdleTimeout": lb.idle_timeout},
    }


def _enabled(raw: dict[str, Any], what: str) -> bool:
    value = raw.get("Enabled")
    if not isinstance(value, bool):
        raise errors.validation(f"{what}.Enabled is required")
    return value


def _access_log(lb: ElbLoadBalancer, raw: dict[str, Any]) -> None:
    enabled = _enabled(raw, "AccessLog")
    bucket = str(raw.get("S3BucketName") or "")
    interval = raw.get("EmitInterval")
    if interval is not None and interval not in EMIT_INTERVALS:
        raise errors.validation("AccessLog.EmitInterval must be 5 or 60")
    if enabled and not (bucket or lb.access_log_bucket):
        raise errors.validation("AccessLog.S3BucketName is required when access logs are enabled")
    lb.access_log_enabled = enabled
    if bucket:
        lb.access_log_bucket = bucket
    if interval is not None:
        lb.access_log_interval = int(interval)
    if raw.get("S3BucketPrefix") is not None:
        lb.access_log_prefix = str(raw["S3BucketPrefix"])


def _apply(lb: ElbLoadBalancer, attrs: dict[str, Any]) -> None:
    if attrs.get("AdditionalAttributes"):
        key = str(attrs["AdditionalAttributes"][0].get("Key") or "")
        raise errors.attribute_not_found(f"The load balancer attribute {key} is not supported")
    if "CrossZoneLoadBalancing" in attrs:
        lb.cross_zone = _enabled(attrs["CrossZoneLoadBalancing"], "CrossZoneLoadBalancing")
    if "ConnectionDraining" in attrs:
        raw = attrs["ConnectionDraining"]
        lb.draining_enabled = _enabled(raw, "ConnectionDraining")
        if raw.get("Timeout") is not None:
            lb.draining_timeout = checks.bounded(
                raw["Timeout"], "ConnectionDraining.Timeout", 1, 3600
            )
    if "ConnectionSettings" in attrs:
        lb.idle_timeout = checks.bounded(
            attrs["ConnectionSettings"].get("IdleTimeout"),
            "ConnectionSettings.IdleTimeout",
            1,
            4000,
        )
    if "AccessLog" in attrs:
        _access_log(lb, attrs["AccessLog"])


def modify_load_balancer_attributes(rt: Runtime, ctx: RequestContext, params: Params) -> Result:
    attrs = dict(params.get("LoadBalancerAttributes") or {})
    with rt.store.session() as s:
        lb = rows.named(s, ctx, params)
        _apply(lb, attrs)
        bump_elb(s)
        full, name = attributes_out(lb), lb.name
    # AWS answers the attributes the request set.
    given = {k: v for k, v in full.items() if k in attrs}
    return {"LoadBalancerName": name, "LoadBalancerAttributes": given}


def describe_load_balancer_attributes(rt: Runtime, ctx: RequestContext, params: Params) -> Result:
    with rt.store.read() as s:
        lb = rows.named(s, ctx, params)
        return {"LoadBalancerAttributes": attributes_out(lb)}


OPERATIONS: Operations = {
    "ConfigureHealthCheck": configure_health_check,
    "ModifyLoadBalancerAttributes": modify_load_balancer_attributes,
    "DescribeLoadBalancerAttributes": describe_load_balancer_attributes,
}
