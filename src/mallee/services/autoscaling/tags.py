"""CreateOrUpdateTags, DeleteTags and DescribeTags: a group's tags, some propagated at launch
(the engine copies those onto the instances it launches)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, delete, func, or_, select
from sqlalchemy.orm import Session

from mallee.api.context import RequestContext
from mallee.services import page_tokens
from mallee.services.autoscaling import errors, rows, views
from mallee.services.base import Operations, Params, Result, Runtime
from mallee.store.tables.autoscaling import AsGroup, AsTag

MAX_TAGS = 50
FILTERS = ("auto-scaling-group", "key", "value", "propagate-at-launch")


@dataclass(frozen=True, slots=True)
class Tag:
    group: str
    key: str
    value: str
    propagate: bool


def parse(items: Sequence[dict[str, Any]], group: str | None = None) -> list[Tag]:
    """Tags of a request; `group` the one CreateAutoScalingGroup names (ResourceId may be
    left out there)."""
    out: list[Tag] = []
    for item in items:
        key = str(item.get("Key") or "")
        if not key:
            raise errors.validation("Tag key must not be empty")
        if key.lower().startswith("aws:"):
            raise errors.validation("Tag keys starting with 'aws:' are reserved for internal use")
        kind = item.get("ResourceType")
        if kind not in (None, "", views.GROUP_TYPE):
            raise errors.validation(f"Invalid resource type: {kind}")
        resource = str(item.get("ResourceId") or group or "")
        if group is not None and resource != group:
            raise errors.validation(f"Tag ResourceId {resource} is not the group {group}")
        if not resource:
            raise errors.validation("Tag ResourceId must not be empty")
        value = str(item.get("Value") or "")
        out.append(Tag(resource, key, value, bool(item.get("PropagateAtLaunch", False))))
    return out


def put(s: Session, group_id: str, tags: Sequence[Tag]) -> None:
    """Creates or updates `tags` on the group, within its quota."""
    for tag in tags:
        row = s.get(AsTag, (group_id, tag.key))
        if row is None:
            s.add(
                AsTag(
                    group_id=group_id,
                    key=tag.key,
                    value=tag.value,
                    propagate_at_launch=tag.propagate,
                )
            )
        else:
            row.value, row.propagate_at_launch = tag.value, tag.propagate
    s.flush()
    count = s.scalar(select(func.count()).where(AsTag.group_id == group_id)) or 0
    if count > MAX_TAGS:
        raise errors.limit_exceeded(
            f"Exceeded the maximum number of tags ({MAX_TAGS}) for an Auto Scaling group"
        )


def create_or_update_tags(rt: Runtime, ctx: RequestContext, params: Params) -> Result:
    tags = parse(params.get("Tags") or [])
    with rt.store.session() as s:
        for name in dict.fromkeys(t.group for t in tags):
            group = rows.group(s, ctx.principal.account_id, name)
            put(s, group.id, [t for t in tags if t.group == name])
    return {}


def delete_tags(rt: Runtime, ctx: RequestContext, params: Params) -> Result:
    items = params.get("Tags") or []
    with rt.store.session() as s:
        for item in items:
            name = str(item.get("ResourceId") or "")
            group = rows.group(s, ctx.principal.account_id, name)
            key = str(item.get("Key") or "")
            if not key:
                raise errors.validation("Tag key must not be empty")
            s.execute(delete(AsTag).where(AsTag.group_id == group.id, AsTag.key == key))
    return {}


def _filters(params: Params) -> list[Any]:
    clauses: list[Any] = []
    for item in params.get("Filters") or []:
        name, values = str(item.get("Name") or ""), [str(v) for v in item.get("Values") or []]
        if name not in FILTERS:
            raise errors.validation(f"Filter type {name} is not correct. Allowed: {FILTERS}")
        if not values:
            continue
        if name == "auto-scaling-group":
            clauses.append(AsGroup.name.in_(values))
        elif name == "key":
            clauses.append(AsTag.key.in_(values))
        elif name == "value":
            clauses.append(AsTag.value.in_(values))
        else:
            flags = {v.lower() == "true" for v in values}
            clauses.append(AsTag.propagate_at_launch.in_(flags))
    return clauses


def describe_tags(rt: Runtime, ctx: RequestContext, params: Params) -> Result:
    size = rows.page_size(params)
    start = rows.page_start(params)
    stmt = (
        select(AsGroup.name, AsTag.key, AsTag.value, AsTag.propagate_at_launch)
        .join(AsGroup, AsGroup.id == AsTag.group_id)
        .where(AsGroup.account_id == ctx.principal.account_id, *_filters(params))
    )
    if start is not None:
        group, _, key = start.partition("\x00")
        stmt = stmt.where(or_(AsGroup.name > group, and_(AsGroup.name == group, AsTag.key > key)))
    with rt.store.read() as s:
        found = s.execute(stmt.order_by(AsGroup.name, AsTag.key).limit(size + 1)).all()
    out: Result = {}
    out["Tags"] = [
        {
            "ResourceId": name,
            "ResourceType": views.GROUP_TYPE,
            "Key": key,
            "Value": value,
            "PropagateAtLaunch": propagate,
        }
        for name, key, value, propagate in found[:size]
    ]
    if len(found) > size:
        last = found[size - 1]
        out["NextToken"] = page_tokens.encode(f"{last[0]}\x00{last[1]}")
    return out


OPERATIONS: Operations = {
    "CreateOrUpdateTags": create_or_update_tags,
    "DeleteTags": delete_tags,
    "DescribeTags": describe_tags,
}
