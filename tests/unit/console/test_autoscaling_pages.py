"""The Auto Scaling pages against a fake cloud: groups and launch configurations a page at a
time, each form's parameters as the API takes them, a group's own page built from the API's
answers, confirmations before deleting, and refusals shown by their form."""

from __future__ import annotations

import base64
import html
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from mallee.config import Settings
from mallee.console.app import Console
from tests.unit.console.test_pages import Fake, links, refused, sign_in

pytestmark = pytest.mark.nodb

ARN = "arn:aws:autoscaling::000000000001:scalingPolicy:u:autoScalingGroupName/web:policyName/out"


@pytest.fixture
def clients() -> dict[str, Fake]:
    return {}


@pytest.fixture
def console(tmp_path: Path, clients: dict[str, Fake], monkeypatch: pytest.MonkeyPatch) -> Console:
    made = Console(Settings(data_dir=tmp_path, port=1))
    monkeypatch.setattr(made.cloud, "client", lambda service, keys: clients[service])
    return made


@pytest.fixture
def client(console: Console) -> Iterator[TestClient]:
    with TestClient(console, follow_redirects=False) as c:
        yield c


def _group(name: str, **extra: Any) -> dict[str, Any]:
    return {
        "AutoScalingGroupName": name,
        "LaunchConfigurationName": "lc1",
        "AvailabilityZones": ["zone-a"],
        "MinSize": 1,
        "MaxSize": 4,
        "DesiredCapacity": 2,
        "HealthCheckType": "EC2",
        "DefaultCooldown": 300,
        "TerminationPolicies": ["Default"],
        "Instances": [
            {
                "InstanceId": "i-00000001",
                "AvailabilityZone": "zone-a",
                "LifecycleState": "InService",
                "HealthStatus": "Healthy",
            },
            {
                "InstanceId": "i-00000002",
                "AvailabilityZone": "zone-a",
                "LifecycleState": "Pending",
                "HealthStatus": "Healthy",
            },
        ],
        "CreatedTime": "2026-12-07T10:00:00.000Z",
        **extra,
    }


def _clouds(clients: dict[str, Fake], autoscaling: dict[str, Any]) -> Fake:
    clients["ec2"] = Fake(
        {
            "describe_availability_zones": {
                "AvailabilityZones": [{"ZoneName": "zone-a", "State": "available"}]
            },
            "describe_images": {
                "Images": [{"ImageId": "emi-00000001", "Name": "base", "State": "available"}]
            },
            "describe_instance_types": {"InstanceTypes": [{"InstanceType": "m1.small"}]},
            "describe_key_pairs": {"KeyPairs": [{"KeyName": "mine"}]},
            "describe_security_groups": {
                "SecurityGroups": [{"GroupName": "default", "GroupId": "sg-00000001"}]
            },
        }
    )
    clients["elb"] = Fake({"describe_load_balancers": {"LoadBalancerDescriptions": []}})
    clients["autoscaling"] = made = Fake(
        {
            "describe_launch_configurations": {
                "LaunchConfigurations": [
                    {
                        "LaunchConfigurationName": "lc1",
                        "ImageId": "emi-00000001",
                        "InstanceType": "m1.small",
                        "SecurityGroups": ["default"],
                        "CreatedTime": "2026-12-07T09:00:00.000Z",
                    }
                ]
            },
            **autoscaling,
        }
    )
    return made


def _row(text: str, row_id: str) -> str:
    row = text[text.index(f'id="{row_id}"') :]
    return row[: row.index("</tr>")]


def test_groups_are_asked_for_a_page_at_a_time(
    console: Console, client: TestClient, clients: dict[str, Fake]
) -> None:
    pages = {None: ([_group("web")], "tok-2"), "tok-2": ([_group("db")], None)}

    def describe(params: dict[str, Any]) -> dict[str, Any]:
        found, following = pages[params.get("NextToken")]
        return {"AutoScalingGroups": found, **({"NextToken": following} if following else {})}

    asg = _clouds(clients, {"describe_auto_scaling_groups": describe})
    sign_in(console, client)
    first = client.get("/console/auto-scaling", params={"size": "25"})
    assert first.status_code == 200
    assert asg.asked("describe_auto_scaling_groups") == [{"MaxRecords": 25}]
    row = _row(first.text, "row-web")
    # config, zones, min, desired, max, instances, in service
    for shown in ("lc1", "zone-a", "<td>1</td><td>2</td><td>4</td><td>2</td><td>1</td>"):
        assert shown in row, shown
    assert 'href="/console/auto-scaling" class="active"' in first.text
    assert '<option value="lc1">lc1</option>' in first.text
    [following] = links(first.text, "next")
    second = client.get("/console/auto-scaling", params={k: v[0] for k, v in following.items()})
    assert asg.asked("describe_auto_scaling_groups")[1] == {"MaxRecords": 25, "NextToken": "tok-2"}
    assert 'id="row-db"' in second.text
    client.get("/console/auto-scaling", params={"field": "name", "value": "web"})
    assert asg.asked("describe_auto_scaling_groups")[-1]["AutoScalingGroupNames"] == ["web"]


def test_a_launch_configuration_is_made_and_deleted_after_asking(
    console: Console, client: TestClient, clients: dict[str, Fake]
) -> None:
    asg = _clouds(clients, {"create_launch_configuration": {}, "delete_launch_configuration": {}})
    csrf = sign_in(console, client)
    shown = client.get("/console/auto-scaling/launch-configurations")
    assert shown.status_code == 200 and 'id="row-lc1"' in shown.text
    assert "emi-00000001 base" in shown.text and 'name="group:default"' in shown.text
    made = client.post(
        "/console/auto-scaling/launch-configurations/create",
        data={
            "_csrf": csrf,
            "name": "lc2",
            "image": "emi-00000001",
            "type": "m1.small",
            "key": "mine",
            "group:default": "yes",
            "user_data": "#!/bin/sh\necho hi\n",
        },
    )
    assert made.status_code == 303
    assert asg.asked("create_launch_configuration") == [
        {
            "LaunchConfigurationName": "lc2",
            "ImageId": "emi-00000001",
            "InstanceType": "m1.small",
            "KeyName": "mine",
            "SecurityGroups": ["default"],
            "UserData": base64.b64encode(b"#!/bin/sh\necho hi\n").decode(),
        }
    ]
    path = "/console/auto-scaling/launch-configurations/delete"
    asked = client.post(path, data={"_csrf": csrf, "name": "lc1"})
    assert asked.status_code == 200 and "Delete launch configuration lc1?" in asked.text
    assert asg.asked("delete_launch_configuration") == []
    client.post(path, data={"_csrf": csrf, "name": "lc1", "confirmed": "yes"})
    assert asg.asked("delete_launch_configuration") == [{"LaunchConfigurationName": "lc1"}]


def test_a_group_is_made_and_its_page_shows_instances_activities_and_policies(
    console: Console, client: TestClient, clients: dict[str, Fake]
) -> None:
    asg = _clouds(
        clients,
        {
            "create_auto_scaling_group": {},
            "describe_auto_scaling_groups": {"AutoScalingGroups": [_group("web")]},
            "describe_scaling_activities": {
                "Activities": [
                    {
                        "ActivityId": "a-1",
                        "StatusCode": "Successful",
                        "Description": "Launching a new EC2 instance: i-00000001",
                        "Cause": "At 2026-12-07T10:00:00Z a user request created an "
                        "AutoScalingGroup changing the desired capacity from 0 to 2.",
                        "StartTime": "2026-12-07T10:00:00.000Z",
                    }
                ]
            },
            "describe_policies": {
                "ScalingPolicies": [
                    {
                        "PolicyName": "out",
                        "PolicyType": "SimpleScaling",
                        "AdjustmentType": "PercentChangeInCapacity",
                        "ScalingAdjustment": 30,
                        "PolicyARN": ARN,
                        "Alarms": [{"AlarmName": "AddCapacity", "AlarmARN": "arn:x"}],
                    }
                ]
            },
        },
    )
    csrf = sign_in(console, client)
    made = client.post(
        "/console/auto-scaling/groups/create",
        data={
            "_csrf": csrf,
            "name": "web",
            "config": "lc1",
            "zone:zone-a": "yes",
            "min": "1",
            "desired": "2",
            "max": "4",
        },
    )
    assert made.status_code == 303 and made.headers["location"].endswith(
        "/auto-scaling/group?name=web"
    )
    assert asg.asked("create_auto_scaling_group") == [
        {
            "AutoScalingGroupName": "web",
            "LaunchConfigurationName": "lc1",
            "AvailabilityZones": ["zone-a"],
            "MinSize": 1,
            "MaxSize": 4,
            "DesiredCapacity": 2,
        }
    ]
    page = client.get("/console/auto-scaling/group", params={"name": "web"})
    assert page.status_code == 200
    text = html.unescape(page.text)
    assert "<h1>Auto Scaling group web</h1>" in text
    assert '<dd id="desired-capacity">2</dd>' in text
    assert "Pending" in _row(text, "instance-i-00000002")
    assert "a user request created an AutoScalingGroup" in _row(text, "activity-a-1")
    policy = _row(text, "policy-out")
    assert ARN in policy and "AddCapacity" in policy and "PercentChangeInCapacity" in policy
    assert asg.asked("describe_scaling_activities") == [
        {"AutoScalingGroupName": "web", "MaxRecords": 20}
    ]


def test_capacity_and_policies_are_sent_as_the_api_takes_them(
    console: Console, client: TestClient, clients: dict[str, Fake]
) -> None:
    asg = _clouds(
        clients,
        {
            "set_desired_capacity": refused("ValidationError", "New SetDesiredCapacity value 9 "
                                            "is above max value 4 for the AutoScalingGroup."),
            "put_scaling_policy": {"PolicyARN": ARN},
            "execute_policy": {},
            "delete_policy": {},
            "describe_auto_scaling_groups": {"AutoScalingGroups": [_group("web")]},
            "describe_scaling_activities": {"Activities": []},
            "describe_policies": {"ScalingPolicies": []},
        },
    )  # fmt: skip
    csrf = sign_in(console, client)
    back = "/auto-scaling/group?name=web"
    refused_page = client.post(
        "/console/auto-scaling/group/capacity",
        data={"_csrf": csrf, "_back": back, "name": "web", "desired": "9"},
    )
    assert refused_page.status_code == 303
    assert asg.asked("set_desired_capacity") == [
        {"AutoScalingGroupName": "web", "DesiredCapacity": 9}
    ]
    shown = client.get("/console" + back)
    assert "ValidationError: New SetDesiredCapacity value 9 is above max value 4" in shown.text

    client.post(
        "/console/auto-scaling/policies/create",
        data={
            "_csrf": csrf,
            "name": "web",
            "policy": "in",
            "adjustment_type": "ChangeInCapacity",
            "adjustment": "-2",
            "cooldown": "60",
        },
    )
    assert asg.asked("put_scaling_policy") == [
        {
            "AutoScalingGroupName": "web",
            "PolicyName": "in",
            "AdjustmentType": "ChangeInCapacity",
            "ScalingAdjustment": -2,
            "Cooldown": 60,
        }
    ]
    client.post(
        "/console/auto-scaling/policies/execute",
        data={"_csrf": csrf, "name": "web", "policy": "in"},
    )
    assert asg.asked("execute_policy") == [{"AutoScalingGroupName": "web", "PolicyName": "in"}]
    delete = {"_csrf": csrf, "name": "web", "policy": "in"}
    asked = client.post("/console/auto-scaling/policies/delete", data=delete)
    assert "Delete policy in of web?" in asked.text and asg.asked("delete_policy") == []
    client.post("/console/auto-scaling/policies/delete", data={**delete, "confirmed": "yes"})
    assert asg.asked("delete_policy") == [{"AutoScalingGroupName": "web", "PolicyName": "in"}]
    gone = {"_csrf": csrf, "name": "web", "confirmed": "yes", "_back": back}
    left = client.post("/console/auto-scaling/groups/delete", data=gone)
    assert left.headers["location"].endswith("/console/auto-scaling")
    assert asg.asked("delete_auto_scaling_group") == [
        {"AutoScalingGroupName": "web", "ForceDelete": True}
    ]
