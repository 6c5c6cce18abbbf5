"""Policy ARNs read back (the seed's empty region too), and when a scheduled action runs next."""

from __future__ import annotations

import datetime as dt

from mallee.services.autoscaling import arns
from mallee.services.autoscaling.scheduled_actions import next_run

POLICY = "c2a8f9dc-1c75-49d5-b54d-8ef87fe29e9a"


def test_a_policy_arn_round_trips() -> None:
    arn = arns.policy_arn("eucalyptus", "123456789012", POLICY, "MyASGroup", "MyScaleoutPolicy")
    assert arn == (
        f"arn:aws:autoscaling:eucalyptus:123456789012:scalingPolicy:{POLICY}:"
        "autoScalingGroupName/MyASGroup:policyName/MyScaleoutPolicy"
    )
    ref = arns.parse_policy_arn(arn)
    assert ref == arns.PolicyRef("123456789012", POLICY, "MyASGroup", "MyScaleoutPolicy")


def test_the_seeds_policy_arn_has_no_region() -> None:
    seed = (
        f"arn:aws:autoscaling::123456789012:scalingPolicy:{POLICY}:"
        "autoScalingGroupName/MyASGroup:policyName/MyScaleoutPolicy"
    )
    ref = arns.parse_policy_arn(seed)
    assert ref is not None and (ref.group, ref.name) == ("MyASGroup", "MyScaleoutPolicy")


def test_names_and_other_arns_are_not_policy_arns() -> None:
    assert arns.parse_policy_arn("MyScaleoutPolicy") is None
    assert arns.parse_policy_arn("arn:aws:automate:eucalyptus:ec2:stop") is None
    assert (
        arns.parse_policy_arn("arn:aws:autoscaling:r:1:scalingPolicy:x:autoScalingGroupName/g")
        is None
    )


def _at(text: str) -> float:
    return dt.datetime.fromisoformat(text).timestamp()


def test_a_one_time_action_runs_at_its_start() -> None:
    start = _at("2026-12-08T09:00:00+00:00")
    assert next_run(start, None, "", "", _at("2026-12-07T20:00:00+00:00")) == start


def test_a_recurring_action_runs_at_its_next_cron_moment_in_its_zone() -> None:
    now = _at("2026-12-07T20:00:00+00:00")
    # 02:30 in Sydney (UTC+11 in December) is 15:30 UTC the day before.
    assert next_run(None, None, "30 2 * * *", "Australia/Sydney", now) == _at(
        "2026-12-08T15:30:00+00:00"
    )
    assert next_run(None, None, "0 9 * * MON-FRI", "", now) == _at("2026-12-08T09:00:00+00:00")


def test_a_recurring_action_waits_for_its_start_and_ends_at_its_end() -> None:
    now = _at("2026-12-07T20:00:00+00:00")
    start = _at("2026-12-10T00:00:00+00:00")
    assert next_run(start, None, "0 * * * *", "", now) == start
    end = _at("2026-12-07T20:30:00+00:00")
    assert next_run(None, end, "0 * * * *", "", now) is None
