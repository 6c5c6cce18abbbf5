"""One Auto Scaling group's page: its settings, its instances (lifecycle state and health), its
latest scaling activities with their causes, its desired capacity to change, and its scaling
policies to add, run and delete (a policy's ARN is what an alarm action names)."""

from __future__ import annotations

from typing import Any

from starlette.responses import Response

from mallee.console.context import BadRequest, Ctx, Route
from mallee.console.pages.auto_scaling import group_path, size

ADJUSTMENT_TYPES = (
    ("ChangeInCapacity", "Change in capacity (add or remove instances)"),
    ("PercentChangeInCapacity", "Percent change in capacity"),
    ("ExactCapacity", "Exact capacity"),
)
# The activities the page shows, newest first (DescribeScalingActivities' order).
ACTIVITIES = 20


def describe(ctx: Ctx, name: str) -> dict[str, Any]:
    found: list[dict[str, Any]] = ctx.client("autoscaling").describe_auto_scaling_groups(
        AutoScalingGroupNames=[name]
    )["AutoScalingGroups"]
    if not found:
        raise BadRequest(f"no Auto Scaling group {name}")
    return found[0]


def _facts(group: dict[str, Any]) -> list[tuple[str, str]]:
    template = group.get("LaunchTemplate", {})
    facts = [
        ("Launch configuration", group.get("LaunchConfigurationName", "")),
        ("Launch template", template.get("LaunchTemplateName", "")),
        ("Zones", ", ".join(group.get("AvailabilityZones", []))),
        ("Load balancers", ", ".join(group.get("LoadBalancerNames", []))),
        ("Health check", group.get("HealthCheckType", "")),
        ("Health check grace period", f"{group.get('HealthCheckGracePeriod', 0)} s"),
        ("Default cooldown", f"{group.get('DefaultCooldown', 300)} s"),
        ("Termination policies", ", ".join(group.get("TerminationPolicies", []))),
        ("Status", group.get("Status", "")),
        (
            "Suspended processes",
            ", ".join(p.get("ProcessName", "") for p in group.get("SuspendedProcesses", [])),
        ),
        ("Created", group.get("CreatedTime", "")),
    ]
    return [(k, str(v)) for k, v in facts if v]


def _activities(ctx: Ctx, name: str) -> list[dict[str, Any]]:
    answer = ctx.client("autoscaling").describe_scaling_activities(
        AutoScalingGroupName=name, MaxRecords=ACTIVITIES
    )
    return [
        {
            "id": a.get("ActivityId", ""),
            "status": a.get("StatusCode", ""),
            "description": a.get("Description", ""),
            "cause": a.get("Cause", ""),
            "message": a.get("StatusMessage", ""),
            "start": a.get("StartTime", ""),
            "end": a.get("EndTime", ""),
        }
        for a in answer.get("Activities", [])
    ]


def _policies(ctx: Ctx, name: str) -> list[dict[str, Any]]:
    answer = ctx.client("autoscaling").describe_policies(AutoScalingGroupName=name)
    return [
        {
            "name": p.get("PolicyName", ""),
            "type": p.get("PolicyType", "SimpleScaling"),
            "adjustment": p.get("ScalingAdjustment", ""),
            "adjustment_type": p.get("AdjustmentType", ""),
            "cooldown": p.get("Cooldown", ""),
            "arn": p.get("PolicyARN", ""),
            "alarms": ", ".join(a.get("AlarmName", "") for a in p.get("Alarms", [])),
        }
        for p in answer.get("ScalingPolicies", [])
    ]


def detail(ctx: Ctx) -> Response:
    name = ctx.arg("name")
    if not name:
        raise BadRequest("which group?")
    group = describe(ctx, name)
    members = [
        {
            "id": i.get("InstanceId", ""),
            "zone": i.get("AvailabilityZone", ""),
            "state": i.get("LifecycleState", ""),
            "health": i.get("HealthStatus", ""),
            "protected": i.get("ProtectedFromScaleIn", False),
        }
        for i in group.get("Instances", [])
    ]
    return ctx.page(
        "auto_scaling_group.html",
        f"Auto Scaling group {name}",
        name=name,
        facts=_facts(group),
        sizes={k: group.get(k, "") for k in ("MinSize", "DesiredCapacity", "MaxSize")},
        members=members,
        activities=_activities(ctx, name),
        policies=_policies(ctx, name),
        adjustment_types=ADJUSTMENT_TYPES,
        here=group_path(name),
    )


def _name(ctx: Ctx) -> str:
    name = ctx.arg("name")
    if not name:
        raise BadRequest("which group?")
    return name


def capacity(ctx: Ctx) -> Response:
    name = _name(ctx)
    desired = size(ctx, "desired", "desired capacity")
    if desired is None:
        raise BadRequest("give the desired capacity")
    ctx.client("autoscaling").set_desired_capacity(
        AutoScalingGroupName=name, DesiredCapacity=desired
    )
    ctx.ok(f"Set the desired capacity of {name} to {desired}")
    return ctx.back(group_path(name))


def _adjustment(ctx: Ctx) -> int:
    text = ctx.arg("adjustment")
    try:
        return int(text)
    except ValueError:
        raise BadRequest("the adjustment must be a whole number (negative to remove)") from None


def create_policy(ctx: Ctx) -> Response:
    name = _name(ctx)
    policy = ctx.arg("policy")
    if not policy:
        raise BadRequest("give the policy's name")
    kind = ctx.arg("adjustment_type")
    if kind not in {value for value, _ in ADJUSTMENT_TYPES}:
        raise BadRequest("choose the adjustment type")
    params: dict[str, Any] = {
        "AutoScalingGroupName": name,
        "PolicyName": policy,
        "AdjustmentType": kind,
        "ScalingAdjustment": _adjustment(ctx),
    }
    cooldown = size(ctx, "cooldown", "cooldown")
    if cooldown is not None:
        params["Cooldown"] = cooldown
    made = ctx.client("autoscaling").put_scaling_policy(**params)
    ctx.ok(f"Saved policy {policy} ({made.get('PolicyARN', '')})")
    return ctx.back(group_path(name))


def execute_policy(ctx: Ctx) -> Response:
    name, policy = _name(ctx), ctx.arg("policy")
    if not policy:
        raise BadRequest("which policy?")
    ctx.client("autoscaling").execute_policy(AutoScalingGroupName=name, PolicyName=policy)
    ctx.ok(f"Ran policy {policy}")
    return ctx.back(group_path(name))


def delete_policy(ctx: Ctx) -> Response:
    name, policy = _name(ctx), ctx.arg("policy")
    if not policy:
        raise BadRequest("which policy?")
    asked = ctx.confirmed(f"Delete policy {policy} of {name}?", "Yes, delete it")
    if asked is not None:
        return asked
    ctx.client("autoscaling").delete_policy(AutoScalingGroupName=name, PolicyName=policy)
    ctx.ok(f"Deleted policy {policy}")
    return ctx.back(group_path(name))


ROUTES = [
    Route("GET", "/auto-scaling/group", detail, "/auto-scaling"),
    Route("POST", "/auto-scaling/group/capacity", capacity, "/auto-scaling"),
    Route("POST", "/auto-scaling/policies/create", create_policy, "/auto-scaling"),
    Route("POST", "/auto-scaling/policies/execute", execute_policy, "/auto-scaling"),
    Route("POST", "/auto-scaling/policies/delete", delete_policy, "/auto-scaling"),
]
