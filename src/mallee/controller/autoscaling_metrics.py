"""AWS/AutoScaling group metrics, once a minute for each group with metrics collection enabled
(EnableMetricsCollection), under the AutoScalingGroupName dimension.

Each is the group's state sampled once in the minute, filed at the minute's start. Which
minutes are done is kept in memory: a controller restarted within a minute samples that minute
again, which adds a second sample (the same Average, Minimum and Maximum) rather than losing
one. The AWS/EC2 metrics of the group's instances carry AutoScalingGroupName through the
instances' aws:autoscaling:groupName tag (controller/builtin_metrics.py).
"""

from __future__ import annotations

from collections.abc import Iterable

from mallee.controller.autoscaling_rows import GroupView, loads
from mallee.metrics import store as metric_store
from mallee.metrics.points import Datum
from mallee.store import Store

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


class GroupMetrics:
    def __init__(self) -> None:
        self._done: dict[str, float] = {}

    def publish(self, store: Store, views: Iterable[GroupView], now: float) -> int:
        minute = float(int(now // PERIOD) * PERIOD)
        out: list[Datum] = []
        for view in views:
            if self._done.get(view.group.id) == minute:
                continue
            points = data(view, minute)
            if points:
                out.extend(points)
                self._done[view.group.id] = minute
        if out:
            with store.session() as s:
                metric_store.put(s, out, now=now)
        return len(out)

    def forget(self, live: set[str]) -> None:
        for gid in set(self._done) - live:
            del self._done[gid]
