"""Capacity arithmetic: AWS's rounding of percent changes, MinAdjustmentMagnitude, step
bounds, target tracking, clamping, and the cause texts of a change."""

from __future__ import annotations

import pytest

from mallee.services.autoscaling import capacity
from mallee.services.autoscaling.capacity import Step


@pytest.mark.parametrize(
    "current, percent, change",
    [
        (4, 30, 1),  # 1.2 truncates to 1
        (10, 25, 2),  # 2.5 truncates to 2
        (2, 30, 1),  # 0.6 is between 0 and 1: 1
        (2, -30, -1),  # -0.6: -1
        (10, -25, -2),  # -2.5 truncates toward zero
        (0, 50, 0),  # nothing to take a percent of
        (3, 100, 3),
    ],
)
def test_percent_change_rounds_as_aws(current: int, percent: int, change: int) -> None:
    assert capacity.percent_change(current, percent) == change


def test_adjustment_types() -> None:
    assert capacity.adjusted(3, capacity.CHANGE, 2) == 5
    assert capacity.adjusted(3, capacity.CHANGE, -5) == -2
    assert capacity.adjusted(3, capacity.EXACT, 7) == 7
    assert capacity.adjusted(4, capacity.PERCENT, 30) == 5
    # MinAdjustmentMagnitude raises a small change, either way, and leaves a big one.
    assert capacity.adjusted(4, capacity.PERCENT, 30, 2) == 6
    assert capacity.adjusted(4, capacity.PERCENT, -30, 2) == 2
    assert capacity.adjusted(10, capacity.PERCENT, 50, 2) == 15
    # No change at all stays none.
    assert capacity.adjusted(0, capacity.PERCENT, 30, 2) == 0


def test_clamp() -> None:
    assert capacity.clamp(12, 1, 10) == 10
    assert capacity.clamp(-3, 1, 10) == 1
    assert capacity.clamp(5, 1, 10) == 5


STEPS = [Step(0, 10, 1), Step(10, 20, 2), Step(20, None, 3)]
IN_STEPS = [Step(None, -10, -2), Step(-10, 0, -1)]


@pytest.mark.parametrize(
    "metric, adjustment",
    [(50, 1), (59.9, 1), (60, 2), (69, 2), (70, 3), (500, 3)],
)
def test_step_above_the_threshold(metric: float, adjustment: int) -> None:
    chosen = capacity.step_for(STEPS, metric, 50)
    assert chosen is not None and chosen.adjustment == adjustment


# Below the threshold a step's lower bound is exclusive and its upper inclusive (AWS).
@pytest.mark.parametrize("metric, adjustment", [(50, -1), (45, -1), (41, -1), (40, -2), (0, -2)])
def test_step_below_the_threshold(metric: float, adjustment: int) -> None:
    chosen = capacity.step_for(IN_STEPS, metric, 50)
    assert chosen is not None and chosen.adjustment == adjustment


def test_a_value_outside_every_step_has_none() -> None:
    assert capacity.step_for(STEPS, 40, 50) is None


def test_step_checks() -> None:
    assert capacity.check_steps(STEPS) is None
    assert capacity.check_steps(IN_STEPS) is None
    assert capacity.check_steps([]) is not None
    assert capacity.check_steps([Step(0, 30, 1), Step(20, None, 2)]) is not None  # overlap
    assert capacity.check_steps([Step(0, 10, 1), Step(20, None, 2)]) is not None  # gap
    assert capacity.check_steps([Step(None, 0, 1), Step(None, 10, 2)]) is not None
    assert capacity.check_steps([Step(10, 5, 1)]) is not None


def test_target_tracking_scales_with_the_metric() -> None:
    # Four instances at 80% CPU for a 50% target: 6.4, rounded up.
    assert capacity.target_tracking(4, 80, 50) == 7
    assert capacity.target_tracking(4, 50, 50) == 4
    assert capacity.target_tracking(4, 20, 50) == 2
    # An empty group is counted as one instance.
    assert capacity.target_tracking(0, 100, 50) == 2


def test_cause_texts() -> None:
    at = "2026-12-07T20:00:00Z"
    assert capacity.cause_created(at, 2) == (
        "At 2026-12-07T20:00:00Z a user request created an AutoScalingGroup changing the "
        "desired capacity from 0 to 2."
    )
    assert capacity.cause_set(at, 0, 10) == (
        "At 2026-12-07T20:00:00Z a user request explicitly set group desired capacity "
        "changing the desired capacity from 0 to 10."
    )
    assert capacity.cause_update(at, 1, 4, 1, 2) == (
        "At 2026-12-07T20:00:00Z a user request update of AutoScalingGroup constraints to "
        "min: 1, max: 4, desired: 2 changing the desired capacity from 1 to 2."
    )
    assert capacity.cause_policy(at, "MyScaleoutPolicy", 1, 2, "cpu-high") == (
        "At 2026-12-07T20:00:00Z a monitor alarm cpu-high in state ALARM triggered policy "
        "MyScaleoutPolicy changing the desired capacity from 1 to 2."
    )
    assert capacity.cause_terminate(at, "i-1", 2, 1) == (
        "At 2026-12-07T20:00:00Z instance i-1 was taken out of service in response to a "
        "user request, shrinking the capacity from 2 to 1."
    )
    assert capacity.cause_terminate(at, "i-1", 2, None) == (
        "At 2026-12-07T20:00:00Z instance i-1 was taken out of service in response to a "
        "user request."
    )
