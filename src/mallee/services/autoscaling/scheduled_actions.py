"""PutScheduledUpdateGroupAction, BatchPutScheduledUpdateGroupAction, DeleteScheduledAction,
BatchDeleteScheduledAction and DescribeScheduledActions. The API computes each action's
`next_run_at` (one-time: its StartTime; recurring: the next cron moment in its time zone);
the engine runs it then."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from mallee import cron
from mallee.api.context import RequestContext
from mallee.api.errors import ServiceError
from mallee.services import page_tokens
from mallee.services.autoscaling import arns, errors, rows
from mallee.services.base import Operations, Params, Result, Runtime
from mallee.store.tables.autoscaling import AsGroup, AsScheduledAction

MAX_PER_GROUP = 125


def _epoch(value: Any) -> float | None:
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        aware = value if value.tzinfo else value.replace(tzinfo=dt.UTC)
        return aware.timestamp()
    return float(value)


def next_run(
    start: float | None, end: float | None, recurrence: str, time_zone: str, at: float
) -> float | None:
    """When the engine runs the action next (None: never again)."""
    if not recurrence:
        return start
    after = max(at, start - 1e-6) if start is not None else at
    when = cron.next_after(recurrence, time_zone, after)
    if when is None or (end is not None and when > end):
        return None
    return when


def _checked(item: Params, at: float) -> dict[str, Any]:
    start = _epoch(item.get("StartTime", item.get("Time")))
    end = _epoch(item.get("EndTime"))
    recurrence = str(item.get("Recurrence") or "")
    time_zone = str(item.get("TimeZone") or "")
    sizes = {k: item.get(k) for k in ("MinSize", "MaxSize", "DesiredCapacity")}
    if all(v is None for v in sizes.values()):
        raise errors.validation(
            "At least one of MinSize, MaxSize or DesiredCapacity must be specified"
        )
    # Negative sizes would reach the group when the action runs.
    low, high, desired = (rows.integer(item, k) for k in sizes)
    if low is not None and high is not None and low > high:
        raise errors.bounds(low, high)
    if desired is not None and (
        (low is not None and desired < low) or (high is not None and desired > high)
    ):
        raise errors.desired_outside(desired, low or 0, high if high is not None else desired)
    if start is None and not recurrence:
        raise errors.validation("Either StartTime or Recurrence must be specified")
    if start is not None and end is not None and end <= start:
        raise errors.validation("End time must be after start time")
    if not recurrence and start is not None and start < at:
        raise errors.validation("Given start time is in the past")
    try:
        nxt = next_run(start, end, recurrence, time_zone, at)
    except cron.CronError as err:
        message = str(err)
        if "time zone" in message and time_zone:
            raise errors.validation(f"Invalid time zone: {time_zone}") from None
        raise errors.validation(f"Given recurrence string is not valid: {message}") from None
    return {
        "start_time": start,
        "end_time": end,
        "recurrence": recurrence,
        "time_zone": time_zone,
        "min_size": low,
        "max_size": high,
        "desired_capacity": desired,
        "next_run_at": nxt,
    }


def _put(s: Session, group: AsGroup, name: str, item: Params, at: float) -> None:
    if not name:
        raise errors.validation("ScheduledActionName is required")
    values = _checked(item, at)
    row = s.scalars(
        select(AsScheduledAction).where(
            AsScheduledAction.group_id == group.id, AsScheduledAction.name == name
        )
    ).first()
    if row is None:
        count = s.scalar(select(func.count()).where(AsScheduledAction.group_id == group.id)) or 0
        if count >= MAX_PER_GROUP:
            raise errors.limit_exceeded(
                f"Exceeded the maximum number of scheduled actions ({MAX_PER_GROUP}) per group"
            )
        row = AsScheduledAction(
            id=str(uuid.uuid4()), account_id=group.account_id, group_id=group.id, name=name
        )
        s.add(row)
    for key, value in values.items():
        setattr(row, key, value)
    s.flush()


def put_scheduled_update_group_action(rt: Runtime, ctx: RequestContext, params: Params) -> Result:
    at = rows.epoch()
    with rt.store.session() as s:
        group = rows.group(s, ctx.principal.account_id, rows.group_name(params))
        _put(s, group, str(params.get("ScheduledActionName") or ""), params, at)
    return {}


def batch_put_scheduled_update_group_action(
    rt: Runtime, ctx: RequestContext, params: Params
) -> Result:
    at = rows.epoch()
    failed: list[dict[str, str]] = []
    for item in params.get("ScheduledUpdateGroupActions") or []:
        name = str(item.get("ScheduledActionName") or "")
        try:
            with rt.store.session() as s:
                group = rows.group(s, ctx.principal.account_id, rows.group_name(params))
                _put(s, group, name, item, at)
        except ServiceError as err:
            if err.message.startswith("AutoScalingGroup name not found"):
                raise
            failed.append(
                {"ScheduledActionName": name, "ErrorCode": err.code, "ErrorMessage": err.message}
            )
    return {"FailedScheduledUpdateGroupActions": failed}


def _not_found(name: str) -> ServiceError:
    return errors.validation(
        f"Scheduled Update Group Action name not found - Could not find scheduled action {name}"
    )


def _delete(s: Session, group: AsGroup, name: str) -> None:
    row = s.scalars(
        select(AsScheduledAction).where(
            AsScheduledAction.group_id == group.id, AsScheduledAction.name == name
        )
    ).first()
    if row is None:
        raise _not_found(name)
    s.delete(row)


def delete_scheduled_action(rt: Runtime, ctx: RequestContext, params: Params) -> Result:
    with rt.store.session() as s:
        group = rows.group(s, ctx.principal.account_id, rows.group_name(params))
        _delete(s, group, str(params.get("ScheduledActionName") or ""))
    return {}


def batch_delete_scheduled_action(rt: Runtime, ctx: RequestContext, params: Params) -> Result:
    failed: list[dict[str, str]] = []
    with rt.store.session() as s:
        group = rows.group(s, ctx.principal.account_id, rows.group_name(params))
        for name in rows.strings(params, "ScheduledActionNames"):
            try:
                _delete(s, group, name)
            except ServiceError as err:
                failed.append(
                    {
                        "ScheduledActionName": name,
                        "ErrorCode": err.code,
                        "ErrorMessage": err.message,
                    }
                )
    return {"FailedScheduledActions": failed}


def _describe(row: AsScheduledAction, group: str, region: str) -> dict[str, Any]:
    shown = row.next_run_at if row.next_run_at is not None else row.start_time
    out: dict[str, Any] = {
        "AutoScalingGroupName": group,
        "ScheduledActionName": row.name,
        "ScheduledActionARN": arns.scheduled_arn(region, row.account_id, row.id, group, row.name),
    }
    optional = {
        "Time": rows.moment(shown),
        "StartTime": rows.moment(shown),
        "EndTime": rows.moment(row.end_time),
        "Recurrence": row.recurrence or None,
        "MinSize": row.min_size,
        "MaxSize": row.max_size,
        "DesiredCapacity": row.desired_capacity,
        "TimeZone": row.time_zone or None,
    }
    out.update({k: v for k, v in optional.items() if v is not None})
    return out


def describe_scheduled_actions(rt: Runtime, ctx: RequestContext, params: Params) -> Result:
    size = rows.page_size(params)
    start = rows.page_start(params)
    stmt = (
        select(AsScheduledAction, AsGroup.name)
        .join(AsGroup, AsGroup.id == AsScheduledAction.group_id)
        .where(AsScheduledAction.account_id == ctx.principal.account_id)
    )
    if params.get("AutoScalingGroupName"):
        stmt = stmt.where(AsGroup.name == str(params["AutoScalingGroupName"]))
    wanted = rows.strings(params, "ScheduledActionNames")
    if wanted:
        stmt = stmt.where(AsScheduledAction.name.in_(wanted))
    begin, finish = _epoch(params.get("StartTime")), _epoch(params.get("EndTime"))
    if begin is not None:
        stmt = stmt.where(AsScheduledAction.next_run_at >= begin)
    if finish is not None:
        stmt = stmt.where(AsScheduledAction.next_run_at <= finish)
    if start is not None:
        stmt = stmt.where(AsScheduledAction.id > start)
    with rt.store.read() as s:
        found = s.execute(stmt.order_by(AsScheduledAction.id).limit(size + 1)).all()
        out: Result = {
            "ScheduledUpdateGroupActions": [_describe(r, g, ctx.region) for r, g in found[:size]]
        }
    if len(found) > size:
        out["NextToken"] = page_tokens.encode(found[size - 1][0].id)
    return out


OPERATIONS: Operations = {
    "PutScheduledUpdateGroupAction": put_scheduled_update_group_action,
    "BatchPutScheduledUpdateGroupAction": batch_put_scheduled_update_group_action,
    "DeleteScheduledAction": delete_scheduled_action,
    "BatchDeleteScheduledAction": batch_delete_scheduled_action,
    "DescribeScheduledActions": describe_scheduled_actions,
}
