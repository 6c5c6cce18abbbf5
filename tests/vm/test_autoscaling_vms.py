"""Auto Scaling with real VMs, driven through boto3: a group of two behind a load balancer
serves traffic; an instance terminated by hand is replaced and the replacement registered; an
alarm on the group's CPU (burned in the guests over SSH) scales it out through a
PercentChangeInCapacity policy and a second alarm back in once the burn ends; a scheduled
action changes the capacity at its time; ForceDelete leaves no instance behind."""

from __future__ import annotations

import datetime as dt
import subprocess
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from tests.vm.cloud import VmCloud, live_instances, start_vm_cloud, wait_until
from tests.vm.test_ec2_vms import default_image, ssh
from tests.vm.test_elb_vms import HEALTH_CHECK, HTTP_LISTENER, fetch, served_by

pytestmark = [pytest.mark.vm, pytest.mark.timeout(2400)]

GROUP = "web-asg"
LB = "asg-web"
# Run in the foreground of its SSH session; it ends by itself.
BURN = "end=$(($(date +%s)+{seconds})); while [ $(date +%s) -lt $end ]; do :; done"
SSH_OPTIONS = (
    "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
    "-o", "BatchMode=yes", "-o", "ConnectTimeout=5",
)  # fmt: skip


@pytest.fixture(scope="module")
def vmcloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[VmCloud]:
    yield from start_vm_cloud(tmp_path_factory.mktemp("asg"))


@pytest.fixture(scope="module")
def world(vmcloud: VmCloud, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The group (2 instances, HealthCheckType ELB) behind its load balancer, serving."""
    ec2, elb = vmcloud.client("ec2"), vmcloud.client("elb")
    asg, cw = vmcloud.client("autoscaling"), vmcloud.client("cloudwatch")
    name = f"asg-{uuid.uuid4().hex[:6]}"
    ec2.create_security_group(GroupName=name, Description="group members")
    for port in (22, 80):
        ec2.authorize_security_group_ingress(
            GroupName=name, IpProtocol="tcp", FromPort=port, ToPort=port, CidrIp="0.0.0.0/0"
        )
    key = tmp_path_factory.mktemp("key") / "key.pem"
    key.write_text(ec2.create_key_pair(KeyName=name)["KeyMaterial"])
    key.chmod(0o600)
    zone = ec2.describe_availability_zones()["AvailabilityZones"][0]["ZoneName"]
    dns = elb.create_load_balancer(
        LoadBalancerName=LB, Listeners=[HTTP_LISTENER], AvailabilityZones=[zone]
    )["DNSName"]
    elb.configure_health_check(LoadBalancerName=LB, HealthCheck=HEALTH_CHECK)
    asg.create_launch_configuration(
        LaunchConfigurationName=name,
        ImageId=default_image(ec2),
        InstanceType="m1.small",
        KeyName=name,
        SecurityGroups=[name],
        InstanceMonitoring={"Enabled": True},
    )
    asg.create_auto_scaling_group(
        AutoScalingGroupName=GROUP,
        LaunchConfigurationName=name,
        MinSize=1,
        MaxSize=4,
        DesiredCapacity=2,
        AvailabilityZones=[zone],
        LoadBalancerNames=[LB],
        HealthCheckType="ELB",
        # A TCG guest takes a minute or two to boot and answer its health check.
        HealthCheckGracePeriod=240,
        DefaultCooldown=60,
    )
    return {"ec2": ec2, "elb": elb, "asg": asg, "cw": cw, "key": key, "url": f"http://{dns}/",
            "outside": vmcloud.public_netns(), "netns": vmcloud.netns()}  # fmt: skip


def in_service(world: dict[str, Any], count: int, timeout: float = 300) -> list[str]:
    def probe() -> list[str] | None:
        group = world["asg"].describe_auto_scaling_groups(AutoScalingGroupNames=[GROUP])
        found = group["AutoScalingGroups"][0]["Instances"]
        ids = sorted(i["InstanceId"] for i in found if i["LifecycleState"] == "InService")
        return ids if len(ids) == count == len(found) else None

    got: list[str] = wait_until(probe, timeout, interval=1)
    return got


def lb_members(world: dict[str, Any]) -> list[str]:
    found = world["elb"].describe_load_balancers(LoadBalancerNames=[LB])
    return sorted(i["InstanceId"] for i in found["LoadBalancerDescriptions"][0]["Instances"])


def serving(world: dict[str, Any], ids: list[str], timeout: float = 300) -> None:
    """Every one of `ids` answers through the load balancer (and nothing else does)."""
    seen: set[str] = set()

    def probe() -> bool:
        page = fetch(world["outside"], world["url"])
        who = served_by(page, ids)
        if page and who is None and "instance-id:" in page:
            raise AssertionError(f"served by an instance not in {ids}: {page[:200]}")
        if who:
            seen.add(who)
        return seen == set(ids)

    wait_until(probe, timeout, interval=0.5)


def test_a_group_of_two_behind_a_load_balancer_serves_traffic(world: dict[str, Any]) -> None:
    ids = in_service(world, 2)
    wait_until(lambda: lb_members(world) == ids, 60)
    serving(world, ids)
    world["ids"] = ids


def test_an_instance_terminated_by_hand_is_replaced_and_registered(
    world: dict[str, Any],
) -> None:
    old = world["ids"]
    world["ec2"].terminate_instances(InstanceIds=[old[0]])

    def replaced() -> list[str] | None:
        got = in_service(world, 2)
        return got if old[0] not in got else None

    ids: list[str] = wait_until(replaced, 300)
    assert old[1] in ids
    wait_until(lambda: lb_members(world) == ids, 60)
    serving(world, ids)
    world["ids"] = ids


def _alarm(world: dict[str, Any], name: str, arn: str, op: str, threshold: float) -> None:
    world["cw"].put_metric_alarm(
        AlarmName=name,
        Namespace="AWS/EC2",
        MetricName="CPUUtilization",
        Dimensions=[{"Name": "AutoScalingGroupName", "Value": GROUP}],
        Statistic="Average",
        Period=60,
        EvaluationPeriods=1,
        Threshold=threshold,
        ComparisonOperator=op,
        AlarmActions=[arn],
    )


def _policy(world: dict[str, Any], name: str, adjustment: int) -> str:
    arn: str = world["asg"].put_scaling_policy(
        AutoScalingGroupName=GROUP,
        PolicyName=name,
        AdjustmentType="PercentChangeInCapacity",
        ScalingAdjustment=adjustment,
    )["PolicyARN"]
    return arn


def burn(world: dict[str, Any], ip: str, seconds: int) -> subprocess.Popen[bytes]:
    argv = ["ip", "netns", "exec", world["netns"], "ssh", "-i", str(world["key"])]
    argv += [*SSH_OPTIONS, f"root@{ip}", BURN.format(seconds=seconds)]
    return subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _desired(world: dict[str, Any]) -> int:
    group = world["asg"].describe_auto_scaling_groups(AutoScalingGroupNames=[GROUP])
    return int(group["AutoScalingGroups"][0]["DesiredCapacity"])


def test_an_alarm_on_the_groups_cpu_scales_out_then_back_in(
    world: dict[str, Any], request: pytest.FixtureRequest
) -> None:
    ec2, ids = world["ec2"], world["ids"]
    found = ec2.describe_instances(InstanceIds=ids)["Reservations"]
    ips = [i["PrivateIpAddress"] for r in found for i in r["Instances"]]
    for ip in ips:
        wait_until(lambda ip=ip: ssh(world["netns"], world["key"], ip, "true").returncode == 0, 120)
    out = _policy(world, "scale-out", 50)
    # A TCG guest on a busy host gets a share of a core: a burn shows as 40% or so, an idle
    # guest as a few percent.
    _alarm(world, "asg-cpu-high", out, "GreaterThanThreshold", 20.0)
    burners = [burn(world, ip, 240) for ip in ips]
    for burner in burners:
        request.addfinalizer(burner.kill)
    # The burn's first whole minute closes, is published, the alarm fires: 2 + 50% = 3.
    wait_until(lambda: _desired(world) == 3, 420, interval=2)
    activity = world["asg"].describe_scaling_activities(AutoScalingGroupName=GROUP)["Activities"][0]
    assert activity["Description"].startswith("Launching a new EC2 instance")
    world["cw"].delete_alarms(AlarmNames=["asg-cpu-high"])
    three = in_service(world, 3, timeout=420)
    for burner in burners:
        burner.wait(timeout=300)
    # Idle again: 3 - 30% (-0.9, rounded away from zero to -1) = 2.
    back = _policy(world, "scale-in", -30)
    _alarm(world, "asg-cpu-low", back, "LessThanThreshold", 10.0)
    wait_until(lambda: _desired(world) == 2, 420, interval=2)
    world["cw"].delete_alarms(AlarmNames=["asg-cpu-low"])
    ids = in_service(world, 2)
    assert set(ids) < set(three)
    wait_until(lambda: lb_members(world) == ids, 120)
    world["ids"] = ids


def test_a_scheduled_action_changes_the_capacity_at_its_time(world: dict[str, Any]) -> None:
    at = dt.datetime.now(dt.UTC).replace(microsecond=0) + dt.timedelta(seconds=20)
    world["asg"].put_scheduled_update_group_action(
        AutoScalingGroupName=GROUP, ScheduledActionName="down", StartTime=at, DesiredCapacity=1
    )
    wait_until(lambda: _desired(world) == 1, 90, interval=1)
    assert time.time() >= at.timestamp()
    ids = in_service(world, 1)
    wait_until(lambda: lb_members(world) == ids, 120)
    causes = [
        a["Cause"]
        for a in world["asg"].describe_scaling_activities(AutoScalingGroupName=GROUP)["Activities"]
    ]
    assert any("a scheduled action update of AutoScalingGroup constraints" in c for c in causes)


def test_force_delete_leaves_no_instance(world: dict[str, Any]) -> None:
    world["asg"].delete_auto_scaling_group(AutoScalingGroupName=GROUP, ForceDelete=True)
    wait_until(
        lambda: (
            not world["asg"].describe_auto_scaling_groups(AutoScalingGroupNames=[GROUP])[
                "AutoScalingGroups"
            ]
        ),
        300,
        interval=1,
    )
    wait_until(lambda: live_instances(world["ec2"]) == [], 120, interval=1)
    assert lb_members(world) == []
