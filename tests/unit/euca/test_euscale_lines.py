"""euscale-* option parsing and output lines, as euca2ools 3 parses and prints them."""

from __future__ import annotations

import argparse
import base64

import pytest

from mallee.euca.commands import auto_scaling_args as asa
from mallee.euca.commands.auto_scaling_activities import activity_line, instance_line
from mallee.euca.commands.auto_scaling_configs import config_line
from mallee.euca.commands.auto_scaling_groups import group_lines
from mallee.euca.commands.auto_scaling_policies import policy_line
from mallee.euca.main import _join_dash_values, parser_for
from mallee.euca.output import render
from mallee.euca.registry import COMMANDS

pytestmark = pytest.mark.nodb

ARN = (
    "arn:aws:autoscaling::576514848852:scalingPolicy:c2a8f9dc-1c75-49d5-b54d-8ef87fe29e9a:"
    "autoScalingGroupName/MyASGroup:policyName/MyScaleoutPolicy"
)


def parse(name: str, *argv: str) -> argparse.Namespace:
    command = COMMANDS[name]
    return parser_for(command).parse_args(_join_dash_values(list(argv), command.dash_values))


def test_the_seed_commands_parse() -> None:
    lc = parse(
        "euscale-create-launch-config", "MyLC", "--image-id", "emi-90E83973",
        "--instance-type", "m1.small",
    )  # fmt: skip
    assert (lc.name, lc.image_id, lc.instance_type) == ("MyLC", "emi-90E83973", "m1.small")
    group = parse(
        "euscale-create-auto-scaling-group", "MyASGroup", "--launch-configuration", "MyLC",
        "--availability-zones", "PARTI00", "--min-size", "1", "--max-size", "3",
    )  # fmt: skip
    assert group.availability_zones == ["PARTI00"]
    assert (group.min_size, group.max_size, group.desired_capacity) == (1, 3, None)
    out = parse(
        "euscale-put-scaling-policy", "MyScaleoutPolicy", "--auto-scaling-group", "MyASGroup",
        "--adjustment=30", "--type", "PercentChangeInCapacity",
    )  # fmt: skip
    assert (out.adjustment, out.type) == (30, "PercentChangeInCapacity")
    # A negative adjustment, with "=" as the seed writes it and without.
    for adjustment in (["--adjustment=-2"], ["-a", "-2"], ["--adjustment", "-2"]):
        scale_in = parse(
            "euscale-put-scaling-policy", "MyScaleInPolicy", "-g", "MyASGroup", *adjustment,
            "--type", "ChangeInCapacity",
        )  # fmt: skip
        assert scale_in.adjustment == -2


def test_short_options_and_switches() -> None:
    group = parse("euscale-update-auto-scaling-group", "g", "-l", "lc2", "-m", "0", "-M", "5")
    assert (group.launch_configuration, group.min_size, group.max_size) == ("lc2", 0, 5)
    assert group.availability_zones is None
    # -h is euca2ools' --honor-cooldown here; --help is still help.
    assert parse("euscale-set-desired-capacity", "g", "-c", "2", "-h").honor_cooldown is True
    assert parse("euscale-set-desired-capacity", "g", "-c", "2", "-H").honor_cooldown is False
    assert parse("euscale-set-desired-capacity", "g", "-c", "2").honor_cooldown is None
    assert parse("euscale-execute-policy", "p", "-g", "g", "-h").honor_cooldown is True
    assert parse("euscale-delete-auto-scaling-group", "g", "-d").force_delete is True
    assert parse("euscale-delete-auto-scaling-group", "g").force_delete is None
    assert parse("euscale-suspend-processes", "g", "--processes", "Launch,Terminate").processes == [
        "Launch",
        "Terminate",
    ]
    with pytest.raises(SystemExit):
        parse("euscale-put-scaling-policy", "p", "-g", "g", "-a", "1", "-t", "Bogus")


def test_tags_and_block_device_mappings() -> None:
    assert asa.tag("k=role, v=web, p=true") == {
        "Key": "role",
        "Value": "web",
        "PropagateAtLaunch": True,
    }
    assert asa.tag("k=x,id=g,t=auto-scaling-group") == {
        "Key": "x",
        "ResourceId": "g",
        "ResourceType": "auto-scaling-group",
    }
    for bad, message in (
        ("v=1", "must contain a 'k=' segment"),
        ("k=a, color=red", "unrecognized tag segment 'color=red'"),
        ("k=a, p=maybe", "'p=' must be 'true' or 'false'"),
        ("k=a, p", "segment of 'p' must have format KEY=VALUE"),
    ):
        with pytest.raises(argparse.ArgumentTypeError, match=message):
            asa.tag(bad)
    assert asa.block_device_mappings("/dev/sdb=ephemeral0,/dev/sdc=none,/dev/sdd=:10") == [
        {"DeviceName": "/dev/sdb", "VirtualName": "ephemeral0"},
        {"DeviceName": "/dev/sdc", "NoDevice": True},
        {"DeviceName": "/dev/sdd", "Ebs": {"VolumeSize": 10}},
    ]


def test_user_data_is_sent_base64() -> None:
    args = parse("euscale-create-launch-config", "lc", "-i", "emi-1", "-t", "m1.small", "-d", "hi")
    assert asa.user_data(args) == base64.b64encode(b"hi").decode()
    none = parse("euscale-create-launch-config", "lc", "-i", "emi-1", "-t", "m1.small")
    assert asa.user_data(none) is None


CONFIG = {
    "LaunchConfigurationName": "MyLC",
    "LaunchConfigurationARN": "arn:aws:autoscaling::1:launchConfiguration:u:"
    "launchConfigurationName/MyLC",
    "ImageId": "emi-90E83973",
    "InstanceType": "m1.small",
    "KeyName": "k",
    "SecurityGroups": ["default", "web"],
    "BlockDeviceMappings": [{"DeviceName": "/dev/sdb", "VirtualName": "ephemeral0"}],
    "InstanceMonitoring": {"Enabled": True},
    "CreatedTime": "2013-06-10T12:29:41.082Z",
    "EbsOptimized": False,
}


def test_launch_config_lines() -> None:
    assert render(config_line(CONFIG, False)) == "LAUNCH-CONFIG\tMyLC\temi-90E83973\tm1.small\t\t"
    assert render(config_line(CONFIG, True)).split("\t") == [
        "LAUNCH-CONFIG", "MyLC", "emi-90E83973", "m1.small", "k", "", "",
        "{/dev/sdb=ephemeral0}", "default,web", "2013-06-10T12:29:41.082Z", "true",
        CONFIG["LaunchConfigurationARN"], "", "", "false",
    ]  # fmt: skip


MEMBER = {
    "InstanceId": "i-1234abcd",
    "AvailabilityZone": "PARTI00",
    "LifecycleState": "InService",
    "HealthStatus": "Healthy",
    "LaunchConfigurationName": "MyLC",
}
GROUP = {
    "AutoScalingGroupName": "MyASGroup",
    "AutoScalingGroupARN": "arn:aws:autoscaling::1:autoScalingGroup:u:"
    "autoScalingGroupName/MyASGroup",
    "LaunchConfigurationName": "MyLC",
    "AvailabilityZones": ["PARTI00"],
    "LoadBalancerNames": [],
    "HealthCheckType": "EC2",
    "HealthCheckGracePeriod": 0,
    "DefaultCooldown": 300,
    "MinSize": 1,
    "MaxSize": 3,
    "DesiredCapacity": 1,
    "TerminationPolicies": ["Default"],
    "CreatedTime": "2013-06-10T12:29:41.082Z",
    "Instances": [MEMBER],
    "SuspendedProcesses": [{"ProcessName": "Launch", "SuspensionReason": "User suspended"}],
    "EnabledMetrics": [{"Metric": "GroupMinSize", "Granularity": "1Minute"}],
}


def test_group_lines() -> None:
    assert [render(x) for x in group_lines(GROUP, False)] == [
        "AUTO-SCALING-GROUP\tMyASGroup\tMyLC\tPARTI00\t\t1\t3\t1\tDefault",
        "INSTANCE\ti-1234abcd\tPARTI00\tInService\tHealthy\tMyLC",
        "SUSPENDED-PROCESS\tLaunch\tUser suspended\tMyASGroup",
        "ENABLED-METRICS\tGroupMinSize\t1Minute",
    ]
    long = render(group_lines(GROUP, True)[0]).split("\t")
    assert long == [
        "AUTO-SCALING-GROUP", "MyASGroup", "MyLC", "PARTI00", "2013-06-10T12:29:41.082Z", "",
        "EC2", "1", "3", "1", "300", "0", "", "", GROUP["AutoScalingGroupARN"], "Default",
    ]  # fmt: skip
    # A group launching from a template names the template where the configuration goes.
    templated = {**GROUP, "LaunchConfigurationName": None, "LaunchTemplate": {
        "LaunchTemplateName": "tpl", "Version": "$Default"}}  # fmt: skip
    assert render(group_lines(templated, False)[0]).split("\t")[2] == "tpl"


def test_policy_activity_and_instance_lines() -> None:
    policy = {
        "AutoScalingGroupName": "MyASGroup",
        "PolicyName": "MyScaleoutPolicy",
        "ScalingAdjustment": 30,
        "AdjustmentType": "PercentChangeInCapacity",
        "MinAdjustmentMagnitude": 2,
        "Cooldown": 60,
        "PolicyARN": ARN,
    }
    assert render(policy_line(policy, False)) == (
        f"SCALING-POLICY\tMyASGroup\tMyScaleoutPolicy\t30\tPercentChangeInCapacity\t{ARN}"
    )
    assert render(policy_line(policy, True)) == (
        f"SCALING-POLICY\tMyASGroup\tMyScaleoutPolicy\t30\t2\tPercentChangeInCapacity\t60\t{ARN}"
    )
    activity = {
        "ActivityId": "a-1",
        "AutoScalingGroupName": "MyASGroup",
        "StatusCode": "Successful",
        "Cause": "At 2013-06-10T12:29:41Z a user request created an AutoScalingGroup.",
        "Description": "Launching a new EC2 instance: i-1234abcd",
        "Progress": 100,
        "StartTime": "2013-06-10T12:29:41.082Z",
        "EndTime": "2013-06-10T12:30:01.000Z",
    }
    assert render(activity_line(activity, False)) == (
        "ACTIVITY\ta-1\t2013-06-10T12:30:01.000Z\tMyASGroup\tSuccessful\t"
    )
    assert render(activity_line(activity, True), "(nil)").split("\t")[6:] == [
        activity["Cause"], "100", activity["Description"], "(nil)", "2013-06-10T12:29:41.082Z",
    ]  # fmt: skip
    assert render(instance_line({**MEMBER, "AutoScalingGroupName": "MyASGroup"})) == (
        "INSTANCE\ti-1234abcd\tMyASGroup\tPARTI00\tInService\tHealthy\tMyLC"
    )
