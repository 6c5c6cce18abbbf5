"""The controller's group engine in a live cloud (fake hypervisor), driven through boto3's
Auto Scaling client: groups launch and go InService with their tags, replace an instance
terminated by hand, follow SetDesiredCapacity and an alarm's policy out and in, register with
their load balancer, record a launch that fails and retry it, and leave nothing when deleted
with ForceDelete."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, TypeVar

import pytest
from botocore.exceptions import ClientError

from tests.e2e.conftest import Cloud
from tests.e2e.test_autoscaling_api import Account, unique
from tests.e2e.test_iam_accounts import new_account

pytestmark = pytest.mark.e2e

T = TypeVar("T")
GROUP_TAG = "aws:autoscaling:groupName"


@pytest.fixture(scope="module")
def acct(cloud: Cloud, tmp_path_factory: pytest.TempPathFactory) -> Account:
    account_id, ak, sk = new_account(cloud, tmp_path_factory.mktemp("asg-engine"))
    return Account(cloud, account_id, ak, sk)


def until(what: str, probe: Callable[[], T | None], timeout: float = 60.0) -> T:
    deadline = time.monotonic() + timeout
    while True:
        got = probe()
        if got:
            return got
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.3)


def members(acct: Account, name: str, state: str = "InService") -> list[dict[str, Any]]:
    return [i for i in acct.describe(name)["Instances"] if i["LifecycleState"] == state]


def in_service(acct: Account, name: str, count: int) -> list[str]:
    def probe() -> list[str] | None:
        group = acct.describe(name)
        found = [i for i in group["Instances"] if i["LifecycleState"] == "InService"]
        if len(found) == count and len(group["Instances"]) == count:
            return sorted(i["InstanceId"] for i in found)
        return None

    return until(f"{count} InService in {name}", probe)


def activities(acct: Account, name: str) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = acct.asg.describe_scaling_activities(AutoScalingGroupName=name)[
        "Activities"
    ]
    return out


def ec2_instances(acct: Account, ids: list[str]) -> list[dict[str, Any]]:
    found = acct.ec2.describe_instances(InstanceIds=ids)["Reservations"]
    return [i for r in found for i in r["Instances"]]


def force_delete(acct: Account, name: str) -> None:
    acct.asg.delete_auto_scaling_group(AutoScalingGroupName=name, ForceDelete=True)

    def gone() -> bool:
        return not acct.asg.describe_auto_scaling_groups(AutoScalingGroupNames=[name])[
            "AutoScalingGroups"
        ]

    until(f"{name} deleted", gone)


def test_a_group_launches_tagged_instances_and_replaces_one_terminated_by_hand(
    acct: Account,
) -> None:
    name = acct.group(
        MinSize=2,
        MaxSize=4,
        DesiredCapacity=2,
        Tags=[
            {"Key": "team", "Value": "blue", "PropagateAtLaunch": True},
            {"Key": "private", "Value": "x", "PropagateAtLaunch": False},
        ],
    )
    ids = in_service(acct, name, 2)
    for inst in ec2_instances(acct, ids):
        tags = {t["Key"]: t["Value"] for t in inst.get("Tags", [])}
        assert tags == {GROUP_TAG: name, "team": "blue"}
        assert inst["State"]["Name"] == "running"
    launches = activities(acct, name)
    assert len(launches) == 2
    for act in launches:
        assert act["StatusCode"] == "Successful" and act["Progress"] == 100
        assert act["Description"].startswith("Launching a new EC2 instance: i-")
        assert "a user request created an AutoScalingGroup" in act["Cause"]
        assert act["Cause"].endswith(
            "an instance was started in response to a difference between desired and actual "
            "capacity, increasing the capacity from 0 to 2."
        )

    acct.ec2.terminate_instances(InstanceIds=[ids[0]])

    def replacement() -> list[str] | None:
        now = in_service(acct, name, 2)
        return now if ids[0] not in now else None

    replaced = until("a replacement", replacement)
    assert ids[1] in replaced
    causes = [a["Cause"] for a in activities(acct, name)]
    assert any(
        c.endswith(
            "an instance was taken out of service in response to an EC2 health check "
            "indicating it has been terminated or stopped."
        )
        for c in causes
    )
    force_delete(acct, name)
    assert {i["State"]["Name"] for i in ec2_instances(acct, replaced)} <= {
        "shutting-down",
        "terminated",
    }


def test_set_desired_capacity_scales_out_then_in_by_policy(acct: Account) -> None:
    name = acct.group(MaxSize=4, TerminationPolicies=["NewestInstance"])
    acct.asg.set_desired_capacity(AutoScalingGroupName=name, DesiredCapacity=2)
    first = in_service(acct, name, 2)
    acct.asg.set_desired_capacity(AutoScalingGroupName=name, DesiredCapacity=3)
    third = [i for i in in_service(acct, name, 3) if i not in first]
    acct.asg.set_desired_capacity(AutoScalingGroupName=name, DesiredCapacity=2)
    assert in_service(acct, name, 2) == first
    (term,) = [a for a in activities(acct, name) if a["Description"].startswith("Terminating")]
    assert term["Description"] == f"Terminating EC2 instance: {third[0]}"
    assert "shrinking the capacity from 3 to 2." in term["Cause"]
    assert term["Cause"].endswith(f"instance {third[0]} was selected for termination.")
    until("its termination", lambda: term_done(acct, name))
    force_delete(acct, name)


def term_done(acct: Account, name: str) -> bool:
    return all(
        a["StatusCode"] == "Successful"
        for a in activities(acct, name)
        if a["Description"].startswith("Terminating")
    )


def test_a_failed_launch_is_recorded_then_retried(acct: Account) -> None:
    key = unique("key")
    acct.ec2.create_key_pair(KeyName=key)
    lc = acct.lc(KeyName=key)
    # The key goes after the configuration was checked: the launch itself fails.
    acct.ec2.delete_key_pair(KeyName=key)
    name = acct.group(LaunchConfigurationName=lc, DesiredCapacity=1, MinSize=1)

    def failed() -> dict[str, Any] | None:
        return next((a for a in activities(acct, name) if a["StatusCode"] == "Failed"), None)

    act = until("a failed launch", failed)
    assert key in act["StatusMessage"]
    assert act["StatusMessage"].endswith("Launching EC2 instance failed.")
    assert act["Description"].startswith("Launching a new EC2 instance.  Status Reason: ")
    acct.ec2.create_key_pair(KeyName=key)
    in_service(acct, name, 1)
    force_delete(acct, name)


def test_instances_are_registered_with_the_groups_load_balancer(acct: Account) -> None:
    lb = unique("lb")[:32]
    acct.elb.create_load_balancer(
        LoadBalancerName=lb,
        Listeners=[{"Protocol": "HTTP", "LoadBalancerPort": 80, "InstancePort": 80}],
        AvailabilityZones=[acct.zone],
    )
    try:
        name = acct.group(DesiredCapacity=2, LoadBalancerNames=[lb])
        ids = in_service(acct, name, 2)

        def registered() -> list[str] | None:
            found = acct.elb.describe_load_balancers(LoadBalancerNames=[lb])
            got = sorted(i["InstanceId"] for i in found["LoadBalancerDescriptions"][0]["Instances"])
            return got if got == ids else None

        until("registration", registered)
        acct.asg.set_desired_capacity(AutoScalingGroupName=name, DesiredCapacity=1)
        kept = in_service(acct, name, 1)

        def deregistered() -> bool:
            found = acct.elb.describe_load_balancers(LoadBalancerNames=[lb])
            got = [i["InstanceId"] for i in found["LoadBalancerDescriptions"][0]["Instances"]]
            return got == kept

        until("deregistration", deregistered)
        force_delete(acct, name)
    finally:
        acct.elb.delete_load_balancer(LoadBalancerName=lb)


def test_an_alarm_executes_a_percent_change_policy(acct: Account) -> None:
    name = acct.group(MinSize=1, MaxSize=4, DesiredCapacity=2)
    in_service(acct, name, 2)
    arn = acct.asg.put_scaling_policy(
        AutoScalingGroupName=name,
        PolicyName="out",
        AdjustmentType="PercentChangeInCapacity",
        ScalingAdjustment=50,
        # The launches just ended: the default cooldown (300 s) would hold the alarm's policy.
        Cooldown=0,
    )["PolicyARN"]
    alarm = unique("cpu")
    acct.cw.put_metric_alarm(
        AlarmName=alarm,
        Namespace="AWS/EC2",
        MetricName="CPUUtilization",
        Dimensions=[{"Name": "AutoScalingGroupName", "Value": name}],
        Statistic="Average",
        Period=60,
        EvaluationPeriods=1,
        Threshold=80.0,
        ComparisonOperator="GreaterThanThreshold",
        AlarmActions=[arn],
    )
    try:
        acct.cw.set_alarm_state(AlarmName=alarm, StateValue="ALARM", StateReason="test")
        until("the policy's instance", lambda: len(acct.describe(name)["Instances"]) == 3)
        assert acct.describe(name)["DesiredCapacity"] == 3
        in_service(acct, name, 3)
    finally:
        acct.cw.delete_alarms(AlarmNames=[alarm])
        force_delete(acct, name)


def test_force_delete_terminates_everything(acct: Account) -> None:
    name = acct.group(DesiredCapacity=2)
    ids = in_service(acct, name, 2)
    with pytest.raises(ClientError) as err:
        acct.asg.delete_auto_scaling_group(AutoScalingGroupName=name)
    assert err.value.response["Error"]["Code"] == "ResourceInUse"
    force_delete(acct, name)
    until(
        "the instances' end",
        lambda: all(i["State"]["Name"] == "terminated" for i in ec2_instances(acct, ids)),
    )
