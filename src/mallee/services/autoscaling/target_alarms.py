"""The CloudWatch alarms a target tracking policy owns, made and deleted through CloudWatch's
PutMetricAlarm and DeleteAlarms as the caller (the internal call), named as AWS names them:
TargetTracking-<group>-AlarmHigh-<uuid> and -AlarmLow-<uuid>, their action the policy's ARN."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from typing import Any

from mallee.api.context import RequestContext
from mallee.api.errors import ServiceError
from mallee.services.autoscaling import errors
from mallee.services.base import Runtime

log = logging.getLogger(__name__)

# Predefined metric -> (namespace, metric name) of AWS/EC2 per group.
PREDEFINED = {
    "ASGAverageCPUUtilization": ("AWS/EC2", "CPUUtilization"),
    "ASGAverageNetworkIn": ("AWS/EC2", "NetworkIn"),
    "ASGAverageNetworkOut": ("AWS/EC2", "NetworkOut"),
    "ALBRequestCountPerTarget": ("AWS/ApplicationELB", "RequestCountPerTarget"),
}
# AWS's: scale out after 3 one-minute breaches, scale in after 15 at under 90% of the target.
HIGH_PERIODS = 3
LOW_PERIODS = 15
LOW_FRACTION = 0.9


def metric(group: str, config: dict[str, Any]) -> dict[str, Any]:
    """Namespace, MetricName, Dimensions and Statistic the alarms watch."""
    spec = config.get("PredefinedMetricSpecification")
    custom = config.get("CustomizedMetricSpecification")
    if spec:
        kind = str(spec.get("PredefinedMetricType") or "")
        if kind not in PREDEFINED:
            raise errors.validation(f"Unsupported predefined metric type: {kind}")
        namespace, name = PREDEFINED[kind]
        if kind == "ALBRequestCountPerTarget":
            label = str(spec.get("ResourceLabel") or "")
            if not label:
                raise errors.validation("ResourceLabel is required for ALBRequestCountPerTarget")
            dims = [{"Name": "TargetGroup", "Value": label.split("/targetgroup/")[-1]}]
            return {
                "Namespace": namespace,
                "MetricName": name,
                "Dimensions": dims,
                "Statistic": "Sum",
            }
        dims = [{"Name": "AutoScalingGroupName", "Value": group}]
        return {
            "Namespace": namespace,
            "MetricName": name,
            "Dimensions": dims,
            "Statistic": "Average",
        }
    if custom:
        if custom.get("Metrics"):
            raise errors.validation("Metric math target tracking is not supported")
        if not custom.get("Namespace") or not custom.get("MetricName"):
            raise errors.validation("CustomizedMetricSpecification needs MetricName and Namespace")
        return {
            "Namespace": str(custom["Namespace"]),
            "MetricName": str(custom["MetricName"]),
            "Dimensions": list(custom.get("Dimensions") or []),
            "Statistic": str(custom.get("Statistic") or "Average"),
        }
    raise errors.validation(
        "Either PredefinedMetricSpecification or CustomizedMetricSpecification is required"
    )


def create(
    rt: Runtime, ctx: RequestContext, group: str, policy_arn: str, config: dict[str, Any]
) -> list[str]:
    """Makes the policy's alarms; their names. A refusal deletes what it made."""
    watched = metric(group, config)
    target = float(config["TargetValue"])
    made: list[str] = []
    plans = [("AlarmHigh", "GreaterThanThreshold", target, HIGH_PERIODS)]
    if not config.get("DisableScaleIn"):
        plans.append(("AlarmLow", "LessThanThreshold", target * LOW_FRACTION, LOW_PERIODS))
    try:
        for suffix, comparison, threshold, periods in plans:
            name = f"TargetTracking-{group}-{suffix}-{uuid.uuid4()}"
            rt.calls.call(
                "cloudwatch",
                "PutMetricAlarm",
                {
                    "AlarmName": name,
                    "AlarmDescription": f"DO NOT EDIT OR DELETE. For TargetTrackingScaling "
                    f"policy {policy_arn}.",
                    **watched,
                    "Period": 60,
                    "EvaluationPeriods": periods,
                    "Threshold": threshold,
                    "ComparisonOperator": comparison,
                    "AlarmActions": [policy_arn],
                },
                principal=ctx.principal,
            )
            made.append(name)
    except ServiceError:
        delete(rt, ctx, made)
        raise
    return made


def delete(rt: Runtime, ctx: RequestContext, names: Sequence[str]) -> None:
    """Deletes the alarms a policy made (gone already is fine: the caller may have)."""
    if not names:
        return
    try:
        rt.calls.call(
            "cloudwatch", "DeleteAlarms", {"AlarmNames": list(names)}, principal=ctx.principal
        )
    except ServiceError as err:
        # The policy goes either way, as AWS deletes it even when its alarms are refused.
        log.warning("deleting target tracking alarms %s: %s", names, err)
