"""The Auto Scaling group engine with real VMs (issue #21), on a `mallee up` cloud.

    .venv/bin/python bench/autoscaling.py [--count 10]   (as root: the node uses namespaces)

One group of the default image (TCG guests, 128 MiB), from desired capacity 0:

- SetDesiredCapacity 0 -> 10: seconds until all 10 instances are running VMs (EC2 says
  running, the group says InService); target 15 s;
- an instance terminated behind the group's back (EC2 TerminateInstances): seconds until its
  replacement is Pending; target 10 s;
- an alarm going to ALARM whose action is a ChangeInCapacity policy: seconds until the policy's
  first new instance is Pending; target 5 s.

moto runs no instances and no alarm actions, so the figures are printed against the targets.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config

import dataplanes
from servers import Server, start_mallee, stop
from vm_boot import GUEST_TYPE, REAL_NODE, ec2_client, until, wait_for_node

GROUP = "bench-group"


def client(server: Server, service: str) -> Any:
    return boto3.client(
        service,
        endpoint_url=server.url,
        region_name="eucalyptus",
        aws_access_key_id=server.access_key,
        aws_secret_access_key=server.secret_key,
        config=Config(retries={"max_attempts": 1}),
    )


def instances(auto: Any) -> list[dict[str, Any]]:
    groups = auto.describe_auto_scaling_groups(AutoScalingGroupNames=[GROUP])
    return list(groups["AutoScalingGroups"][0]["Instances"])


def running(ec2: Any, ids: list[str]) -> int:
    found = ec2.describe_instances(
        InstanceIds=ids, Filters=[{"Name": "instance-state-name", "Values": ["running"]}]
    )
    return sum(len(r["Instances"]) for r in found["Reservations"])


def measure(server: Server, count: int) -> dict[str, float]:
    ec2, auto, cw = ec2_client(server), client(server, "autoscaling"), client(server, "cloudwatch")
    wait_for_node(ec2)
    ec2.modify_instance_type_attribute(Name=GUEST_TYPE, Memory=128)
    image = ec2.describe_images(Filters=[{"Name": "name", "Values": ["mallee-default"]}])
    zone = ec2.describe_availability_zones()["AvailabilityZones"][0]["ZoneName"]
    auto.create_launch_configuration(
        LaunchConfigurationName="bench", ImageId=image["Images"][0]["ImageId"],
        InstanceType=GUEST_TYPE,
    )  # fmt: skip
    auto.create_auto_scaling_group(
        AutoScalingGroupName=GROUP, LaunchConfigurationName="bench", MinSize=0,
        MaxSize=count + 2, DesiredCapacity=0, AvailabilityZones=[zone], DefaultCooldown=0,
    )  # fmt: skip
    out: dict[str, float] = {}

    start = time.monotonic()
    auto.set_desired_capacity(AutoScalingGroupName=GROUP, DesiredCapacity=count)

    def all_running() -> bool:
        found = instances(auto)
        ids = [i["InstanceId"] for i in found]
        in_service = sum(i["LifecycleState"] == "InService" for i in found)
        return len(ids) == count and in_service == count and running(ec2, ids) == count

    out["scale_out"] = until(all_running, start, 300, f"{count} running instances")

    victim = instances(auto)[0]["InstanceId"]
    start = time.monotonic()
    ec2.terminate_instances(InstanceIds=[victim])

    def replaced() -> bool:
        return any(
            i["InstanceId"] != victim and i["LifecycleState"] == "Pending" for i in instances(auto)
        )

    out["replaced"] = until(replaced, start, 120, "a replacement")
    until(lambda: sum(i["LifecycleState"] == "InService" for i in instances(auto)) == count,
          time.monotonic(), 300, "the group back in service")  # fmt: skip

    arn = auto.put_scaling_policy(
        AutoScalingGroupName=GROUP, PolicyName="out", AdjustmentType="ChangeInCapacity",
        ScalingAdjustment=1, Cooldown=0,
    )["PolicyARN"]  # fmt: skip
    cw.put_metric_alarm(
        AlarmName="bench-high", Namespace="AWS/EC2", MetricName="CPUUtilization",
        Dimensions=[{"Name": "AutoScalingGroupName", "Value": GROUP}], Statistic="Average",
        Period=60, EvaluationPeriods=1, Threshold=80.0,
        ComparisonOperator="GreaterThanThreshold", AlarmActions=[arn],
    )  # fmt: skip
    known = {i["InstanceId"] for i in instances(auto)}
    start = time.monotonic()
    cw.set_alarm_state(AlarmName="bench-high", StateValue="ALARM", StateReason="bench")
    out["alarm"] = until(
        lambda: any(i["InstanceId"] not in known for i in instances(auto)), start, 60,
        "the policy's instance",
    )  # fmt: skip
    auto.delete_auto_scaling_group(AutoScalingGroupName=GROUP, ForceDelete=True)
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--count", type=int, default=10)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as d:
        data = Path(d) / "mallee"
        server = start_mallee(Path(d), **REAL_NODE)
        try:
            m = measure(server, args.count)
        finally:
            stop(server)
            dataplanes.remove(data, REAL_NODE["MALLEE_NODE_NAME"])
    print(f"{'':56}{'measured':>10}{'target':>10}")
    label = f"SetDesiredCapacity 0 -> {args.count}: all running (s)"
    print(f"{label:56}{m['scale_out']:10.2f}{15.0:10.2f}")
    print(f"{'terminated behind its back -> replacement Pending (s)':56}{m['replaced']:10.2f}"
          f"{10.0:10.2f}")  # fmt: skip
    print(f"{'alarm ALARM -> first policy instance Pending (s)':56}{m['alarm']:10.2f}{5.0:10.2f}")


if __name__ == "__main__":
    main()
