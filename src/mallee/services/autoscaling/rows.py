"""The rows every Auto Scaling operation starts from: the caller's group or launch
configuration by name, the JSON list columns, the cloud's zones, the time as causes spell it,
and bounded integers of the request."""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from mallee.registry import properties
from mallee.services import page_tokens
from mallee.services.autoscaling import errors
from mallee.services.base import Params, Runtime
from mallee.store import Store
from mallee.store.tables.autoscaling import AsGroup, AsLaunchConfiguration
from mallee.store.tables.compute import NodeRow

DELETING = "Delete in progress"
GROUPS_QUOTA = "services.autoscaling.max_groups_per_account"
LCS_QUOTA = "services.autoscaling.max_launch_configurations_per_account"


def epoch() -> float:
    return time.time()


def stamp(when: float) -> str:
    """2026-12-07T20:00:00Z: how AWS's cause texts spell a moment."""
    return dt.datetime.fromtimestamp(int(when), dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def moment(when: float | None) -> dt.datetime | None:
    return None if when is None else dt.datetime.fromtimestamp(when, dt.UTC)


def names(text: str) -> list[Any]:
    value = json.loads(text or "[]")
    return list(value) if isinstance(value, list) else []


def dump(values: Sequence[Any]) -> str:
    return json.dumps(list(values))


def strings(params: Params, key: str) -> list[str]:
    return [str(v) for v in params.get(key) or []]


def integer(params: Params, key: str, low: int = 0, high: int = 2**31 - 1) -> int | None:
    value = params.get(key)
    if value is None:
        return None
    number = int(value)
    if not low <= number <= high:
        raise errors.validation(f"{key} must be between {low} and {high}: {number}")
    return number


def group(
    s: Session, account_id: str, name: str, *, deleting: bool = False, lock: bool = False
) -> AsGroup:
    """The caller's group `name` (not one being deleted, unless `deleting`); `lock` for a
    write that reads the row first (on PostgreSQL, so two such writes never lose one)."""
    stmt = select(AsGroup).where(AsGroup.account_id == account_id, AsGroup.name == name)
    found = s.scalars(stmt.with_for_update() if lock else stmt).first()
    if found is None or (found.status == DELETING and not deleting):
        raise errors.group_not_found(name)
    return found


def group_name(params: Params) -> str:
    name = params.get("AutoScalingGroupName")
    if not name:
        raise errors.validation("AutoScalingGroupName is required")
    return str(name)


def launch_configuration(s: Session, account_id: str, name: str) -> AsLaunchConfiguration:
    found = s.scalars(
        select(AsLaunchConfiguration).where(
            AsLaunchConfiguration.account_id == account_id, AsLaunchConfiguration.name == name
        )
    ).first()
    if found is None:
        raise errors.lc_not_found(name)
    return found


def cloud_zones(rt: Runtime, s: Session) -> list[str]:
    """The cloud's zones as EC2's DescribeAvailabilityZones lists them (its nodes' and the
    cloud-in-a-box's own)."""
    return sorted(set(s.scalars(select(NodeRow.zone)).all()) | {rt.settings.zone})


def known_zones(rt: Runtime, s: Session, wanted: Sequence[str]) -> list[str]:
    zones = set(cloud_zones(rt, s))
    unknown = [z for z in wanted if z not in zones]
    if unknown:
        raise errors.validation(f"Invalid Availability Zone: {unknown[0]}")
    return list(dict.fromkeys(wanted))


def quota(store: Store, name: str) -> int:
    return properties.get_int(store, name)


def page_start(params: Params) -> str | None:
    token = params.get("NextToken")
    if not token:
        return None
    key = page_tokens.decode(str(token))
    if key is None:
        raise errors.invalid_token(str(token))
    return key


def page_size(params: Params, default: int = 50, high: int = 100) -> int:
    size = integer(params, "MaxRecords", 1, high)
    return default if size is None else size
