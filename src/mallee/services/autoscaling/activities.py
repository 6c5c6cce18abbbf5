"""DescribeScalingActivities (newest first, paged), and the activities the API itself records
(terminating, attaching or detaching an instance at a user's request)."""

from __future__ import annotations

import json
import uuid
from typing import Any

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from mallee.api.context import RequestContext
from mallee.services import page_tokens
from mallee.services.autoscaling import arns, errors, rows
from mallee.services.base import Operations, Params, Result, Runtime
from mallee.store.tables.autoscaling import AsActivity, AsGroup


def record(
    s: Session,
    group: AsGroup,
    kind: str,
    instance_id: str,
    zone: str,
    description: str,
    cause: str,
    *,
    status: str = "InProgress",
    at: float,
) -> AsActivity:
    done = status in ("Successful", "Failed", "Cancelled")
    row = AsActivity(
        id=str(uuid.uuid4()),
        account_id=group.account_id,
        group_id=group.id,
        group_name=group.name,
        kind=kind,
        instance_id=instance_id,
        zone=zone,
        description=description,
        cause=cause,
        details=json.dumps({"Availability Zone": zone} if zone else {}),
        status_code=status,
        progress=100 if done else 50,
        start_time=at,
        end_time=at if done else None,
    )
    s.add(row)
    return row


def activity_out(row: AsActivity, region: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {
        "ActivityId": row.id,
        "AutoScalingGroupName": row.group_name,
        "Description": row.description,
        "Cause": row.cause,
        "StartTime": rows.moment(row.start_time),
        "StatusCode": row.status_code,
        "Progress": row.progress,
        "Details": row.details,
    }
    if row.end_time is not None:
        out["EndTime"] = rows.moment(row.end_time)
    if row.status_message:
        out["StatusMessage"] = row.status_message
    if region:
        out["AutoScalingGroupARN"] = arns.group_arn(
            region, row.account_id, row.group_id, row.group_name
        )
    return out


def describe_scaling_activities(rt: Runtime, ctx: RequestContext, params: Params) -> Result:
    account = ctx.principal.account_id
    size = rows.page_size(params, 100, 100)
    start = rows.page_start(params)
    ids = rows.strings(params, "ActivityIds")
    stmt = select(AsActivity).where(AsActivity.account_id == account)
    group = params.get("AutoScalingGroupName")
    with rt.store.read() as s:
        if group:
            # AWS lists a deleted group's activities for a while; a name never seen is an error.
            seen = s.scalar(
                select(AsActivity.id).where(
                    AsActivity.account_id == account, AsActivity.group_name == str(group)
                )
            ) or s.scalar(
                select(AsGroup.id).where(AsGroup.account_id == account, AsGroup.name == group)
            )
            if seen is None:
                raise errors.group_not_found(str(group))
            stmt = stmt.where(AsActivity.group_name == str(group))
        if ids:
            stmt = stmt.where(AsActivity.id.in_(ids))
        if start is not None:
            when, _, last = start.partition("\x00")
            t = float(when)
            stmt = stmt.where(
                or_(
                    AsActivity.start_time < t,
                    and_(AsActivity.start_time == t, AsActivity.id < last),
                )
            )
        found = list(
            s.scalars(
                stmt.order_by(AsActivity.start_time.desc(), AsActivity.id.desc()).limit(size + 1)
            )
        )
        out: Result = {"Activities": [activity_out(r, ctx.region) for r in found[:size]]}
    if len(found) > size:
        last_row = found[size - 1]
        out["NextToken"] = page_tokens.encode(f"{last_row.start_time!r}\x00{last_row.id}")
    return out


OPERATIONS: Operations = {"DescribeScalingActivities": describe_scaling_activities}
