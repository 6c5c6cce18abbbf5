"""What one pass of the group engine reads (in one read transaction), and the activity rows it
writes: AWS's cause texts and the conditional updates that end an activity."""

from __future__ import annotations

import json
import time
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from mallee.store import Store
from mallee.store.tables.autoscaling import (
    AsActivity,
    AsGroup,
    AsInstance,
    AsLaunchConfiguration,
    AsTag,
)
from mallee.store.tables.ec2 import Ec2Instance
from mallee.store.tables.elb import ElbInstanceHealth, ElbLoadBalancer
from mallee.store.tables.vpc import Ec2Subnet

DELETING = "Delete in progress"
# Lifecycle states that hold a place in the group's capacity.
LIVE = ("Pending", "InService")
# Every state but Terminated and Detached: the instance is still the group's concern.
GONE = ("Terminated", "Detached")


def stamp(moment: float) -> str:
    """AWS's time in cause texts: 2016-03-23T18:55:23Z."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(moment))


def join_causes(*parts: str) -> str:
    """AWS separates the sentences of a cause by two spaces."""
    return "  ".join(p.strip() for p in parts if p.strip())


def loads(text: str, default: Any) -> Any:
    try:
        return json.loads(text) if text else default
    except ValueError:
        return default


@dataclass(frozen=True, slots=True)
class Ec2State:
    state: str
    node: str | None
    reason: str


@dataclass(slots=True)
class GroupView:
    group: AsGroup
    instances: list[AsInstance] = field(default_factory=list)
    # InProgress activities of the group.
    open: list[AsActivity] = field(default_factory=list)
    tags: list[AsTag] = field(default_factory=list)
    config: AsLaunchConfiguration | None = None

    @property
    def suspended(self) -> set[str]:
        return {str(p[0]) for p in loads(self.group.suspended_processes, []) if p}

    @property
    def deleting(self) -> bool:
        return self.group.status == DELETING

    def live(self) -> list[AsInstance]:
        return [i for i in self.instances if i.lifecycle_state in LIVE]

    def launching(self) -> list[AsActivity]:
        """Launch activities whose instance is not yet recorded (a call in flight or lost)."""
        return [a for a in self.open if a.kind == "launch" and not a.instance_id]

    def open_for(self, instance_id: str, kind: str) -> AsActivity | None:
        for a in self.open:
            if a.instance_id == instance_id and a.kind == kind:
                return a
        return None


@dataclass(slots=True)
class Snapshot:
    groups: list[GroupView]
    ec2: dict[str, Ec2State]
    # (account, load balancer name) -> instance id -> the states its workers report.
    lb_health: dict[tuple[str, str], dict[str, list[str]]]
    # (account, subnet id) -> zone.
    subnet_zones: dict[tuple[str, str], str]
    # Launch configurations' creation times, by (account, name).
    config_times: dict[tuple[str, str], float]


def load(store: Store) -> Snapshot:
    with store.read() as s:
        groups = {g.id: GroupView(g) for g in s.scalars(select(AsGroup).order_by(AsGroup.name))}
        if not groups:
            return Snapshot([], {}, {}, {}, {})
        for inst in s.scalars(select(AsInstance).where(AsInstance.lifecycle_state.not_in(GONE))):
            if inst.group_id in groups:
                groups[inst.group_id].instances.append(inst)
        for act in s.scalars(
            select(AsActivity)
            .where(AsActivity.status_code == "InProgress")
            .order_by(AsActivity.start_time)
        ):
            if act.group_id in groups:
                groups[act.group_id].open.append(act)
        for tag in s.scalars(select(AsTag)):
            if tag.group_id in groups:
                groups[tag.group_id].tags.append(tag)
        configs = {(c.account_id, c.name): c for c in s.scalars(select(AsLaunchConfiguration))}
        for view in groups.values():
            g = view.group
            view.config = configs.get((g.account_id, g.launch_configuration_name))
        ids = [i.instance_id for v in groups.values() for i in v.instances]
        ids += [a.instance_id for v in groups.values() for a in v.open if a.instance_id]
        ec2 = _ec2_states(s, ids)
        return Snapshot(
            groups=list(groups.values()),
            ec2=ec2,
            lb_health=_lb_health(s, list(groups.values())),
            subnet_zones=_subnet_zones(s, list(groups.values())),
            config_times={k: c.created_at.timestamp() for k, c in configs.items()},
        )


def _ec2_states(s: Session, ids: list[str]) -> dict[str, Ec2State]:
    out: dict[str, Ec2State] = {}
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        rows = s.execute(
            select(
                Ec2Instance.id,
                Ec2Instance.state,
                Ec2Instance.node,
                Ec2Instance.state_reason_message,
            ).where(Ec2Instance.id.in_(chunk))
        )
        for iid, state, node, reason in rows:
            out[iid] = Ec2State(state, node, reason or "")
    return out


def _lb_health(s: Session, views: list[GroupView]) -> dict[tuple[str, str], dict[str, list[str]]]:
    accounts = {v.group.account_id for v in views if v.group.health_check_type == "ELB"}
    out: dict[tuple[str, str], dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    if not accounts:
        return out
    rows = s.execute(
        select(
            ElbLoadBalancer.account_id,
            ElbLoadBalancer.name,
            ElbInstanceHealth.instance_id,
            ElbInstanceHealth.state,
        )
        .join(ElbInstanceHealth, ElbInstanceHealth.lb_id == ElbLoadBalancer.id)
        .where(ElbLoadBalancer.account_id.in_(accounts))
    )
    for account, name, iid, state in rows:
        out[(account, name)][iid].append(state)
    return out


def _subnet_zones(s: Session, views: list[GroupView]) -> dict[tuple[str, str], str]:
    wanted = {
        sid.strip() for v in views for sid in v.group.vpc_zone_identifier.split(",") if sid.strip()
    }
    if not wanted:
        return {}
    rows = s.execute(
        select(Ec2Subnet.account_id, Ec2Subnet.id, Ec2Subnet.zone).where(
            Ec2Subnet.id.in_(sorted(wanted))
        )
    )
    return {(account, sid): zone for account, sid, zone in rows}


def new_activity(
    s: Session,
    group: AsGroup,
    *,
    kind: str,
    description: str,
    cause: str,
    now: float,
    instance_id: str = "",
    zone: str = "",
    subnet: str = "",
) -> AsActivity:
    details: dict[str, str] = {}
    if subnet:
        details["Subnet ID"] = subnet
    if zone:
        details["Availability Zone"] = zone
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
        details=json.dumps(details),
        status_code="InProgress",
        status_message="",
        progress=0,
        start_time=now,
        end_time=None,
    )
    s.add(row)
    return row


def end_activity(
    s: Session,
    activity_id: str,
    *,
    ok: bool,
    now: float,
    message: str = "",
    description: str | None = None,
) -> bool:
    """Ends an activity still InProgress; False when another pass ended it first."""
    values: dict[str, Any] = {
        "status_code": "Successful" if ok else "Failed",
        "status_message": message,
        "progress": 100,
        "end_time": now,
    }
    if description is not None:
        values["description"] = description
    result = s.execute(
        update(AsActivity)
        .where(AsActivity.id == activity_id, AsActivity.status_code == "InProgress")
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    return getattr(result, "rowcount", 0) == 1


def start_cooldown(s: Session, group: AsGroup, now: float) -> None:
    """The contract's `cooldown_until` is the cooldown's start (when the last activity ended):
    the API adds the policy's Cooldown, or the group's default, when HonorCooldown asks."""
    s.execute(
        update(AsGroup)
        .where(AsGroup.id == group.id, AsGroup.cooldown_until < now)
        .values(cooldown_until=now)
        .execution_options(synchronize_session=False)
    )
