"""SetDesiredCapacity, and the one way every operation moves a group's desired capacity: a
conditional UPDATE of desired_capacity with its cause, refused while the group cools down or an
activity is in progress when the caller honours cooldowns."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from mallee.api.context import RequestContext
from mallee.services.autoscaling import capacity, errors, rows
from mallee.services.base import Operations, Params, Result, Runtime
from mallee.store.tables.autoscaling import AsActivity, AsGroup

OPEN = ("InProgress", "PreInService", "WaitingForSpotInstanceId", "PendingSpotBidPlacement")
# A lost race re-reads the group this many times before giving up.
ATTEMPTS = 5


def busy(s: Session, group: AsGroup, cooldown: int, at: float) -> str | None:
    """Why a cooldown-honouring change must wait, or None. `cooldown_until` is when the last
    scaling activity ended, so the cooldown runs from there."""
    if at < group.cooldown_until + cooldown:
        return f"The group {group.name} is in its cooldown period."
    running = s.scalar(
        select(func.count()).where(
            AsActivity.group_id == group.id, AsActivity.status_code.in_(OPEN)
        )
    )
    if running:
        return f"A scaling activity is in progress for the group {group.name}."
    return None


def move(
    rt: Runtime,
    account_id: str,
    name: str,
    target: Callable[[AsGroup], int],
    cause: Callable[[int, int], str],
    *,
    cooldown: Callable[[AsGroup], int] | None = None,
) -> tuple[int, int]:
    """Sets the group's desired capacity to target(group) with cause(old, new) in one
    conditional UPDATE (the desired capacity it read), so a concurrent change is never lost;
    `cooldown` (seconds, per group) when the caller honours cooldowns. (old, new)."""
    for _ in range(ATTEMPTS):
        at = rows.epoch()
        with rt.store.session() as s:
            # Locked: the bounds target() clamps to may not change under it either.
            group = rows.group(s, account_id, name, lock=True)
            if cooldown is not None:
                why = busy(s, group, cooldown(group), at)
                if why is not None:
                    raise errors.activity_in_progress(why)
            old, new = group.desired_capacity, target(group)
            if new == old:
                return old, new
            done = s.execute(
                update(AsGroup)
                .where(AsGroup.id == group.id, AsGroup.desired_capacity == old)
                .values(desired_capacity=new, capacity_cause=cause(old, new))
                .execution_options(synchronize_session=False)
            )
            if getattr(done, "rowcount", 0) == 1:
                return old, new
    raise errors.activity_in_progress(f"The group {name} is being changed by another request.")


def set_desired_capacity(rt: Runtime, ctx: RequestContext, params: Params) -> Result:
    name = rows.group_name(params)
    wanted = rows.integer(params, "DesiredCapacity")
    if wanted is None:
        raise errors.validation("DesiredCapacity is required")

    def target(group: AsGroup) -> int:
        if not group.min_size <= wanted <= group.max_size:
            raise errors.validation(
                f"New SetDesiredCapacity value {wanted} is below min value {group.min_size} "
                "for the AutoScalingGroup."
                if wanted < group.min_size
                else f"New SetDesiredCapacity value {wanted} is above max value "
                f"{group.max_size} for the AutoScalingGroup."
            )
        return wanted

    honor = bool(params.get("HonorCooldown"))
    move(
        rt,
        ctx.principal.account_id,
        name,
        target,
        lambda old, new: capacity.cause_set(rows.stamp(rows.epoch()), old, new),
        cooldown=(lambda g: g.default_cooldown) if honor else None,
    )
    return {}


OPERATIONS: Operations = {"SetDesiredCapacity": set_desired_capacity}
