"""ExecutePolicy, and ExecutePolicyForAlarm: the same, asked by the CloudWatch alarm engine
(an internal-only operation, so the public wire cannot claim an alarm), which names the alarm
so the cause says which one triggered the policy, and whose metric gives step and target
tracking policies their value."""

from __future__ import annotations

import json
from typing import Any

from mallee.api.context import RequestContext
from mallee.api.errors import ServiceError
from mallee.services.autoscaling import capacity, errors, policies, policy_checks, rows, scaling
from mallee.services.base import Operations, Params, Result, Runtime
from mallee.store.tables.autoscaling import AsGroup, AsPolicy


def _alarm_reading(rt: Runtime, ctx: RequestContext, alarm: str) -> tuple[float, float] | None:
    """(latest value, threshold) of the alarm, as CloudWatch describes it."""
    try:
        answer = rt.calls.call(
            "cloudwatch", "DescribeAlarms", {"AlarmNames": [alarm]}, principal=ctx.principal
        )
    except ServiceError:
        return None
    found = answer.get("MetricAlarms") or []
    if not found:
        return None
    data = json.loads(found[0].get("StateReasonData") or "{}")
    points = data.get("recentDatapoints") or []
    if not points or found[0].get("Threshold") is None:
        return None
    return float(points[-1]), float(found[0]["Threshold"])


def _target(policy: AsPolicy, reading: tuple[float, float] | None, alarm: str) -> Any:
    """group -> the new desired capacity (clamped to its bounds)."""

    def simple(group: AsGroup) -> int:
        value = capacity.adjusted(
            group.desired_capacity,
            policy.adjustment_type,
            policy.scaling_adjustment or 0,
            policy.min_adjustment_magnitude,
        )
        return capacity.clamp(value, group.min_size, group.max_size)

    def step(group: AsGroup) -> int:
        if reading is None:
            raise errors.validation(
                "MetricValue and BreachThreshold are required to execute a step scaling policy"
            )
        steps = policy_checks.steps_of(json.loads(policy.step_adjustments or "[]"))
        chosen = capacity.step_for(steps, *reading)
        if chosen is None:
            raise errors.validation(
                f"The metric value {reading[0]} matches no step adjustment of the policy"
            )
        value = capacity.adjusted(
            group.desired_capacity,
            policy.adjustment_type,
            chosen.adjustment,
            policy.min_adjustment_magnitude,
        )
        return capacity.clamp(value, group.min_size, group.max_size)

    def tracking(group: AsGroup) -> int:
        config = json.loads(policy.target_tracking or "{}")
        high = "-AlarmHigh-" in alarm
        if reading is not None:
            value = capacity.target_tracking(
                group.desired_capacity, reading[0], float(config.get("TargetValue") or 0)
            )
            value = (
                max(value, group.desired_capacity) if high else min(value, group.desired_capacity)
            )
        else:
            value = group.desired_capacity + (1 if high else -1)
        return capacity.clamp(value, group.min_size, group.max_size)

    if policy.policy_type == policy_checks.STEP:
        return step
    if policy.policy_type == policy_checks.TARGET:
        return tracking
    return simple


def _execute(rt: Runtime, ctx: RequestContext, params: Params, alarm: str) -> Result:
    account = ctx.principal.account_id
    group_param = params.get("AutoScalingGroupName")
    with rt.store.read() as s:
        policy, group = policies.find(
            s, account, str(params.get("PolicyName") or ""), str(group_param or "") or None
        )
        s.expunge_all()
    if not policy.enabled:
        raise errors.validation(f"The policy {policy.name} is disabled")
    reading: tuple[float, float] | None = None
    if params.get("MetricValue") is not None and params.get("BreachThreshold") is not None:
        reading = float(params["MetricValue"]), float(params["BreachThreshold"])
    if policy.policy_type == policy_checks.TARGET and not alarm:
        raise errors.validation("ExecutePolicy is not supported for target tracking policies")
    if policy.policy_type == policy_checks.STEP and reading is None and not alarm:
        raise errors.validation(
            "MetricValue and BreachThreshold are required to execute a step scaling policy"
        )
    if reading is None and alarm and policy.policy_type != policy_checks.SIMPLE:
        reading = _alarm_reading(rt, ctx, alarm)
    honor = bool(params.get("HonorCooldown")) and policy.policy_type == policy_checks.SIMPLE

    def cooldown(g: AsGroup) -> int:
        return g.default_cooldown if policy.cooldown is None else policy.cooldown

    scaling.move(
        rt,
        account,
        group.name,
        _target(policy, reading, alarm),
        lambda old, new: capacity.cause_policy(
            rows.stamp(rows.epoch()), policy.name, old, new, alarm
        ),
        cooldown=cooldown if honor else None,
    )
    return {}


def execute_policy(rt: Runtime, ctx: RequestContext, params: Params) -> Result:
    return _execute(rt, ctx, params, "")


def execute_policy_for_alarm(rt: Runtime, ctx: RequestContext, params: Params) -> Result:
    alarm = str(params.get("AlarmName") or "")
    if not alarm:
        raise errors.validation("AlarmName is required")
    return _execute(rt, ctx, params, alarm)


OPERATIONS: Operations = {
    "ExecutePolicy": execute_policy,
    "ExecutePolicyForAlarm": execute_policy_for_alarm,
}
