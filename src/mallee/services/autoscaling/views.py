"""AutoScalingGroup and AutoScalingInstanceDetails as the Describe operations answer them: a
page of groups costs one query per child table (instances, tags), whatever its size."""

from __future__ import annotations

import json
from collections.abc import Sequence
from functools import lru_cache
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from mallee.api.protocol.frozen import Frozen
from mallee.identity.clock import aware
from mallee.services.autoscaling import arns
from mallee.services.autoscaling.rows import names
from mallee.store.tables.autoscaling import AsGroup, AsInstance, AsTag

GROUP_TYPE = "auto-scaling-group"
_GONE = ("Terminated", "Detached")
_INSTANCE_COLUMNS = (
    AsInstance.group_id,
    AsInstance.instance_id,
    AsInstance.instance_type,
    AsInstance.zone,
    AsInstance.lifecycle_state,
    AsInstance.health_status,
    AsInstance.protected_from_scale_in,
    AsInstance.launch_configuration_name,
    AsInstance.launch_template,
)


def instance_out(row: Any, group_name: str | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {
        "InstanceId": row.instance_id,
        "InstanceType": row.instance_type,
        "AvailabilityZone": row.zone,
        "LifecycleState": row.lifecycle_state,
        "HealthStatus": row.health_status,
        "ProtectedFromScaleIn": row.protected_from_scale_in,
    }
    if group_name is not None:
        # AutoScalingInstanceDetails spells health in upper case (HEALTHY), as AWS does.
        out["AutoScalingGroupName"] = group_name
        out["HealthStatus"] = row.health_status.upper()
    if row.launch_configuration_name:
        out["LaunchConfigurationName"] = row.launch_configuration_name
    if row.launch_template:
        out["LaunchTemplate"] = _template(row.launch_template)
    return out


def tag_out(group: str, row: Any) -> dict[str, Any]:
    return {
        "ResourceId": group,
        "ResourceType": GROUP_TYPE,
        "Key": row.key,
        "Value": row.value,
        "PropagateAtLaunch": row.propagate_at_launch,
    }


# The columns DescribeAutoScalingGroups reads: plain rows, hashable, so one description is
# built (and, as a Frozen, rendered) per distinct set of values.
GROUP_COLUMNS = (
    AsGroup.id,
    AsGroup.account_id,
    AsGroup.name,
    AsGroup.created_at,
    AsGroup.launch_configuration_name,
    AsGroup.launch_template,
    AsGroup.min_size,
    AsGroup.max_size,
    AsGroup.desired_capacity,
    AsGroup.default_cooldown,
    AsGroup.availability_zones,
    AsGroup.load_balancer_names,
    AsGroup.termination_policies,
    AsGroup.vpc_zone_identifier,
    AsGroup.health_check_type,
    AsGroup.health_check_grace_period,
    AsGroup.new_instances_protected,
    AsGroup.suspended_processes,
    AsGroup.enabled_metrics,
    AsGroup.metrics_granularity,
    AsGroup.status,
)


def describe_groups(s: Session, groups: Sequence[Any], region: str) -> list[Frozen]:
    """AutoScalingGroups of `groups` (rows of GROUP_COLUMNS), in their order: one query per
    child table, whatever the page's size."""
    ids = [g.id for g in groups]
    instances: dict[str, list[Any]] = {}
    tags: dict[str, list[Any]] = {}
    if ids:
        conn = s.connection()
        for row in conn.execute(
            select(*_INSTANCE_COLUMNS)
            .where(AsInstance.group_id.in_(ids), AsInstance.lifecycle_state.not_in(_GONE))
            .order_by(AsInstance.launched_at, AsInstance.instance_id)
        ):
            instances.setdefault(row.group_id, []).append(row)
        for tag in conn.execute(
            select(AsTag.group_id, AsTag.key, AsTag.value, AsTag.propagate_at_launch)
            .where(AsTag.group_id.in_(ids))
            .order_by(AsTag.key)
        ):
            tags.setdefault(tag.group_id, []).append(tag)
    return [
        _group(g, region, tuple(instances.get(g.id, ())), tuple(tags.get(g.id, ()))) for g in groups
    ]


@lru_cache(maxsize=4096)
def _names(text: str) -> tuple[Any, ...]:
    return tuple(tuple(v) if isinstance(v, list) else v for v in names(text))


@lru_cache(maxsize=4096)
def _group(g: Any, region: str, instances: tuple[Any, ...], tags: tuple[Any, ...]) -> Frozen:
    out: dict[str, Any] = {
        "AutoScalingGroupName": g.name,
        "AutoScalingGroupARN": arns.group_arn(region, g.account_id, g.id, g.name),
        "MinSize": g.min_size,
        "MaxSize": g.max_size,
        "DesiredCapacity": g.desired_capacity,
        "DefaultCooldown": g.default_cooldown,
        "AvailabilityZones": list(_names(g.availability_zones)),
        "LoadBalancerNames": list(_names(g.load_balancer_names)),
        "TargetGroupARNs": [],
        "HealthCheckType": g.health_check_type,
        "HealthCheckGracePeriod": g.health_check_grace_period,
        "Instances": [instance_out(i) for i in instances],
        "CreatedTime": aware(g.created_at),
        "SuspendedProcesses": [
            {"ProcessName": name, "SuspensionReason": reason}
            for name, reason in _names(g.suspended_processes)
        ],
        "VPCZoneIdentifier": g.vpc_zone_identifier,
        "EnabledMetrics": [
            {"Metric": m, "Granularity": g.metrics_granularity or "1Minute"}
            for m in _names(g.enabled_metrics)
        ],
        "Tags": [tag_out(g.name, t) for t in tags],
        "TerminationPolicies": list(_names(g.termination_policies)),
        "NewInstancesProtectedFromScaleIn": g.new_instances_protected,
    }
    if g.launch_configuration_name:
        out["LaunchConfigurationName"] = g.launch_configuration_name
    if g.launch_template:
        out["LaunchTemplate"] = _template(g.launch_template)
    if g.status:
        out["Status"] = g.status
    return Frozen(out)


def _template(text: str) -> dict[str, Any]:
    value = json.loads(text or "{}")
    return value if isinstance(value, dict) else {}
