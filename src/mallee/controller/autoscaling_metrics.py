"""AWS/AutoScaling group metrics, once a minute for each group with metrics collection enabled
(EnableMetricsCollection), under the AutoScalingGroupName dimension.

Each is the group's state sampled once in the minute, filed at the minute's start; the
group's `metrics_minute` says which minute was stored last, moved with the datapoints. The
AWS/EC2 metrics of the group's instances carry AutoScalingGroupName through the
instances' aws:autoscaling:groupName tag (controller/builtin_metrics.py).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, cast

from sqlalchemy import CursorResult, update

from mallee.controller.autoscaling_rows import GroupView, loads
from mallee.metrics import store as metric_store
from mallee.metrics.points import Datum
from mallee.store import Store
from mallee.store.tables.autoscaling import AsGroup

NAMESPACE = "AWS/AutoScaling"
PERIOD = 60
ALL = (
    "GroupMinSize",
    "GroupMaxSize",
    "GroupDesiredCapacity",
    "GroupInServiceInstances",
    "GroupPendingInstances",
    "GroupStandbyInstances",
    "GroupTerminatingInstances",
    "GroupTotalInstances",
    "GroupInServiceCapacity",
    "GroupPendingCapacity",
    "GroupStandbyCapacity",
    "GroupTerminatingCapacity",
    "GroupTotalCapacity",
)


def values(view: GroupView) -> dict[str, float]:
    g = view.group
    counts = {"InService": 0, "Pending": 0, "Standby": 0, "Terminating": 0}
    for inst in view.instances:
        state = inst.lifecycle_state.split(":", 1)[0]
        if state in counts:
            counts[state] += 1
    # Launches whose instance is not recorded yet are pending too.
    counts["Pending"] += len(view.launching())
    total = counts["InService"] + counts["Pending"] + counts["Standby"] + counts["Terminating"]
    out = {
        "GroupMinSize": g.min_size,
        "GroupMaxSize": g.max_size,
        "GroupDesiredCapacity": g.desired_capacity,
        "GroupTotalInstances": total,
        "GroupTotalCapacity": total,
    }
    for state, n in counts.items():
        out[f"Group{state}Instances"] = n
        out[f"Group{state}Capacity"] = n
    return {k: float(v) for k, v in out.items()}


def data(view: GroupView, minute: float) -> list[Datum]:
    enabled = [str(m) for m in loads(view.group.enabled_metrics, [])]
    if not enabled:
        return []
    sample = values(view)
    dims = (("AutoScalingGroupName", view.group.name),)
    return [
        Datum(view.group.account_id, NAMESPACE, name, dims, minute, "None", 1.0, v, v, v)
        for name in enabled
        if (v := sample.get(name)) is not None
    ]


def publish(store: Store, views: Iterable[GroupView], now: float) -> int:
    """Each enabled group's sample of this minute, stored in the transaction that moves
    the group's `metrics_minute` to it (conditional on it being earlier), so a restarted
    or racing controller never stores a minute twice."""
    minute = float(int(now // PERIOD) * PERIOD)
    due = [
        (v.group.id, points)
        for v in views
        if v.group.metrics_minute < minute and (points := data(v, minute))
    ]
    if not due:
        return 0
    out: list[Datum] = []
    with store.session() as s:
        for group_id, points in due:
            moved = s.execute(
                update(AsGroup)
                .where(AsGroup.id == group_id, AsGroup.metrics_minute < minute)
                .values(metrics_minute=minute)
                .execution_options(synchronize_session=False)
            )
            if cast(CursorResult[Any], moved).rowcount == 1:
                out.extend(points)
        if out:
            metric_store.put(s, out, now=now)
    return len(out)
