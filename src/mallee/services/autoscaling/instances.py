"""A group's instances at a user's request: DescribeAutoScalingInstances, SetInstanceHealth,
SetInstanceProtection, TerminateInstanceInAutoScalingGroup, AttachInstances and
DetachInstances. The lifecycle the engine keeps is read as it wrote it."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from mallee.api.context import RequestContext
from mallee.api.errors import ServiceError
from mallee.services import page_tokens
from mallee.services.autoscaling import activities, capacity, errors, rows, views
from mallee.services.base import Operations, Params, Result, Runtime
from mallee.store.tables.autoscaling import AsGroup, AsInstance
from mallee.store.tables.ec2 import Ec2Instance

log = logging.getLogger(__name__)

GONE = ("Terminated", "Detached")
LEAVING = ("Terminating", "Detaching")
HEALTH = ("Healthy", "Unhealthy")


def _member(s: Session, account_id: str, instance_id: str) -> tuple[AsInstance, AsGroup]:
    found = s.execute(
        select(AsInstance, AsGroup)
        .join(AsGroup, AsGroup.id == AsInstance.group_id)
        .where(
            AsInstance.instance_id == instance_id,
            AsInstance.account_id == account_id,
            AsInstance.lifecycle_state.not_in(GONE),
        )
    ).first()
    if found is None:
        raise errors.instance_not_found(instance_id)
    return found[0], found[1]


def _shrink(group: AsGroup, count: int) -> int:
    """The desired capacity once `count` instances leave without replacement."""
    new = group.desired_capacity - count
    if new < group.min_size:
        raise errors.validation(
            f"Currently, desiredSize equals minSize ({group.min_size}). Terminating instance "
            "without replacement will violate group's min size constraint. Either set "
            "shouldDecrementDesiredCapacity flag to false or lower group's min size."
        )
    return new


def describe_auto_scaling_instances(rt: Runtime, ctx: RequestContext, params: Params) -> Result:
    size = rows.page_size(params, 50, 50)
    start = rows.page_start(params)
    ids = rows.strings(params, "InstanceIds")
    stmt = (
        select(AsInstance, AsGroup.name)
        .join(AsGroup, AsGroup.id == AsInstance.group_id)
        .where(
            AsInstance.account_id == ctx.principal.account_id,
            AsInstance.lifecycle_state.not_in(GONE),
        )
    )
    if ids:
        stmt = stmt.where(AsInstance.instance_id.in_(ids))
    if start is not None:
        stmt = stmt.where(AsInstance.instance_id > start)
    with rt.store.read() as s:
        found = s.execute(stmt.order_by(AsInstance.instance_id).limit(size + 1)).all()
        out: Result = {"AutoScalingInstances": [views.instance_out(i, g) for i, g in found[:size]]}
    if len(found) > size:
        out["NextToken"] = page_tokens.encode(found[size - 1][0].instance_id)
    return out


def set_instance_health(rt: Runtime, ctx: RequestContext, params: Params) -> Result:
    instance_id = str(params.get("InstanceId") or "")
    health = str(params.get("HealthStatus") or "")
    if health not in HEALTH:
        raise errors.validation(f"Valid HealthStatus values are Healthy and Unhealthy: {health}")
    respect = params.get("ShouldRespectGracePeriod")
    with rt.store.session() as s:
        row, group = _member(s, ctx.principal.account_id, instance_id)
        in_grace = rows.epoch() < row.launched_at + group.health_check_grace_period
        if health == "Unhealthy" and respect is not False and in_grace:
            # AWS ignores the report while the instance is in its grace period.
            return {}
        row.health_status = health
    return {}


def set_instance_protection(rt: Runtime, ctx: RequestContext, params: Params) -> Result:
    ids = rows.strings(params, "InstanceIds")
    protect = params.get("ProtectedFromScaleIn")
    if protect is None:
        raise errors.validation("ProtectedFromScaleIn is required")
    with rt.store.session() as s:
        group = rows.group(s, ctx.principal.account_id, rows.group_name(params), lock=True)
        _in_group(s, group, ids)
        s.execute(
            update(AsInstance)
            .where(AsInstance.group_id == group.id, AsInstance.instance_id.in_(ids))
            .values(protected_from_scale_in=bool(protect))
            .execution_options(synchronize_session=False)
        )
    return {}


def _in_group(s: Session, group: AsGroup, ids: Sequence[str]) -> list[AsInstance]:
    found = {
        r.instance_id: r
        for r in s.scalars(
            select(AsInstance).where(
                AsInstance.group_id == group.id,
                AsInstance.instance_id.in_(ids),
                AsInstance.lifecycle_state.not_in(GONE),
            )
        )
    }
    for instance_id in ids:
        if instance_id not in found:
            raise errors.validation(
                f"The instance {instance_id} is not part of Auto Scaling group {group.name}."
            )
    return [found[i] for i in ids]


def terminate_instance_in_auto_scaling_group(
    rt: Runtime, ctx: RequestContext, params: Params
) -> Result:
    account = ctx.principal.account_id
    instance_id = str(params.get("InstanceId") or "")
    decrement = params.get("ShouldDecrementDesiredCapacity")
    if decrement is None:
        raise errors.validation("ShouldDecrementDesiredCapacity is required")
    at = rows.epoch()
    with rt.store.session() as s:
        row, group = _member(s, account, instance_id)
        if row.lifecycle_state in LEAVING:
            # A second request must not lower the capacity once more for the same instance.
            raise errors.validation(
                f"The instance {instance_id} is already {row.lifecycle_state.lower()}."
            )
        old = group.desired_capacity
        new = _shrink(group, 1) if decrement else None
        cause = capacity.cause_terminate(rows.stamp(at), instance_id, old, new)
        if new is not None:
            group.desired_capacity = new
            group.capacity_cause = cause
        row.lifecycle_state = "Terminating"
        activity = activities.record(
            s,
            group,
            "terminate",
            instance_id,
            row.zone,
            f"Terminating EC2 instance: {instance_id}",
            cause,
            at=at,
        )
        s.flush()
        out = activities.activity_out(activity)
    # The Terminating row and the capacity change are committed before EC2 is asked, as the
    # engine does: a crash (or EC2 refusing) here leaves the call to the engine, which
    # terminates every Terminating instance still running, instead of an instance gone
    # with the group's capacity never lowered.
    try:
        rt.calls.call(
            "ec2", "TerminateInstances", {"InstanceIds": [instance_id]}, principal=ctx.principal
        )
    except ServiceError as err:
        log.info("terminating %s: %s (the group engine retries)", instance_id, err.code)
    return {"Activity": out}


def _attachable(
    s: Session, account_id: str, group: AsGroup, ids: Sequence[str]
) -> list[Ec2Instance]:
    found = {
        r.id: r
        for r in s.scalars(
            select(Ec2Instance).where(Ec2Instance.account_id == account_id, Ec2Instance.id.in_(ids))
        )
    }
    members = set(
        s.scalars(
            select(AsInstance.instance_id).where(
                AsInstance.instance_id.in_(ids), AsInstance.lifecycle_state.not_in(GONE)
            )
        )
    )
    zones = set(rows.names(group.availability_zones))
    for instance_id in ids:
        instance = found.get(instance_id)
        if instance is None:
            raise errors.validation(f"Instance {instance_id} is not valid")
        if instance.state not in ("pending", "running"):
            raise errors.validation(
                f"The instance {instance_id} is not in correct state. It must be running."
            )
        if instance_id in members:
            raise errors.validation(
                f"The instance {instance_id} is already part of an Auto Scaling group"
            )
        if instance.availability_zone not in zones:
            raise errors.validation(
                f"The instance {instance_id} is not in one of the group's Availability Zones"
            )
    return [found[i] for i in ids]


def attach_instances(rt: Runtime, ctx: RequestContext, params: Params) -> Result:
    account = ctx.principal.account_id
    ids = list(dict.fromkeys(rows.strings(params, "InstanceIds")))
    at = rows.epoch()
    with rt.store.session() as s:
        group = rows.group(s, account, rows.group_name(params), lock=True)
        found = _attachable(s, account, group, ids)
        old = group.desired_capacity
        new = old + len(found)
        if new > group.max_size:
            raise errors.validation(
                f"Desired capacity:{new} must be between the specified min size:"
                f"{group.min_size} and max size:{group.max_size}"
            )
        for i, instance in enumerate(found):
            s.add(
                AsInstance(
                    instance_id=instance.id,
                    group_id=group.id,
                    account_id=account,
                    zone=instance.availability_zone,
                    lifecycle_state="InService",
                    health_status="Healthy",
                    instance_type=instance.instance_type,
                    protected_from_scale_in=group.new_instances_protected,
                    launched_at=at,
                )
            )
            activities.record(
                s,
                group,
                "attach",
                instance.id,
                instance.availability_zone,
                f"Attaching an existing EC2 instance: {instance.id}",
                f"At {rows.stamp(at)} an instance was added in response to user request. "
                f"Keeping the capacity at the new {old + i + 1}.",
                status="Successful",
                at=at,
            )
        if new != old:
            group.desired_capacity = new
            group.capacity_cause = (
                f"At {rows.stamp(at)} a user request attached instances, increasing the "
                f"capacity from {old} to {new}."
            )
    return {}


def detach_instances(rt: Runtime, ctx: RequestContext, params: Params) -> Result:
    account = ctx.principal.account_id
    ids = list(dict.fromkeys(rows.strings(params, "InstanceIds")))
    decrement = params.get("ShouldDecrementDesiredCapacity")
    if decrement is None:
        raise errors.validation("ShouldDecrementDesiredCapacity is required")
    at = rows.epoch()
    out: list[dict[str, Any]] = []
    with rt.store.session() as s:
        group = rows.group(s, account, rows.group_name(params), lock=True)
        found = _in_group(s, group, ids)
        for row in found:
            if row.lifecycle_state in LEAVING:
                # Its terminate (or detach) is under way: detaching it would lose that.
                raise errors.validation(
                    f"The instance {row.instance_id} is already {row.lifecycle_state.lower()}."
                )
        old = group.desired_capacity
        new = _shrink(group, len(found)) if decrement else old
        for row in found:
            balanced = bool(rows.names(row.registered_lbs))
            cause = f"At {rows.stamp(at)} instance {row.instance_id} was detached in response to "
            cause += "a user request"
            cause += f", shrinking the capacity from {old} to {new}." if new != old else "."
            activity = activities.record(
                s,
                group,
                "detach",
                row.instance_id,
                row.zone,
                f"Detaching EC2 instance: {row.instance_id}",
                cause,
                # The engine deregisters it from the group's load balancers first.
                status="InProgress" if balanced else "Successful",
                at=at,
            )
            if balanced:
                row.lifecycle_state = "Detaching"
            else:
                s.delete(row)
            s.flush()
            out.append(activities.activity_out(activity))
        if new != old:
            group.desired_capacity = new
            group.capacity_cause = out[0]["Cause"] if out else group.capacity_cause
    return {"Activities": out}


OPERATIONS: Operations = {
    "DescribeAutoScalingInstances": describe_auto_scaling_instances,
    "SetInstanceHealth": set_instance_health,
    "SetInstanceProtection": set_instance_protection,
    "TerminateInstanceInAutoScalingGroup": terminate_instance_in_auto_scaling_group,
    "AttachInstances": attach_instances,
    "DetachInstances": detach_instances,
}
