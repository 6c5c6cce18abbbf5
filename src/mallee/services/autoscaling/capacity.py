"""Capacity arithmetic, pure: what a scaling policy makes of the current capacity (AWS's
rounding, MinAdjustmentMagnitude, step bounds, target tracking), clamped to the group's
bounds, and the cause texts AWS records for a change of desired capacity."""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass

CHANGE = "ChangeInCapacity"
EXACT = "ExactCapacity"
PERCENT = "PercentChangeInCapacity"
ADJUSTMENT_TYPES = (CHANGE, EXACT, PERCENT)


@dataclass(frozen=True, slots=True)
class Step:
    """One StepAdjustment: bounds relative to the alarm's threshold (None: unbounded)."""

    lower: float | None
    upper: float | None
    adjustment: int


def percent_change(current: int, percent: int) -> int:
    """AWS: a change between 0 and 1 (either sign) counts as 1; else it truncates toward zero."""
    raw = current * percent / 100
    if 0 < abs(raw) < 1:
        return 1 if raw > 0 else -1
    return int(raw)


def adjusted(
    current: int, adjustment_type: str, adjustment: int, min_magnitude: int | None = None
) -> int:
    """The new capacity before clamping."""
    if adjustment_type == EXACT:
        return adjustment
    if adjustment_type == CHANGE:
        return current + adjustment
    change = percent_change(current, adjustment)
    if min_magnitude and 0 < abs(change) < min_magnitude:
        change = min_magnitude if change > 0 else -min_magnitude
    return current + change


def clamp(value: int, low: int, high: int) -> int:
    return max(low, min(high, value))


def step_for(steps: Sequence[Step], metric: float, threshold: float) -> Step | None:
    """The step whose bounds (relative to `threshold`; lower inclusive, upper exclusive for a
    breach above, as AWS applies them) hold `metric`."""
    delta = metric - threshold
    # At the threshold itself, a scale-in policy (every step at or below it) counts as below.
    below = delta < 0 or (
        delta == 0 and all(st.upper is not None and st.upper <= 0 for st in steps)
    )
    for step in steps:
        lower_ok = step.lower is None or delta >= step.lower
        upper_ok = step.upper is None or delta < step.upper
        if below:
            # Below the threshold AWS's intervals are (lower, upper].
            lower_ok = step.lower is None or delta > step.lower
            upper_ok = step.upper is None or delta <= step.upper
        if lower_ok and upper_ok:
            return step
    return None


def check_steps(steps: Sequence[Step]) -> str | None:
    """Why these step adjustments are not valid (AWS's rules), or None."""
    if not steps:
        return "StepAdjustments is required for a StepScaling policy"
    ordered = sorted(steps, key=lambda st: -math.inf if st.lower is None else st.lower)
    unbounded_low = sum(1 for st in steps if st.lower is None)
    unbounded_high = sum(1 for st in steps if st.upper is None)
    if unbounded_low > 1 or unbounded_high > 1:
        return "Only one step adjustment may have a null bound on each side"
    for a, b in itertools.pairwise(ordered):
        if a.upper is None or b.lower is None or a.upper != b.lower:
            return "Step adjustments must not overlap and must leave no gap between them"
    for st in steps:
        if st.lower is not None and st.upper is not None and st.lower >= st.upper:
            return "A step adjustment's upper bound must be greater than its lower bound"
    return None


def target_tracking(current: int, metric: float, target: float) -> int:
    """Capacity that brings the metric to its target, assuming it scales with the instances;
    rounded up, as AWS keeps the metric at or below the target."""
    if target <= 0:
        return current
    return math.ceil(max(current, 1) * metric / target - 1e-9)


# Cause texts ----------------------------------------------------------------------------------
def cause_created(at: str, desired: int) -> str:
    return (
        f"At {at} a user request created an AutoScalingGroup changing the desired capacity "
        f"from 0 to {desired}."
    )


def cause_set(at: str, old: int, new: int) -> str:
    return (
        f"At {at} a user request explicitly set group desired capacity changing the desired "
        f"capacity from {old} to {new}."
    )


def cause_update(at: str, low: int, high: int, old: int, new: int) -> str:
    return (
        f"At {at} a user request update of AutoScalingGroup constraints to min: {low}, max: "
        f"{high}, desired: {new} changing the desired capacity from {old} to {new}."
    )


def cause_policy(at: str, policy: str, old: int, new: int, alarm: str = "") -> str:
    if alarm:
        return (
            f"At {at} a monitor alarm {alarm} in state ALARM triggered policy {policy} "
            f"changing the desired capacity from {old} to {new}."
        )
    return (
        f"At {at} a user request executed policy {policy} changing the desired capacity from "
        f"{old} to {new}."
    )


def cause_terminate(at: str, instance_id: str, old: int, new: int | None) -> str:
    text = f"At {at} instance {instance_id} was taken out of service in response to a user request"
    if new is not None and new != old:
        text += f", shrinking the capacity from {old} to {new}"
    return text + "."
