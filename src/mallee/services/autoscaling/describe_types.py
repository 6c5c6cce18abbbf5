"""The static Describe* answers: adjustment types, process types, termination policy types,
metric collection types, notification types and the account's limits."""

from __future__ import annotations

from sqlalchemy import func, select

from mallee.api.context import RequestContext
from mallee.services.autoscaling import capacity, placement, rows
from mallee.services.base import Operations, Params, Result, Runtime
from mallee.store.tables.autoscaling import AsGroup, AsLaunchConfiguration

PROCESSES = (
    "Launch",
    "Terminate",
    "AddToLoadBalancer",
    "AlarmNotification",
    "AZRebalance",
    "HealthCheck",
    "InstanceRefresh",
    "ReplaceUnhealthy",
    "ScheduledActions",
)
METRICS = (
    "GroupMinSize",
    "GroupMaxSize",
    "GroupDesiredCapacity",
    "GroupInServiceInstances",
    "GroupPendingInstances",
    "GroupStandbyInstances",
    "GroupTerminatingInstances",
    "GroupTotalInstances",
    "GroupInServiceCapacity",
    "GroupPendingCapacity",
    "GroupStandbyCapacity",
    "GroupTerminatingCapacity",
    "GroupTotalCapacity",
)
GRANULARITIES = ("1Minute",)
LIFECYCLE_HOOK_TYPES = (
    "autoscaling:EC2_INSTANCE_LAUNCHING",
    "autoscaling:EC2_INSTANCE_TERMINATING",
)
NOTIFICATION_TYPES = (
    "autoscaling:EC2_INSTANCE_LAUNCH",
    "autoscaling:EC2_INSTANCE_LAUNCH_ERROR",
    "autoscaling:EC2_INSTANCE_TERMINATE",
    "autoscaling:EC2_INSTANCE_TERMINATE_ERROR",
    "autoscaling:TEST_NOTIFICATION",
)


def describe_adjustment_types(rt: Runtime, ctx: RequestContext, params: Params) -> Result:
    return {"AdjustmentTypes": [{"AdjustmentType": t} for t in capacity.ADJUSTMENT_TYPES]}


def describe_scaling_process_types(rt: Runtime, ctx: RequestContext, params: Params) -> Result:
    return {"Processes": [{"ProcessName": p} for p in PROCESSES]}


def describe_termination_policy_types(rt: Runtime, ctx: RequestContext, params: Params) -> Result:
    return {"TerminationPolicyTypes": list(placement.TERMINATION_POLICIES)}


def describe_metric_collection_types(rt: Runtime, ctx: RequestContext, params: Params) -> Result:
    return {
        "Metrics": [{"Metric": m} for m in METRICS],
        "Granularities": [{"Granularity": g} for g in GRANULARITIES],
    }


def describe_auto_scaling_notification_types(
    rt: Runtime, ctx: RequestContext, params: Params
) -> Result:
    return {"AutoScalingNotificationTypes": list(NOTIFICATION_TYPES)}


def describe_lifecycle_hook_types(rt: Runtime, ctx: RequestContext, params: Params) -> Result:
    return {"LifecycleHookTypes": list(LIFECYCLE_HOOK_TYPES)}


def describe_account_limits(rt: Runtime, ctx: RequestContext, params: Params) -> Result:
    account = ctx.principal.account_id
    with rt.store.read() as s:
        groups = s.scalar(select(func.count()).where(AsGroup.account_id == account)) or 0
        lcs = s.scalar(select(func.count()).where(AsLaunchConfiguration.account_id == account))
    return {
        "MaxNumberOfAutoScalingGroups": rows.quota(rt.store, rows.GROUPS_QUOTA),
        "MaxNumberOfLaunchConfigurations": rows.quota(rt.store, rows.LCS_QUOTA),
        "NumberOfAutoScalingGroups": groups,
        "NumberOfLaunchConfigurations": lcs or 0,
    }


OPERATIONS: Operations = {
    "DescribeAdjustmentTypes": describe_adjustment_types,
    "DescribeScalingProcessTypes": describe_scaling_process_types,
    "DescribeTerminationPolicyTypes": describe_termination_policy_types,
    "DescribeMetricCollectionTypes": describe_metric_collection_types,
    "DescribeAutoScalingNotificationTypes": describe_auto_scaling_notification_types,
    "DescribeAccountLimits": describe_account_limits,
    "DescribeLifecycleHookTypes": describe_lifecycle_hook_types,
}
