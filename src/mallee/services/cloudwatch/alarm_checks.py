"""What PutMetricAlarm and PutCompositeAlarm accept, checked as AWS checks it."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from mallee.services.cloudwatch import fields
from mallee.services.cloudwatch.errors import (
    invalid_combination,
    invalid_value,
    missing,
    validation,
)

STATIC_OPERATORS = (
    "GreaterThanOrEqualToThreshold",
    "GreaterThanThreshold",
    "LessThanThreshold",
    "LessThanOrEqualToThreshold",
)
ANOMALY_OPERATORS = (
    "LessThanLowerOrGreaterThanUpperThreshold",
    "LessThanLowerThreshold",
    "GreaterThanUpperThreshold",
)
TREATMENTS = ("breaching", "notBreaching", "ignore", "missing")
LOW_SAMPLE_OPTIONS = ("evaluate", "ignore")
EC2_VERBS = ("stop", "terminate", "reboot", "recover")
# Newer PutMetricAlarm members this cloud does not evaluate: refused rather than ignored.
UNSUPPORTED = (
    "EvaluationCriteria",
    "EvaluationWindow",
    "EvaluationInterval",
    "WarmUpConfiguration",
    "ActionConfiguration",
)
MAX_TAGS = 50
MAX_METRICS = 20
_ID = re.compile(r"^[a-z][a-zA-Z0-9_]*$")
_EXTENDED = re.compile(r"^p(\d{1,2}(\.\d{1,2})?|100)$")
ONE_DAY = 86400
SEVEN_DAYS = 604800


def alarm_period(raw: Any, where: str = "Period") -> int:
    value = int(raw)
    if value in (10, 20, 30) or (value > 0 and value % 60 == 0):
        return value
    raise validation(f"The parameter {where} must be 10, 20, 30 or a multiple of 60.")


def unsupported(params: dict[str, Any]) -> None:
    for name in UNSUPPORTED:
        if params.get(name) is not None:
            raise validation(f"The parameter {name} is not supported by this cloud.")


def actions(params: dict[str, Any], region: str, instance_alarm: bool) -> dict[str, list[str]]:
    """The three action lists, each ARN checked; EC2 actions need an InstanceId metric."""
    out: dict[str, list[str]] = {}
    for member in ("OKActions", "AlarmActions", "InsufficientDataActions"):
        arns = [str(a) for a in params.get(member) or []]
        if len(arns) > 5:
            raise validation(f"The collection {member} must not have a size greater than 5.")
        for arn in arns:
            _action(arn, region, instance_alarm)
        out[member] = arns
    return out


def _action(arn: str, region: str, instance_alarm: bool) -> None:
    parts = arn.split(":")
    if len(parts) < 6 or parts[0] != "arn" or not parts[2]:
        raise validation(f"Invalid arn syntax: {arn}")
    ec2_verb = None
    if parts[2] == "automate":
        if parts[4] != "ec2" or parts[5] not in EC2_VERBS:
            raise validation(
                f"Invalid use of EC2 action. Valid actions are: "
                f"{', '.join(f'arn:aws:automate:{region}:ec2:{v}' for v in EC2_VERBS)}"
            )
        ec2_verb = parts[5]
    elif parts[2] == "swf" and "AWS_EC2.InstanceId." in arn:
        ec2_verb = arn.split("AWS_EC2.InstanceId.", 1)[1].split("/", 1)[0].lower()
        if ec2_verb not in EC2_VERBS:
            raise validation(f"Invalid use of EC2 action: {arn}")
    if ec2_verb is None:
        return
    if parts[3] != region:
        raise validation(f"Invalid region {parts[3]} specified. Only {region} is supported.")
    if not instance_alarm:
        raise validation(
            f"Invalid use of EC2 '{ec2_verb.capitalize()}' action. An EC2 action can only be "
            "used with an alarm on a metric with an InstanceId dimension."
        )


def tags(raw: Sequence[dict[str, Any]] | None) -> list[tuple[str, str]]:
    pairs = [(str(t.get("Key") or ""), str(t.get("Value") or "")) for t in raw or ()]
    if len(pairs) > MAX_TAGS:
        raise invalid_value(f"The collection Tags must not have a size greater than {MAX_TAGS}.")
    keys = [k for k, _ in pairs]
    if len(set(keys)) != len(keys):
        raise invalid_value("The tag keys must be unique.")
    for key, _ in pairs:
        if key.lower().startswith("aws:"):
            raise invalid_value(f"The tag key {key} may not begin with aws:.")
    return pairs


def comparison(params: dict[str, Any]) -> tuple[str, float]:
    op = params.get("ComparisonOperator")
    if op is None:
        raise missing("The parameter ComparisonOperator is required.")
    if op in ANOMALY_OPERATORS or params.get("ThresholdMetricId") is not None:
        raise validation(
            f"Anomaly detection alarms (ComparisonOperator {op}, ThresholdMetricId) are not "
            "supported by this cloud: use a static threshold."
        )
    if op not in STATIC_OPERATORS:
        raise validation(f"The value {op} for parameter ComparisonOperator is invalid.")
    if params.get("Threshold") is None:
        raise validation("Comparisons with static thresholds require a Threshold.")
    return str(op), fields.number(params["Threshold"], "Threshold")


def evaluation(params: dict[str, Any], period: int) -> tuple[int, int | None]:
    if params.get("EvaluationPeriods") is None:
        raise missing("The parameter EvaluationPeriods is required.")
    n = int(params["EvaluationPeriods"])
    if n < 1:
        raise validation("The parameter EvaluationPeriods must be greater than 0.")
    limit = ONE_DAY if period < 3600 else SEVEN_DAYS
    if n * period > limit:
        raise validation(
            f"The evaluation period (EvaluationPeriods {n} * Period {period}) must not exceed "
            f"{limit} seconds."
        )
    m = params.get("DatapointsToAlarm")
    if m is not None and not 1 <= int(m) <= n:
        raise validation("DatapointsToAlarm must be between 1 and EvaluationPeriods.")
    return n, None if m is None else int(m)


def treatment(params: dict[str, Any], extended: str) -> tuple[str, str]:
    treat = str(params.get("TreatMissingData") or "")
    if treat and treat not in TREATMENTS:
        raise validation(
            f"Option {treat} is not supported. Supported options for parameter "
            "TreatMissingData are breaching, notBreaching, ignore and missing."
        )
    low = str(params.get("EvaluateLowSampleCountPercentile") or "")
    if low and low not in LOW_SAMPLE_OPTIONS:
        raise validation(
            f"Option {low} is not supported. Supported options for parameter "
            "EvaluateLowSampleCountPercentile are evaluate and ignore."
        )
    if low and not extended:
        raise invalid_combination(
            "EvaluateLowSampleCountPercentile may only be used with an ExtendedStatistic."
        )
    return treat, low


def statistic(params: dict[str, Any]) -> tuple[str, str]:
    stat, extended = params.get("Statistic"), params.get("ExtendedStatistic")
    if stat is not None and extended is not None:
        raise invalid_combination(
            "The parameters Statistic and ExtendedStatistic are mutually exclusive and you "
            "have specified both."
        )
    if stat is None and extended is None:
        raise missing("Either the parameter Statistic or ExtendedStatistic is required.")
    if extended is not None:
        if not _EXTENDED.match(str(extended)):
            raise invalid_value(
                f"The value {extended} for parameter ExtendedStatistic is not supported."
            )
        return "", str(extended)
    if stat not in fields.STATISTICS:
        raise invalid_value(f"The value {stat} for parameter Statistic is not supported.")
    return str(stat), ""


def metric_queries(raw: list[dict[str, Any]]) -> int:
    """A metric math alarm's Metrics; returns their period."""
    if len(raw) > MAX_METRICS:
        raise validation(f"The collection Metrics must not have a size greater than {MAX_METRICS}.")
    returned = 0
    periods: set[int] = set()
    seen: set[str] = set()
    for i, q in enumerate(raw, 1):
        where = f"Metrics.member.{i}"
        qid = str(q.get("Id") or "")
        if not _ID.match(qid):
            raise validation(
                f"The value {qid} for parameter {where}.Id is invalid: it must start with a "
                "lowercase letter and hold only letters, numbers and underscores."
            )
        if qid in seen:
            raise validation("The values for parameter Id in Metrics are not unique.")
        seen.add(qid)
        stat, expression = q.get("MetricStat"), q.get("Expression")
        if (stat is None) == (expression is None):
            raise validation(
                f"Each element of Metrics needs exactly one of Expression or MetricStat ({where})."
            )
        if stat is not None:
            periods.add(alarm_period(stat["Period"], f"{where}.MetricStat.Period"))
            name = str(stat["Stat"])
            if name not in fields.STATISTICS and not _EXTENDED.match(name):
                raise validation(
                    f"The value {name} for parameter {where}.MetricStat.Stat is invalid."
                )
        elif q.get("Period") is not None:
            periods.add(alarm_period(q["Period"], f"{where}.Period"))
        if q.get("ReturnData") is None or q.get("ReturnData"):
            returned += 1
    if returned != 1:
        raise validation("Exactly one element of the Metrics list must return data.")
    if not periods:
        raise validation("The Metrics of an alarm must name a period.")
    if len(periods) > 1:
        raise validation("All the metrics of an alarm must have the same period.")
    return periods.pop()
