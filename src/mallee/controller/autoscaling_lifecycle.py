"""The lifecycle moves of a group's instances, each one transaction: a conditional UPDATE of the
instance from the state the pass read, with the end of its open activity and the start of the
group's cooldown when the move ends one."""

from __future__ import annotations

from sqlalchemy import delete, update

from mallee.controller.autoscaling_rows import (
    GroupView,
    end_activity,
    new_activity,
    start_cooldown,
)
from mallee.store import Store
from mallee.store.tables.autoscaling import AsInstance


def move(
    store: Store,
    view: GroupView,
    inst: AsInstance,
    to: str,
    now: float,
    *,
    ends: str = "",
    ok: bool = True,
    message: str = "",
    **values: object,
) -> bool:
    """`inst` from the lifecycle state read to `to`; `ends` names the kind of its open activity
    the move ends (Successful when `ok`, which starts the cooldown, else Failed with
    `message`). False when another pass moved it first."""
    with store.session() as s:
        result = s.execute(
            update(AsInstance)
            .where(
                AsInstance.instance_id == inst.instance_id,
                AsInstance.lifecycle_state == inst.lifecycle_state,
            )
            .values(lifecycle_state=to, **values)
            .execution_options(synchronize_session=False)
        )
        if getattr(result, "rowcount", 0) != 1:
            return False
        act = view.open_for(inst.instance_id, ends) if ends else None
        if act is not None:
            end_activity(s, act.id, ok=ok, now=now, message=message)
            if ok:
                start_cooldown(s, view.group, now)
    inst.lifecycle_state = to
    for key, value in values.items():
        setattr(inst, key, value)
    return True


def in_service(store: Store, view: GroupView, inst: AsInstance, now: float) -> bool:
    return move(store, view, inst, "InService", now, ends="launch")


def launch_failed(store: Store, view: GroupView, inst: AsInstance, reason: str, now: float) -> bool:
    message = f"{reason.rstrip('.')}. Launching EC2 instance failed."
    return move(store, view, inst, "Terminated", now, ends="launch", ok=False, message=message)


def terminated(store: Store, view: GroupView, inst: AsInstance, now: float) -> bool:
    return move(store, view, inst, "Terminated", now, ends="terminate", registered_lbs="[]")


def detached(store: Store, view: GroupView, inst: AsInstance, now: float) -> bool:
    """A detaching instance out of its load balancers leaves the group (as DetachInstances
    removes one that had none), its detach activity Successful."""
    with store.session() as s:
        result = s.execute(
            delete(AsInstance).where(
                AsInstance.instance_id == inst.instance_id,
                AsInstance.lifecycle_state == "Detaching",
            )
        )
        if getattr(result, "rowcount", 0) != 1:
            return False
        act = view.open_for(inst.instance_id, "detach")
        if act is not None:
            end_activity(s, act.id, ok=True, now=now)
    inst.lifecycle_state = "Detached"
    return True


def begin_terminate(
    store: Store, view: GroupView, inst: AsInstance, cause: str, now: float, *, unhealthy: bool
) -> str:
    """Terminating and its activity in one transaction; the activity's id, or "" when another
    pass moved the instance first."""
    values: dict[str, object] = {"lifecycle_state": "Terminating"}
    if unhealthy:
        values["health_status"] = "Unhealthy"
    with store.session() as s:
        result = s.execute(
            update(AsInstance)
            .where(
                AsInstance.instance_id == inst.instance_id,
                AsInstance.lifecycle_state == inst.lifecycle_state,
            )
            .values(**values)
            .execution_options(synchronize_session=False)
        )
        if getattr(result, "rowcount", 0) != 1:
            return ""
        act = new_activity(
            s,
            view.group,
            kind="terminate",
            description=f"Terminating EC2 instance: {inst.instance_id}",
            cause=cause,
            now=now,
            instance_id=inst.instance_id,
            zone=inst.zone,
        )
        act_id = act.id
    # The move to Terminated later in this pass ends it.
    view.open.append(act)
    inst.lifecycle_state = "Terminating"
    if unhealthy:
        inst.health_status = "Unhealthy"
    return act_id


def mark_unhealthy(store: Store, inst: AsInstance) -> bool:
    """Unhealthy but kept (the group's ReplaceUnhealthy or Terminate process is suspended)."""
    if inst.health_status == "Unhealthy":
        return False
    with store.session() as s:
        s.execute(
            update(AsInstance)
            .where(AsInstance.instance_id == inst.instance_id)
            .values(health_status="Unhealthy")
            .execution_options(synchronize_session=False)
        )
    inst.health_status = "Unhealthy"
    return True
