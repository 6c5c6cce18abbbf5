"""What PutScalingPolicy accepts per policy type, and what it refuses (ValidationError)."""

from __future__ import annotations

from typing import Any

import pytest

from mallee.api.errors import ServiceError
from mallee.services.autoscaling import policy_checks

STEPS = [
    {"MetricIntervalLowerBound": 0, "MetricIntervalUpperBound": 20, "ScalingAdjustment": 1},
    {"MetricIntervalLowerBound": 20, "ScalingAdjustment": 3},
]
TARGET = {
    "PredefinedMetricSpecification": {"PredefinedMetricType": "ASGAverageCPUUtilization"},
    "TargetValue": 50.0,
}


def test_simple_scaling() -> None:
    spec = policy_checks.spec(
        {
            "AdjustmentType": "PercentChangeInCapacity",
            "ScalingAdjustment": 30,
            "MinAdjustmentMagnitude": 2,
            "Cooldown": 60,
        }
    )
    assert (spec.policy_type, spec.adjustment_type) == ("SimpleScaling", "PercentChangeInCapacity")
    assert (spec.scaling_adjustment, spec.min_adjustment_magnitude, spec.cooldown) == (30, 2, 60)


def test_step_scaling() -> None:
    spec = policy_checks.spec(
        {
            "PolicyType": "StepScaling",
            "AdjustmentType": "ChangeInCapacity",
            "StepAdjustments": STEPS,
        }
    )
    assert spec.steps == STEPS and spec.metric_aggregation_type == "Average"


def test_target_tracking() -> None:
    spec = policy_checks.spec(
        {"PolicyType": "TargetTrackingScaling", "TargetTrackingConfiguration": TARGET}
    )
    assert spec.target_tracking == TARGET and spec.adjustment_type == ""


@pytest.mark.parametrize(
    "params",
    [
        {"AdjustmentType": "ChangeInCapacity"},
        {"AdjustmentType": "Sideways", "ScalingAdjustment": 1},
        {"ScalingAdjustment": 1},
        {"AdjustmentType": "ChangeInCapacity", "ScalingAdjustment": 1, "MinAdjustmentMagnitude": 1},
        {"AdjustmentType": "ExactCapacity", "ScalingAdjustment": -1},
        {"PolicyType": "StepScaling", "AdjustmentType": "ChangeInCapacity"},
        {
            "PolicyType": "StepScaling",
            "AdjustmentType": "ChangeInCapacity",
            "StepAdjustments": STEPS,
            "Cooldown": 60,
        },
        {"PolicyType": "TargetTrackingScaling"},
        {
            "PolicyType": "TargetTrackingScaling",
            "TargetTrackingConfiguration": TARGET,
            "AdjustmentType": "ChangeInCapacity",
        },
        {"PolicyType": "PredictiveScaling"},
        # Negative seconds, and a target no alarm threshold can hold.
        {"AdjustmentType": "ChangeInCapacity", "ScalingAdjustment": 1, "Cooldown": -1},
        {
            "PolicyType": "StepScaling",
            "AdjustmentType": "ChangeInCapacity",
            "StepAdjustments": STEPS,
            "EstimatedInstanceWarmup": -1,
        },
        {
            "PolicyType": "TargetTrackingScaling",
            "TargetTrackingConfiguration": {**TARGET, "TargetValue": float("inf")},
        },
    ],
)
def test_refused(params: dict[str, Any]) -> None:
    with pytest.raises(ServiceError) as err:
        policy_checks.spec(params)
    assert (err.value.code, err.value.status) == ("ValidationError", 400)
