"""What PutScalingPolicy accepts, per policy type, as AWS checks it (ValidationError)."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any

from mallee.services.autoscaling import capacity, errors, rows
from mallee.services.base import Params

SIMPLE = "SimpleScaling"
STEP = "StepScaling"
TARGET = "TargetTrackingScaling"
TYPES = (SIMPLE, STEP, TARGET)
AGGREGATIONS = ("Minimum", "Maximum", "Average")


@dataclass(slots=True)
class PolicySpec:
    policy_type: str
    adjustment_type: str = ""
    scaling_adjustment: int | None = None
    min_adjustment_magnitude: int | None = None
    cooldown: int | None = None
    metric_aggregation_type: str = ""
    estimated_instance_warmup: int | None = None
    steps: list[dict[str, Any]] = field(default_factory=list)
    target_tracking: dict[str, Any] = field(default_factory=dict)
    enabled: bool = True


def _float(value: Any) -> float | None:
    return None if value is None else float(value)


def steps_of(raw: list[dict[str, Any]]) -> list[capacity.Step]:
    return [
        capacity.Step(
            _float(item.get("MetricIntervalLowerBound")),
            _float(item.get("MetricIntervalUpperBound")),
            int(item["ScalingAdjustment"]),
        )
        for item in raw
    ]


def _adjustment_type(params: Params) -> str:
    kind = str(params.get("AdjustmentType") or "")
    if not kind:
        raise errors.validation("AdjustmentType is required for this policy type")
    if kind not in capacity.ADJUSTMENT_TYPES:
        raise errors.validation(f"Unsupported adjustment type: {kind}")
    return kind


def _magnitude(params: Params, kind: str) -> int | None:
    value = params.get("MinAdjustmentMagnitude", params.get("MinAdjustmentStep"))
    if value is None:
        return None
    if kind != capacity.PERCENT:
        raise errors.validation(
            "MinAdjustmentMagnitude is only supported with PercentChangeInCapacity"
        )
    if int(value) < 1:
        raise errors.validation("MinAdjustmentMagnitude must be at least 1")
    return int(value)


def spec(params: Params) -> PolicySpec:
    kind = str(params.get("PolicyType") or SIMPLE)
    if kind not in TYPES:
        raise errors.validation(f"Unsupported policy type: {kind}")
    warmup = rows.integer(params, "EstimatedInstanceWarmup")
    enabled = bool(params.get("Enabled", True))
    if kind == TARGET:
        config = params.get("TargetTrackingConfiguration")
        if not config:
            raise errors.validation("TargetTrackingConfiguration is required")
        for member in ("AdjustmentType", "ScalingAdjustment", "StepAdjustments", "Cooldown"):
            if params.get(member) is not None:
                raise errors.validation(f"{member} is not supported for {TARGET} policies")
        if config.get("TargetValue") is None:
            raise errors.validation("TargetValue is required")
        if not math.isfinite(float(config["TargetValue"])):
            raise errors.validation(f"TargetValue must be a finite number: {config['TargetValue']}")
        return PolicySpec(
            kind,
            estimated_instance_warmup=warmup,
            target_tracking=json.loads(json.dumps(config, default=str)),
            enabled=enabled,
        )
    adjustment_type = _adjustment_type(params)
    magnitude = _magnitude(params, adjustment_type)
    if kind == SIMPLE:
        if params.get("ScalingAdjustment") is None:
            raise errors.validation("ScalingAdjustment is required for SimpleScaling policies")
        if params.get("StepAdjustments"):
            raise errors.validation("StepAdjustments is not supported for SimpleScaling policies")
        adjustment = int(params["ScalingAdjustment"])
        if adjustment_type == capacity.EXACT and adjustment < 0:
            raise errors.validation("ScalingAdjustment may not be negative for ExactCapacity")
        cooldown = rows.integer(params, "Cooldown")
        return PolicySpec(
            kind,
            adjustment_type,
            adjustment,
            magnitude,
            cooldown,
            enabled=enabled,
        )
    if params.get("ScalingAdjustment") is not None or params.get("Cooldown") is not None:
        raise errors.validation(
            "ScalingAdjustment and Cooldown are not supported for StepScaling policies"
        )
    raw = [dict(item) for item in params.get("StepAdjustments") or []]
    why = capacity.check_steps(steps_of(raw))
    if why is not None:
        raise errors.validation(why)
    aggregation = str(params.get("MetricAggregationType") or "Average")
    if aggregation not in AGGREGATIONS:
        raise errors.validation(f"Unsupported metric aggregation type: {aggregation}")
    return PolicySpec(
        kind,
        adjustment_type,
        None,
        magnitude,
        metric_aggregation_type=aggregation,
        estimated_instance_warmup=warmup,
        steps=raw,
        enabled=enabled,
    )
