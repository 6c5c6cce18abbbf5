"""PutScalingPolicy, DescribePolicies and DeletePolicy. A target tracking policy owns two
CloudWatch alarms (target_alarms); the others are acted on by the caller's own alarms, which
DescribePolicies lists by the policy ARN in their actions."""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session

from mallee.api.context import RequestContext
from mallee.services import page_tokens
from mallee.services.autoscaling import arns, errors, policy_checks, rows, target_alarms
from mallee.services.base import Operations, Params, Result, Runtime
from mallee.store.tables.alarms import CwAlarm
from mallee.store.tables.autoscaling import AsGroup, AsPolicy

MAX_POLICIES = 50


def policy_arn(region: str, policy: AsPolicy, group: str) -> str:
    return arns.policy_arn(region, policy.account_id, policy.id, group, policy.name)


def find(s: Session, account_id: str, name: str, group: str | None) -> tuple[AsPolicy, AsGroup]:
    """The policy PolicyName names (a name within `group`, or an ARN) and its group."""
    ref = arns.parse_policy_arn(name)
    if ref is not None:
        found = s.get(AsPolicy, ref.policy_id)
        if found is None or found.account_id != account_id or found.name != ref.name:
            raise errors.policy_not_found(name)
        owner = s.get(AsGroup, found.group_id)
        # The group the ARN names is the one the request was authorized on: a policy id of
        # another group under it must not pass.
        if owner is None or owner.name != ref.group or (group and owner.name != group):
            raise errors.policy_not_found(name)
        return found, owner
    if not group:
        raise errors.validation("AutoScalingGroupName is required unless PolicyName is an ARN")
    owner = rows.group(s, account_id, group)
    policy = s.scalars(
        select(AsPolicy).where(AsPolicy.group_id == owner.id, AsPolicy.name == name)
    ).first()
    if policy is None:
        raise errors.policy_not_found(name)
    return policy, owner


def put_scaling_policy(rt: Runtime, ctx: RequestContext, params: Params) -> Result:
    account = ctx.principal.account_id
    group_name = rows.group_name(params)
    name = str(params.get("PolicyName") or "")
    if not name:
        raise errors.validation("PolicyName is required")
    if params.get("PredictiveScalingConfiguration"):
        raise errors.validation("Predictive scaling is not supported")
    spec = policy_checks.spec(params)
    with rt.store.read() as s:
        group = rows.group(s, account, group_name)
        existing = s.scalars(
            select(AsPolicy).where(AsPolicy.group_id == group.id, AsPolicy.name == name)
        ).first()
        count = s.scalar(select(func.count()).where(AsPolicy.group_id == group.id)) or 0
        group_id = group.id
        old_alarms = json.loads(existing.alarm_names) if existing is not None else []
        old_type = existing.policy_type if existing is not None else ""
        policy_id = existing.id if existing is not None else str(uuid.uuid4())
    if existing is None and count >= MAX_POLICIES:
        raise errors.limit_exceeded(f"Exceeded the maximum number of policies ({MAX_POLICIES})")
    arn = arns.policy_arn(ctx.region, account, policy_id, group_name, name)
    alarms: list[str] = []
    if spec.policy_type == policy_checks.TARGET:
        alarms = target_alarms.create(rt, ctx, group_name, arn, spec.target_tracking)
    try:
        with rt.store.session() as s:
            row = s.get(AsPolicy, policy_id)
            if row is None:
                row = AsPolicy(id=policy_id, account_id=account, group_id=group_id, name=name)
                s.add(row)
            row.policy_type = spec.policy_type
            row.adjustment_type = spec.adjustment_type
            row.scaling_adjustment = spec.scaling_adjustment
            row.min_adjustment_magnitude = spec.min_adjustment_magnitude
            row.cooldown = spec.cooldown
            row.metric_aggregation_type = spec.metric_aggregation_type
            row.estimated_instance_warmup = spec.estimated_instance_warmup
            row.step_adjustments = json.dumps(spec.steps)
            row.target_tracking = json.dumps(spec.target_tracking) if spec.target_tracking else ""
            row.alarm_names = json.dumps(alarms)
            row.enabled = spec.enabled
    except Exception:
        target_alarms.delete(rt, ctx, alarms)
        raise
    if old_type == policy_checks.TARGET:
        target_alarms.delete(rt, ctx, old_alarms)
    out: Result = {"PolicyARN": arn}
    if alarms:
        out["Alarms"] = [
            {"AlarmName": a, "AlarmARN": arns.alarm_arn(ctx.region, account, a)} for a in alarms
        ]
    return out


def _acting_alarms(s: Session, account_id: str) -> dict[str, list[str]]:
    """Policy id -> names of the caller's alarms whose actions name it."""
    out: dict[str, list[str]] = {}
    for alarm_name, actions in s.execute(
        select(CwAlarm.name, CwAlarm.alarm_actions).where(
            CwAlarm.account_id == account_id, CwAlarm.alarm_actions.like("%:scalingPolicy:%")
        )
    ):
        for action in json.loads(actions or "[]"):
            ref = arns.parse_policy_arn(str(action))
            if ref is not None:
                out.setdefault(ref.policy_id, []).append(alarm_name)
    return out


def _describe(
    policy: AsPolicy, group: str, region: str, acting: dict[str, list[str]]
) -> dict[str, Any]:
    alarms = list(dict.fromkeys([*json.loads(policy.alarm_names), *acting.get(policy.id, [])]))
    out: dict[str, Any] = {
        "AutoScalingGroupName": group,
        "PolicyName": policy.name,
        "PolicyARN": policy_arn(region, policy, group),
        "PolicyType": policy.policy_type,
        "StepAdjustments": json.loads(policy.step_adjustments or "[]"),
        "Alarms": [
            {"AlarmName": a, "AlarmARN": arns.alarm_arn(region, policy.account_id, a)}
            for a in alarms
        ],
        "Enabled": policy.enabled,
    }
    optional = {
        "AdjustmentType": policy.adjustment_type or None,
        "ScalingAdjustment": policy.scaling_adjustment,
        "MinAdjustmentMagnitude": policy.min_adjustment_magnitude,
        "MinAdjustmentStep": policy.min_adjustment_magnitude,
        "Cooldown": policy.cooldown,
        "MetricAggregationType": policy.metric_aggregation_type or None,
        "EstimatedInstanceWarmup": policy.estimated_instance_warmup,
        "TargetTrackingConfiguration": json.loads(policy.target_tracking)
        if policy.target_tracking
        else None,
    }
    out.update({k: v for k, v in optional.items() if v is not None})
    return out


def _name_clauses(names: Sequence[str]) -> list[Any]:
    plain = [n for n in names if arns.parse_policy_arn(n) is None]
    ids = [ref.policy_id for n in names if (ref := arns.parse_policy_arn(n)) is not None]
    return [or_(AsPolicy.name.in_(plain), AsPolicy.id.in_(ids))] if names else []


def describe_policies(rt: Runtime, ctx: RequestContext, params: Params) -> Result:
    account = ctx.principal.account_id
    size = rows.page_size(params)
    start = rows.page_start(params)
    names = rows.strings(params, "PolicyNames")
    types = rows.strings(params, "PolicyTypes")
    stmt = (
        select(AsPolicy, AsGroup.name)
        .join(AsGroup, AsGroup.id == AsPolicy.group_id)
        .where(AsPolicy.account_id == account, *_name_clauses(names))
    )
    if params.get("AutoScalingGroupName"):
        stmt = stmt.where(AsGroup.name == str(params["AutoScalingGroupName"]))
    if types:
        stmt = stmt.where(AsPolicy.policy_type.in_(types))
    if start is not None:
        group, _, name = start.partition("\x00")
        stmt = stmt.where(
            or_(AsGroup.name > group, and_(AsGroup.name == group, AsPolicy.name > name))
        )
    with rt.store.read() as s:
        found = s.execute(stmt.order_by(AsGroup.name, AsPolicy.name).limit(size + 1)).all()
        acting = _acting_alarms(s, account) if found else {}
        out: Result = {
            "ScalingPolicies": [_describe(p, g, ctx.region, acting) for p, g in found[:size]]
        }
    if len(found) > size:
        policy, group = found[size - 1]
        out["NextToken"] = page_tokens.encode(f"{group}\x00{policy.name}")
    return out


def delete_policy(rt: Runtime, ctx: RequestContext, params: Params) -> Result:
    name = str(params.get("PolicyName") or "")
    group = params.get("AutoScalingGroupName")
    with rt.store.session() as s:
        policy, _ = find(s, ctx.principal.account_id, name, str(group) if group else None)
        alarms: list[str] = []
        if policy.policy_type == policy_checks.TARGET:
            alarms = json.loads(policy.alarm_names)
        s.delete(policy)
    target_alarms.delete(rt, ctx, alarms)
    return {}


OPERATIONS: Operations = {
    "PutScalingPolicy": put_scaling_policy,
    "DescribePolicies": describe_policies,
    "DeletePolicy": delete_policy,
}
