"""Auto Scaling's ARNs, as AWS spells them (the seed's euscale-put-scaling-policy prints the
policy's), and reading a policy ARN back (ExecutePolicy and the alarm actions name policies so).
"""

from __future__ import annotations

from dataclasses import dataclass


def _base(region: str, account_id: str) -> str:
    return f"arn:aws:autoscaling:{region}:{account_id}"


def group_arn(region: str, account_id: str, group_id: str, name: str) -> str:
    return f"{_base(region, account_id)}:autoScalingGroup:{group_id}:autoScalingGroupName/{name}"


def lc_arn(region: str, account_id: str, lc_id: str, name: str) -> str:
    return f"{_base(region, account_id)}:launchConfiguration:{lc_id}:launchConfigurationName/{name}"


def policy_arn(region: str, account_id: str, policy_id: str, group: str, name: str) -> str:
    return (
        f"{_base(region, account_id)}:scalingPolicy:{policy_id}:autoScalingGroupName/{group}"
        f":policyName/{name}"
    )


def scheduled_arn(region: str, account_id: str, action_id: str, group: str, name: str) -> str:
    return (
        f"{_base(region, account_id)}:scheduledUpdateGroupAction:{action_id}"
        f":autoScalingGroupName/{group}:scheduledActionName/{name}"
    )


def alarm_arn(region: str, account_id: str, name: str) -> str:
    return f"arn:aws:cloudwatch:{region}:{account_id}:alarm:{name}"


@dataclass(frozen=True, slots=True)
class PolicyRef:
    account_id: str
    policy_id: str
    group: str
    name: str


def parse_policy_arn(text: str) -> PolicyRef | None:
    """The parts of a policy ARN (any region, the seed's empty one included), or None when
    `text` is a plain policy name."""
    if not text.startswith("arn:"):
        return None
    parts = text.split(":", 7)
    if len(parts) < 8 or parts[2] != "autoscaling" or parts[5] != "scalingPolicy":
        return None
    rest = parts[7]
    group_part, _, name_part = rest.partition(":policyName/")
    if not group_part.startswith("autoScalingGroupName/") or not name_part:
        return None
    return PolicyRef(parts[4], parts[6], group_part[len("autoScalingGroupName/") :], name_part)
