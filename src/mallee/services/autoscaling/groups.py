"""CreateAutoScalingGroup, UpdateAutoScalingGroup, DeleteAutoScalingGroup and
DescribeAutoScalingGroups. The API writes the group's sizes and why they moved
(`capacity_cause`); the controller's group engine makes the instances follow."""

from __future__ import annotations

import json
import uuid
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from mallee.api.context import RequestContext
from mallee.identity.clock import now
from mallee.services import page_tokens
from mallee.services.autoscaling import (
    capacity,
    errors,
    launch_templates,
    placement,
    rows,
    tags,
    target_alarms,
    views,
)
from mallee.services.base import Operations, Params, Result, Runtime
from mallee.store.tables.autoscaling import AsActivity, AsGroup, AsInstance, AsPolicy, AsTag

GONE = ("Terminated", "Detached")


def _exists(name: str) -> Exception:
    return errors.already_exists(
        f"AutoScalingGroup by this name already exists - A group with the name {name} already "
        "exists"
    )


def _launch_source(s: Session, account_id: str, params: Params) -> tuple[str, str]:
    """(launch configuration name, launch template JSON) of a group."""
    if params.get("MixedInstancesPolicy"):
        raise errors.validation("MixedInstancesPolicy is not supported yet")
    if params.get("InstanceId"):
        raise errors.validation("InstanceId is not supported yet: name a launch configuration")
    name = str(params.get("LaunchConfigurationName") or "")
    template = params.get("LaunchTemplate")
    if template and name:
        raise errors.validation(
            "Valid requests must contain either LaunchTemplate, LaunchConfigurationName, "
            "InstanceId or MixedInstancesPolicy parameter."
        )
    if template:
        return "", launch_templates.checked(s, account_id, dict(template))
    if not name:
        raise errors.validation(
            "Valid requests must contain either LaunchTemplate, LaunchConfigurationName, "
            "InstanceId or MixedInstancesPolicy parameter."
        )
    rows.launch_configuration(s, account_id, name)
    return name, ""


def _or(value: int | None, default: int) -> int:
    return default if value is None else value


def create_auto_scaling_group(rt: Runtime, ctx: RequestContext, params: Params) -> Result:
    account = ctx.principal.account_id
    name = rows.group_name(params)
    low = rows.integer(params, "MinSize") or 0
    high = rows.integer(params, "MaxSize") or 0
    desired = rows.integer(params, "DesiredCapacity")
    desired = low if desired is None else desired
    launch_templates.authorize(rt, ctx, params.get("LaunchTemplate"))
    placement.bounds(low, high, desired)
    new_tags = tags.parse(params.get("Tags") or [], name)
    started = rows.epoch()
    try:
        with rt.store.session() as s:
            taken = s.scalar(
                select(AsGroup.id).where(AsGroup.account_id == account, AsGroup.name == name)
            )
            if taken is not None:
                raise _exists(name)
            count = s.scalar(select(func.count()).where(AsGroup.account_id == account)) or 0
            if count >= rows.quota(rt.store, rows.GROUPS_QUOTA):
                raise errors.limit_exceeded("Max number of auto scaling groups reached")
            lc_name, template = _launch_source(s, account, params)
            zones, identifier = placement.zones(
                rt,
                s,
                account,
                rows.strings(params, "AvailabilityZones"),
                str(params.get("VPCZoneIdentifier") or ""),
            )
            group = AsGroup(
                id=str(uuid.uuid4()),
                account_id=account,
                name=name,
                created_at=now(),
                launch_configuration_name=lc_name,
                launch_template=template,
                min_size=low,
                max_size=high,
                desired_capacity=desired,
                default_cooldown=_or(rows.integer(params, "DefaultCooldown"), 300),
                availability_zones=rows.dump(zones),
                load_balancer_names=rows.dump(
                    placement.load_balancers(s, account, rows.strings(params, "LoadBalancerNames"))
                ),
                termination_policies=rows.dump(
                    placement.termination_policies(rows.strings(params, "TerminationPolicies"))
                ),
                vpc_zone_identifier=identifier,
                health_check_type=placement.health_check_type(
                    str(params.get("HealthCheckType") or "EC2")
                ),
                health_check_grace_period=_or(rows.integer(params, "HealthCheckGracePeriod"), 0),
                new_instances_protected=bool(params.get("NewInstancesProtectedFromScaleIn")),
                capacity_cause=capacity.cause_created(rows.stamp(started), desired),
            )
            s.add(group)
            s.flush()
            tags.put(s, group.id, new_tags)
    except IntegrityError:
        raise _exists(name) from None
    return {}


def _sizes(group: AsGroup, params: Params) -> tuple[int, int, int]:
    low = rows.integer(params, "MinSize")
    high = rows.integer(params, "MaxSize")
    desired = rows.integer(params, "DesiredCapacity")
    low = group.min_size if low is None else low
    high = group.max_size if high is None else high
    if low > high:
        raise errors.bounds(low, high)
    if desired is None:
        # AWS moves the desired capacity into new bounds rather than refusing them.
        desired = capacity.clamp(group.desired_capacity, low, high)
    placement.bounds(low, high, desired)
    return low, high, desired


def _apply(rt: Runtime, s: Session, group: AsGroup, params: Params) -> None:
    account = group.account_id
    if params.get("LaunchConfigurationName") or params.get("LaunchTemplate"):
        group.launch_configuration_name, group.launch_template = _launch_source(s, account, params)
    wanted_zones = rows.strings(params, "AvailabilityZones")
    identifier = params.get("VPCZoneIdentifier")
    if wanted_zones or identifier:
        zones, kept = placement.zones(
            rt, s, account, wanted_zones, str(identifier or group.vpc_zone_identifier)
        )
        group.availability_zones, group.vpc_zone_identifier = rows.dump(zones), kept
    if (value := rows.integer(params, "DefaultCooldown")) is not None:
        group.default_cooldown = value
    if params.get("HealthCheckType"):
        group.health_check_type = placement.health_check_type(str(params["HealthCheckType"]))
    if (value := rows.integer(params, "HealthCheckGracePeriod")) is not None:
        group.health_check_grace_period = value
    if params.get("TerminationPolicies"):
        group.termination_policies = rows.dump(
            placement.termination_policies(rows.strings(params, "TerminationPolicies"))
        )
    if params.get("NewInstancesProtectedFromScaleIn") is not None:
        group.new_instances_protected = bool(params["NewInstancesProtectedFromScaleIn"])


def update_auto_scaling_group(rt: Runtime, ctx: RequestContext, params: Params) -> Result:
    name = rows.group_name(params)
    with rt.store.session() as s:
        group = rows.group(s, ctx.principal.account_id, name, lock=True)
        low, high, desired = _sizes(group, params)
        _apply(rt, s, group, params)
        old = group.desired_capacity
        group.min_size, group.max_size = low, high
        if desired != old:
            group.desired_capacity = desired
            group.capacity_cause = capacity.cause_update(
                rows.stamp(rows.epoch()), low, high, old, desired
            )
    return {}


def delete_auto_scaling_group(rt: Runtime, ctx: RequestContext, params: Params) -> Result:
    name = rows.group_name(params)
    force = bool(params.get("ForceDelete"))
    with rt.store.session() as s:
        group = rows.group(s, ctx.principal.account_id, name, deleting=True, lock=True)
        if group.status == rows.DELETING:
            return {}
        if not force:
            live = s.scalar(
                select(func.count()).where(
                    AsInstance.group_id == group.id, AsInstance.lifecycle_state.not_in(GONE)
                )
            )
            if live:
                raise errors.in_use(
                    "You cannot delete an AutoScalingGroup while there are instances or "
                    "pending Spot instance request(s) still in the group."
                )
            busy = s.scalar(
                select(func.count()).where(
                    AsActivity.group_id == group.id,
                    AsActivity.status_code.in_(("InProgress", "PreInService")),
                )
            )
            if busy:
                raise errors.activity_in_progress(
                    "You cannot delete an AutoScalingGroup while there are scaling activities "
                    "in progress for that group."
                )
        alarms = [
            name
            for (text,) in s.execute(
                select(AsPolicy.alarm_names).where(
                    AsPolicy.group_id == group.id, AsPolicy.policy_type == "TargetTrackingScaling"
                )
            )
            for name in json.loads(text or "[]")
        ]
        s.execute(
            update(AsGroup)
            .where(AsGroup.id == group.id)
            .values(
                status=rows.DELETING,
                min_size=0,
                max_size=0,
                desired_capacity=0,
                capacity_cause=capacity.cause_update(
                    rows.stamp(rows.epoch()), 0, 0, group.desired_capacity, 0
                ),
            )
            .execution_options(synchronize_session=False)
        )
    target_alarms.delete(rt, ctx, alarms)
    return {}


def describe_auto_scaling_groups(rt: Runtime, ctx: RequestContext, params: Params) -> Result:
    account = ctx.principal.account_id
    wanted = rows.strings(params, "AutoScalingGroupNames")
    size = rows.page_size(params)
    start = rows.page_start(params)
    stmt = select(*views.GROUP_COLUMNS).where(AsGroup.account_id == account)
    if wanted:
        stmt = stmt.where(AsGroup.name.in_(wanted))
    stmt = stmt.where(*_tag_filters(params))
    if start is not None:
        stmt = stmt.where(AsGroup.name > start)
    with rt.store.read() as s:
        found = s.execute(stmt.order_by(AsGroup.name).limit(size + 1)).all()
        out: Result = {"AutoScalingGroups": views.describe_groups(s, found[:size], ctx.region)}
    if len(found) > size:
        out["NextToken"] = page_tokens.encode(found[size - 1].name)
    return out


def _tag_filters(params: Params) -> list[Any]:
    """DescribeAutoScalingGroups' Filters: tag-key, tag-value and tag:<key>."""
    clauses: list[Any] = []
    for item in params.get("Filters") or []:
        name = str(item.get("Name") or "")
        values = [str(v) for v in item.get("Values") or []]
        tagged = select(AsTag.group_id)
        if name == "tag-key":
            tagged = tagged.where(AsTag.key.in_(values))
        elif name == "tag-value":
            tagged = tagged.where(AsTag.value.in_(values))
        elif name.startswith("tag:"):
            tagged = tagged.where(AsTag.key == name[4:], AsTag.value.in_(values))
        else:
            raise errors.validation(f"Filter type {name} is not correct.")
        clauses.append(AsGroup.id.in_(tagged))
    return clauses


OPERATIONS: Operations = {
    "CreateAutoScalingGroup": create_auto_scaling_group,
    "UpdateAutoScalingGroup": update_auto_scaling_group,
    "DeleteAutoScalingGroup": delete_auto_scaling_group,
    "DescribeAutoScalingGroups": describe_auto_scaling_groups,
}
