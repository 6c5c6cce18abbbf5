"""Auto Scaling (2011-01-01) through boto3, at /services/AutoScaling and by signature scope:
every action of the API, AWS's errors (code and HTTP status) for bad input, paging, and the
alarms a target tracking policy owns. The node runs the fake hypervisor; the controller's
group engine may or may not act on the groups meanwhile, so what is checked here is what the
API answers, with groups the engine has nothing to launch for (desired 0, or instances the
test attaches itself)."""

from __future__ import annotations

import datetime as dt
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError

from mallee.api.models.client import mallee_client
from tests.e2e.conftest import REGION, Cloud
from tests.e2e.test_cloudwatch_alarms import ebs_image
from tests.e2e.test_ec2_instances import default_image, wait_state
from tests.e2e.test_iam_accounts import new_account

pytestmark = pytest.mark.e2e

PATH = "/services/AutoScaling"
# A property change reaches the api within its one-second cache.
PROPERTY_DELAY = 1.2


def error(err: pytest.ExceptionInfo[ClientError]) -> tuple[str, int]:
    resp = err.value.response
    return resp["Error"]["Code"], resp["ResponseMetadata"]["HTTPStatusCode"]


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


class Account:
    def __init__(self, cloud: Cloud, account_id: str, access_key: str, secret_key: str) -> None:
        self.id = account_id
        self.keys = (access_key, secret_key)
        path = cloud.endpoint + PATH
        self.asg = cloud.client("autoscaling", access_key, secret_key, endpoint_url=path)
        # Routed by the signature's credential scope (autoscaling) alone.
        self.scoped = cloud.client("autoscaling", access_key, secret_key)
        self.ec2 = cloud.client("ec2", access_key, secret_key)
        self.elb = cloud.client(
            "elb", access_key, secret_key, endpoint_url=cloud.endpoint + "/services/LoadBalancing"
        )
        self.cw = cloud.client("cloudwatch", access_key, secret_key)
        self.iam = cloud.client("iam", access_key, secret_key)
        self.zone = str(self.ec2.describe_availability_zones()["AvailabilityZones"][0]["ZoneName"])
        self.image = default_image(self.ec2)

    def lc(self, name: str | None = None, **extra: Any) -> str:
        name = name or unique("lc")
        args = {"LaunchConfigurationName": name, "ImageId": self.image, "InstanceType": "m1.small"}
        self.asg.create_launch_configuration(**{**args, **extra})
        return name

    def group(self, name: str | None = None, **extra: Any) -> str:
        name = name or unique("asg")
        args: dict[str, Any] = {
            "AutoScalingGroupName": name,
            "LaunchConfigurationName": extra.pop("LaunchConfigurationName", None) or self.lc(),
            "MinSize": 0,
            "MaxSize": 4,
            "DesiredCapacity": 0,
            "AvailabilityZones": [self.zone],
        }
        self.asg.create_auto_scaling_group(**{**args, **extra})
        return name

    def describe(self, name: str) -> dict[str, Any]:
        found = self.asg.describe_auto_scaling_groups(AutoScalingGroupNames=[name])
        group: dict[str, Any] = found["AutoScalingGroups"][0]
        return group


def user_client(acct: Account, cloud: Cloud, actions: str, resource: str) -> tuple[str, Any]:
    """A new user of the account allowed only `actions` (a JSON action or list) on
    `resource`, and an Auto Scaling client signing as it."""
    user = unique("ops")
    acct.iam.create_user(UserName=user)
    acct.iam.put_user_policy(
        UserName=user,
        PolicyName="allowed",
        PolicyDocument=(
            '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":'
            f'{actions},"Resource":"{resource}"}}]}}'
        ),
    )
    key = acct.iam.create_access_key(UserName=user)["AccessKey"]
    client = cloud.client(
        "autoscaling",
        key["AccessKeyId"],
        key["SecretAccessKey"],
        endpoint_url=cloud.endpoint + PATH,
    )
    return user, client


@pytest.fixture(scope="module")
def acct(cloud: Cloud, tmp_path_factory: pytest.TempPathFactory) -> Account:
    account_id, ak, sk = new_account(cloud, tmp_path_factory.mktemp("asg"))
    return Account(cloud, account_id, ak, sk)


@pytest.fixture(scope="module")
def empyrean(cloud: Cloud) -> Any:
    return mallee_client(
        "empyrean",
        cloud.endpoint + "/services/Empyrean",
        region_name=REGION,
        aws_access_key_id=cloud.admin.access_key,
        aws_secret_access_key=cloud.admin.secret_key,
    )


@pytest.fixture
def running(acct: Account) -> Iterator[list[str]]:
    """Two running (fake) instances of the account, to attach to a group."""
    res = acct.ec2.run_instances(ImageId=acct.image, MinCount=2, MaxCount=2)
    ids = [i["InstanceId"] for i in res["Instances"]]
    wait_state(acct.ec2, ids, "running")
    yield ids
    acct.ec2.terminate_instances(InstanceIds=ids)


# Launch configurations ------------------------------------------------------------------------
def test_launch_configuration_lifecycle(acct: Account) -> None:
    acct.ec2.create_key_pair(KeyName="asg-key")
    # boto3 encodes UserData itself; the configuration keeps (and answers) the base64 text.
    name = acct.lc(KeyName="asg-key", SecurityGroups=["default"], UserData="hello")
    found = acct.asg.describe_launch_configurations(LaunchConfigurationNames=[name])
    (lc,) = found["LaunchConfigurations"]
    assert lc["LaunchConfigurationName"] == name
    assert lc["ImageId"] == acct.image and lc["InstanceType"] == "m1.small"
    assert lc["KeyName"] == "asg-key" and lc["SecurityGroups"] == ["default"]
    assert lc["UserData"] == "aGVsbG8=" and lc["InstanceMonitoring"] == {"Enabled": True}
    assert lc["LaunchConfigurationARN"].startswith(
        f"arn:aws:autoscaling:{REGION}:{acct.id}:launchConfiguration:"
    )
    assert lc["LaunchConfigurationARN"].endswith(f":launchConfigurationName/{name}")
    with pytest.raises(ClientError) as err:
        acct.lc(name)
    assert error(err) == ("AlreadyExists", 400)
    acct.asg.delete_launch_configuration(LaunchConfigurationName=name)
    assert (
        acct.asg.describe_launch_configurations(LaunchConfigurationNames=[name])[
            "LaunchConfigurations"
        ]
        == []
    )
    with pytest.raises(ClientError) as err:
        acct.asg.delete_launch_configuration(LaunchConfigurationName=name)
    assert error(err) == ("ValidationError", 400)


@pytest.mark.parametrize(
    "extra, words",
    [
        ({"ImageId": "emi-00000000"}, "image id"),
        ({"KeyName": "no-such-key"}, "key pair"),
        ({"SecurityGroups": ["no-such-group"]}, "security group"),
        ({"InstanceType": "m9.huge"}, "instance type"),
    ],
)
def test_launch_configuration_checks_what_it_names(
    acct: Account, extra: dict[str, Any], words: str
) -> None:
    name = unique("lc")
    args = {"LaunchConfigurationName": name, "ImageId": acct.image, "InstanceType": "m1.small"}
    with pytest.raises(ClientError) as err:
        acct.asg.create_launch_configuration(**{**args, **extra})
    assert error(err) == ("ValidationError", 400)
    assert words in err.value.response["Error"]["Message"]
    found = acct.asg.describe_launch_configurations(LaunchConfigurationNames=[name])
    assert found["LaunchConfigurations"] == []


def test_another_accounts_image_needs_its_launch_permission(acct: Account, cloud: Cloud) -> None:
    admin = cloud.client("ec2")
    private = ebs_image(admin)
    with pytest.raises(ClientError) as err:
        acct.lc(ImageId=private)
    assert error(err) == ("ValidationError", 400)
    admin.modify_image_attribute(ImageId=private, LaunchPermission={"Add": [{"UserId": acct.id}]})
    name = acct.lc(ImageId=private)
    acct.asg.delete_launch_configuration(LaunchConfigurationName=name)


def test_launch_configurations_page(acct: Account) -> None:
    names = sorted(acct.lc(unique("page")) for _ in range(3))
    seen: list[str] = []
    token: dict[str, str] = {}
    while True:
        page = acct.asg.describe_launch_configurations(
            LaunchConfigurationNames=names, MaxRecords=2, **token
        )
        seen += [lc["LaunchConfigurationName"] for lc in page["LaunchConfigurations"]]
        if "NextToken" not in page:
            break
        token = {"NextToken": page["NextToken"]}
    assert seen == names
    with pytest.raises(ClientError) as err:
        acct.asg.describe_launch_configurations(NextToken="garbage")
    assert error(err) == ("InvalidNextToken", 400)


# Groups -----------------------------------------------------------------------------------------
def test_group_lifecycle(acct: Account) -> None:
    lc = acct.lc()
    name = acct.group(
        LaunchConfigurationName=lc,
        HealthCheckType="EC2",
        HealthCheckGracePeriod=60,
        DefaultCooldown=120,
        TerminationPolicies=["OldestInstance", "Default"],
        NewInstancesProtectedFromScaleIn=True,
        Tags=[{"Key": "env", "Value": "test", "PropagateAtLaunch": True}],
    )
    g = acct.describe(name)
    assert (g["MinSize"], g["MaxSize"], g["DesiredCapacity"]) == (0, 4, 0)
    assert g["LaunchConfigurationName"] == lc and g["AvailabilityZones"] == [acct.zone]
    assert g["DefaultCooldown"] == 120 and g["HealthCheckGracePeriod"] == 60
    assert g["TerminationPolicies"] == ["OldestInstance", "Default"]
    assert g["NewInstancesProtectedFromScaleIn"] is True
    assert g["AutoScalingGroupARN"].startswith(
        f"arn:aws:autoscaling:{REGION}:{acct.id}:autoScalingGroup:"
    )
    assert g["AutoScalingGroupARN"].endswith(f":autoScalingGroupName/{name}")
    assert g["Tags"] == [
        {
            "ResourceId": name,
            "ResourceType": "auto-scaling-group",
            "Key": "env",
            "Value": "test",
            "PropagateAtLaunch": True,
        }
    ]
    # The same, by signature scope.
    scoped = acct.scoped.describe_auto_scaling_groups(AutoScalingGroupNames=[name])
    assert scoped["AutoScalingGroups"][0]["AutoScalingGroupName"] == name

    with pytest.raises(ClientError) as err:
        acct.group(name)
    assert error(err) == ("AlreadyExists", 400)
    # The group's launch configuration is in use.
    with pytest.raises(ClientError) as err:
        acct.asg.delete_launch_configuration(LaunchConfigurationName=lc)
    assert error(err) == ("ResourceInUse", 400)

    acct.asg.update_auto_scaling_group(AutoScalingGroupName=name, MinSize=1, MaxSize=3)
    g = acct.describe(name)
    # The desired capacity follows the new bounds.
    assert (g["MinSize"], g["MaxSize"], g["DesiredCapacity"]) == (1, 3, 1)
    acct.asg.update_auto_scaling_group(
        AutoScalingGroupName=name, MinSize=0, DesiredCapacity=0, HealthCheckType="ELB"
    )
    assert acct.describe(name)["HealthCheckType"] == "ELB"

    acct.asg.delete_auto_scaling_group(AutoScalingGroupName=name)
    left = acct.asg.describe_auto_scaling_groups(AutoScalingGroupNames=[name])
    # Gone, or being deleted by the engine.
    for g in left["AutoScalingGroups"]:
        assert g["Status"] == "Delete in progress"
        assert (g["MinSize"], g["MaxSize"], g["DesiredCapacity"]) == (0, 0, 0)


@pytest.mark.parametrize(
    "extra",
    [
        {"MinSize": 3, "MaxSize": 1},
        {"MinSize": 1, "MaxSize": 2, "DesiredCapacity": 5},
        {"AvailabilityZones": ["no-such-zone"]},
        {"LoadBalancerNames": ["no-such-lb"]},
        {"VPCZoneIdentifier": "subnet-00000000"},
        {"LaunchConfigurationName": "no-such-lc"},
        {"HealthCheckType": "HTTP"},
        {"TerminationPolicies": ["Randomly"]},
        {"LaunchTemplate": {"LaunchTemplateName": "no-such-template"}},
    ],
)
def test_group_bad_input_creates_nothing(acct: Account, extra: dict[str, Any]) -> None:
    name = unique("bad")
    args: dict[str, Any] = {
        "AutoScalingGroupName": name,
        "MinSize": 0,
        "MaxSize": 2,
        "AvailabilityZones": [acct.zone],
    }
    if "LaunchTemplate" not in extra:
        args["LaunchConfigurationName"] = extra.pop("LaunchConfigurationName", None) or acct.lc()
    with pytest.raises(ClientError) as err:
        acct.asg.create_auto_scaling_group(**{**args, **extra})
    assert error(err) == ("ValidationError", 400)
    found = acct.asg.describe_auto_scaling_groups(AutoScalingGroupNames=[name])
    assert found["AutoScalingGroups"] == []


def test_bound_errors_say_what_aws_says(acct: Account) -> None:
    name = acct.group()
    with pytest.raises(ClientError) as err:
        acct.asg.update_auto_scaling_group(AutoScalingGroupName=name, MinSize=3, MaxSize=2)
    assert err.value.response["Error"]["Message"] == (
        "Max bound, 2, must be greater than or equal to min bound, 3"
    )
    with pytest.raises(ClientError) as err:
        acct.asg.update_auto_scaling_group(AutoScalingGroupName=name, DesiredCapacity=9)
    assert err.value.response["Error"]["Message"] == (
        "Desired capacity:9 must be between the specified min size:0 and max size:4"
    )
    with pytest.raises(ClientError) as err:
        acct.asg.set_desired_capacity(AutoScalingGroupName=name, DesiredCapacity=5)
    assert error(err) == ("ValidationError", 400)
    with pytest.raises(ClientError) as err:
        acct.asg.set_desired_capacity(AutoScalingGroupName="no-such-group", DesiredCapacity=1)
    assert error(err) == ("ValidationError", 400)
    acct.asg.delete_auto_scaling_group(AutoScalingGroupName=name)


def test_group_quota(acct: Account, empyrean: Any) -> None:
    # Zero: the engine may be deleting this account's earlier groups meanwhile.
    empyrean.modify_property_value(Name="services.autoscaling.max_groups_per_account", Value="0")
    time.sleep(PROPERTY_DELAY)
    try:
        with pytest.raises(ClientError) as err:
            acct.group()
        assert error(err) == ("LimitExceeded", 400)
    finally:
        empyrean.modify_property_value(
            Name="services.autoscaling.max_groups_per_account", Reset=True
        )
        time.sleep(PROPERTY_DELAY)
    empyrean.modify_property_value(
        Name="services.autoscaling.max_launch_configurations_per_account", Value="0"
    )
    time.sleep(PROPERTY_DELAY)
    try:
        with pytest.raises(ClientError) as err:
            acct.lc()
        assert error(err) == ("LimitExceeded", 400)
    finally:
        empyrean.modify_property_value(
            Name="services.autoscaling.max_launch_configurations_per_account", Reset=True
        )
        time.sleep(PROPERTY_DELAY)
    limits = acct.asg.describe_account_limits()
    assert limits["MaxNumberOfAutoScalingGroups"] == 200
    assert limits["MaxNumberOfLaunchConfigurations"] == 200


def test_groups_page_and_filter_by_tag(acct: Account) -> None:
    tag = unique("team")
    names = sorted(acct.group(Tags=[{"Key": "team", "Value": tag}]) for _ in range(3))
    seen: list[str] = []
    token: dict[str, str] = {}
    while True:
        page = acct.asg.describe_auto_scaling_groups(
            Filters=[{"Name": "tag:team", "Values": [tag]}], MaxRecords=2, **token
        )
        seen += [g["AutoScalingGroupName"] for g in page["AutoScalingGroups"]]
        if "NextToken" not in page:
            break
        token = {"NextToken": page["NextToken"]}
    assert seen == names
    for name in names:
        acct.asg.delete_auto_scaling_group(AutoScalingGroupName=name)


# Capacity and instances -----------------------------------------------------------------------
def test_attached_instances_terminate_detach_health_protection(
    acct: Account, running: list[str]
) -> None:
    name = acct.group(MinSize=0, MaxSize=3)
    acct.asg.attach_instances(AutoScalingGroupName=name, InstanceIds=running)
    g = acct.describe(name)
    assert g["DesiredCapacity"] == 2
    assert sorted(i["InstanceId"] for i in g["Instances"]) == sorted(running)
    details = acct.asg.describe_auto_scaling_instances(InstanceIds=running)
    assert {d["AutoScalingGroupName"] for d in details["AutoScalingInstances"]} == {name}
    assert {d["HealthStatus"] for d in details["AutoScalingInstances"]} == {"HEALTHY"}
    with pytest.raises(ClientError) as err:
        acct.asg.attach_instances(AutoScalingGroupName=name, InstanceIds=running[:1])
    assert error(err) == ("ValidationError", 400)

    acct.asg.set_instance_protection(
        AutoScalingGroupName=name, InstanceIds=running[:1], ProtectedFromScaleIn=True
    )
    acct.asg.set_instance_health(
        InstanceId=running[0], HealthStatus="Unhealthy", ShouldRespectGracePeriod=False
    )
    (first,) = acct.asg.describe_auto_scaling_instances(InstanceIds=running[:1])[
        "AutoScalingInstances"
    ]
    assert first["ProtectedFromScaleIn"] is True and first["HealthStatus"] == "UNHEALTHY"
    with pytest.raises(ClientError) as err:
        acct.asg.set_instance_health(InstanceId="i-00000000", HealthStatus="Healthy")
    assert error(err) == ("ValidationError", 400)

    detached = acct.asg.detach_instances(
        AutoScalingGroupName=name, InstanceIds=running[1:], ShouldDecrementDesiredCapacity=True
    )["Activities"]
    assert detached[0]["Description"] == f"Detaching EC2 instance: {running[1]}"
    assert acct.describe(name)["DesiredCapacity"] == 1

    answer = acct.asg.terminate_instance_in_auto_scaling_group(
        InstanceId=running[0], ShouldDecrementDesiredCapacity=True
    )["Activity"]
    assert answer["Description"] == f"Terminating EC2 instance: {running[0]}"
    assert answer["Cause"].endswith(
        f"instance {running[0]} was taken out of service in response to a user request, "
        "shrinking the capacity from 1 to 0."
    )
    assert acct.describe(name)["DesiredCapacity"] == 0
    wait_state(acct.ec2, running[:1], "terminated")
    activities = acct.asg.describe_scaling_activities(AutoScalingGroupName=name)["Activities"]
    assert activities[0]["ActivityId"] == answer["ActivityId"]
    # A terminate is in progress (or over, and the group cools down): a change that honours
    # cooldowns waits.
    with pytest.raises(ClientError) as err:
        acct.asg.set_desired_capacity(
            AutoScalingGroupName=name, DesiredCapacity=0, HonorCooldown=True
        )
    # Desired is already 0: nothing to wait for is still refused while the group is busy.
    assert error(err) == ("ScalingActivityInProgress", 400)


def test_delete_with_instances_needs_force(acct: Account, running: list[str]) -> None:
    name = acct.group()
    acct.asg.attach_instances(AutoScalingGroupName=name, InstanceIds=running[:1])
    with pytest.raises(ClientError) as err:
        acct.asg.delete_auto_scaling_group(AutoScalingGroupName=name)
    assert error(err) == ("ResourceInUse", 400)
    assert "still in the group" in err.value.response["Error"]["Message"]
    acct.asg.delete_auto_scaling_group(AutoScalingGroupName=name, ForceDelete=True)
    for g in acct.asg.describe_auto_scaling_groups(AutoScalingGroupNames=[name])[
        "AutoScalingGroups"
    ]:
        assert g["Status"] == "Delete in progress" and g["DesiredCapacity"] == 0


def test_load_balancers(acct: Account) -> None:
    lb = unique("lb")
    acct.elb.create_load_balancer(
        LoadBalancerName=lb,
        Listeners=[{"Protocol": "HTTP", "LoadBalancerPort": 80, "InstancePort": 80}],
        AvailabilityZones=[acct.zone],
    )
    name = acct.group(LoadBalancerNames=[lb])
    assert acct.describe(name)["LoadBalancerNames"] == [lb]
    acct.asg.detach_load_balancers(AutoScalingGroupName=name, LoadBalancerNames=[lb])
    assert acct.describe(name)["LoadBalancerNames"] == []
    acct.asg.attach_load_balancers(AutoScalingGroupName=name, LoadBalancerNames=[lb])
    listed = acct.asg.describe_load_balancers(AutoScalingGroupName=name)["LoadBalancers"]
    assert listed == [{"LoadBalancerName": lb, "State": "Added"}]
    with pytest.raises(ClientError) as err:
        acct.asg.attach_load_balancers(AutoScalingGroupName=name, LoadBalancerNames=["nope"])
    assert error(err) == ("ValidationError", 400)
    acct.asg.delete_auto_scaling_group(AutoScalingGroupName=name)
    acct.elb.delete_load_balancer(LoadBalancerName=lb)


# Policies -------------------------------------------------------------------------------------
def test_simple_policies_move_the_desired_capacity(acct: Account) -> None:
    name = acct.group(MinSize=0, MaxSize=10, DesiredCapacity=0)
    # Capacity moves without the engine's instances: the group is suspended from launching.
    acct.asg.suspend_processes(AutoScalingGroupName=name, ScalingProcesses=["Launch"])
    arn = acct.asg.put_scaling_policy(
        AutoScalingGroupName=name,
        PolicyName="out",
        AdjustmentType="PercentChangeInCapacity",
        ScalingAdjustment=30,
        MinAdjustmentMagnitude=2,
    )["PolicyARN"]
    assert arn.startswith(f"arn:aws:autoscaling:{REGION}:{acct.id}:scalingPolicy:")
    assert arn.endswith(f":autoScalingGroupName/{name}:policyName/out")
    acct.asg.put_scaling_policy(
        AutoScalingGroupName=name,
        PolicyName="exact",
        AdjustmentType="ExactCapacity",
        ScalingAdjustment=4,
    )
    acct.asg.put_scaling_policy(
        AutoScalingGroupName=name,
        PolicyName="in",
        AdjustmentType="ChangeInCapacity",
        ScalingAdjustment=-1,
        Cooldown=60,
    )
    acct.asg.execute_policy(AutoScalingGroupName=name, PolicyName="exact")
    assert acct.describe(name)["DesiredCapacity"] == 4
    # 30% of 4 is 1.2: truncated to 1, raised to MinAdjustmentMagnitude 2. By ARN.
    acct.asg.execute_policy(PolicyName=arn)
    assert acct.describe(name)["DesiredCapacity"] == 6
    acct.asg.execute_policy(AutoScalingGroupName=name, PolicyName="in")
    assert acct.describe(name)["DesiredCapacity"] == 5
    policies = acct.asg.describe_policies(AutoScalingGroupName=name)["ScalingPolicies"]
    assert [p["PolicyName"] for p in policies] == ["exact", "in", "out"]
    out = policies[2]
    assert out["PolicyARN"] == arn and out["AdjustmentType"] == "PercentChangeInCapacity"
    assert out["ScalingAdjustment"] == 30 and out["MinAdjustmentMagnitude"] == 2
    assert out["PolicyType"] == "SimpleScaling" and out["Alarms"] == []

    # An alarm acting on the policy is listed with it.
    acct.cw.put_metric_alarm(
        AlarmName=unique("cpu"),
        Namespace="AWS/EC2",
        MetricName="CPUUtilization",
        Dimensions=[{"Name": "AutoScalingGroupName", "Value": name}],
        Statistic="Average",
        Period=60,
        EvaluationPeriods=1,
        Threshold=80,
        ComparisonOperator="GreaterThanThreshold",
        AlarmActions=[arn],
    )
    (listed,) = acct.asg.describe_policies(PolicyNames=[arn])["ScalingPolicies"]
    assert len(listed["Alarms"]) == 1

    acct.asg.delete_policy(AutoScalingGroupName=name, PolicyName="exact")
    with pytest.raises(ClientError) as err:
        acct.asg.execute_policy(AutoScalingGroupName=name, PolicyName="exact")
    assert error(err) == ("ValidationError", 400)
    with pytest.raises(ClientError) as err:
        acct.asg.put_scaling_policy(
            AutoScalingGroupName=name,
            PolicyName="bad",
            AdjustmentType="ChangeInCapacity",
            ScalingAdjustment=1,
            MinAdjustmentMagnitude=1,
        )
    assert error(err) == ("ValidationError", 400)
    acct.asg.set_desired_capacity(AutoScalingGroupName=name, DesiredCapacity=0)
    acct.asg.delete_auto_scaling_group(AutoScalingGroupName=name)


def test_an_alarm_in_alarm_executes_its_policy(acct: Account) -> None:
    name = acct.group(MinSize=0, MaxSize=10)
    acct.asg.suspend_processes(AutoScalingGroupName=name, ScalingProcesses=["Launch"])
    arn = acct.asg.put_scaling_policy(
        AutoScalingGroupName=name,
        PolicyName="scale-out",
        AdjustmentType="ChangeInCapacity",
        ScalingAdjustment=2,
    )["PolicyARN"]
    alarm = unique("busy")
    acct.cw.put_metric_alarm(
        AlarmName=alarm,
        Namespace="Test/App",
        MetricName="Load",
        Statistic="Average",
        Period=60,
        EvaluationPeriods=1,
        Threshold=1,
        ComparisonOperator="GreaterThanThreshold",
        AlarmActions=[arn],
    )
    acct.cw.set_alarm_state(AlarmName=alarm, StateValue="ALARM", StateReason="test")
    deadline = time.monotonic() + 30
    while acct.describe(name)["DesiredCapacity"] != 2:
        assert time.monotonic() < deadline, "the alarm's action did not run"
        time.sleep(0.2)
    history = acct.cw.describe_alarm_history(AlarmName=alarm, HistoryItemType="Action")
    assert history["AlarmHistoryItems"][0]["HistorySummary"] == (
        f"Successfully executed action {arn}"
    )
    acct.cw.delete_alarms(AlarmNames=[alarm])
    acct.asg.set_desired_capacity(AutoScalingGroupName=name, DesiredCapacity=0)
    acct.asg.delete_auto_scaling_group(AutoScalingGroupName=name)


def test_step_scaling(acct: Account) -> None:
    name = acct.group(MinSize=0, MaxSize=10)
    acct.asg.suspend_processes(AutoScalingGroupName=name, ScalingProcesses=["Launch"])
    steps = [
        {"MetricIntervalLowerBound": 0, "MetricIntervalUpperBound": 20, "ScalingAdjustment": 1},
        {"MetricIntervalLowerBound": 20, "ScalingAdjustment": 3},
    ]
    acct.asg.put_scaling_policy(
        AutoScalingGroupName=name,
        PolicyName="steps",
        PolicyType="StepScaling",
        AdjustmentType="ChangeInCapacity",
        StepAdjustments=steps,
    )
    acct.asg.execute_policy(
        AutoScalingGroupName=name, PolicyName="steps", MetricValue=75, BreachThreshold=50
    )
    assert acct.describe(name)["DesiredCapacity"] == 3
    acct.asg.execute_policy(
        AutoScalingGroupName=name, PolicyName="steps", MetricValue=55, BreachThreshold=50
    )
    assert acct.describe(name)["DesiredCapacity"] == 4
    with pytest.raises(ClientError) as err:
        acct.asg.execute_policy(AutoScalingGroupName=name, PolicyName="steps")
    assert error(err) == ("ValidationError", 400)
    overlapping = [
        {"MetricIntervalLowerBound": 0, "MetricIntervalUpperBound": 30, "ScalingAdjustment": 1},
        {"MetricIntervalLowerBound": 20, "ScalingAdjustment": 3},
    ]
    with pytest.raises(ClientError) as err:
        acct.asg.put_scaling_policy(
            AutoScalingGroupName=name,
            PolicyName="bad",
            PolicyType="StepScaling",
            AdjustmentType="ChangeInCapacity",
            StepAdjustments=overlapping,
        )
    assert error(err) == ("ValidationError", 400)
    acct.asg.set_desired_capacity(AutoScalingGroupName=name, DesiredCapacity=0)
    acct.asg.delete_auto_scaling_group(AutoScalingGroupName=name)


def test_target_tracking_owns_its_alarms(acct: Account) -> None:
    name = acct.group()
    answer = acct.asg.put_scaling_policy(
        AutoScalingGroupName=name,
        PolicyName="cpu50",
        PolicyType="TargetTrackingScaling",
        TargetTrackingConfiguration={
            "PredefinedMetricSpecification": {"PredefinedMetricType": "ASGAverageCPUUtilization"},
            "TargetValue": 50.0,
        },
    )
    alarms = sorted(a["AlarmName"] for a in answer["Alarms"])
    assert [a.split("-")[:3] for a in alarms] == [
        ["TargetTracking", name.split("-")[0], name.split("-")[1]]
    ] * 2
    assert any(f"TargetTracking-{name}-AlarmHigh-" in a for a in alarms)
    assert any(f"TargetTracking-{name}-AlarmLow-" in a for a in alarms)
    described = acct.cw.describe_alarms(AlarmNames=alarms)["MetricAlarms"]
    assert {tuple(a["AlarmActions"]) for a in described} == {(answer["PolicyARN"],)}
    assert {a["MetricName"] for a in described} == {"CPUUtilization"}
    assert {a["Dimensions"][0]["Value"] for a in described} == {name}
    (policy,) = acct.asg.describe_policies(AutoScalingGroupName=name)["ScalingPolicies"]
    assert sorted(a["AlarmName"] for a in policy["Alarms"]) == alarms
    assert policy["TargetTrackingConfiguration"]["TargetValue"] == 50.0
    with pytest.raises(ClientError) as err:
        acct.asg.execute_policy(AutoScalingGroupName=name, PolicyName="cpu50")
    assert error(err) == ("ValidationError", 400)
    acct.asg.delete_policy(AutoScalingGroupName=name, PolicyName="cpu50")
    assert acct.cw.describe_alarms(AlarmNames=alarms)["MetricAlarms"] == []
    acct.asg.delete_auto_scaling_group(AutoScalingGroupName=name)


def test_the_alarms_own_operation_is_not_on_the_wire(acct: Account, cloud: Cloud) -> None:
    """ExecutePolicyForAlarm (the alarm engine's, naming its alarm) is unknown from outside,
    even signed by the group's own account with a client whose model has it."""
    name = acct.group()
    acct.asg.put_scaling_policy(
        AutoScalingGroupName=name,
        PolicyName="up",
        AdjustmentType="ChangeInCapacity",
        ScalingAdjustment=1,
    )
    client = mallee_client(
        "autoscaling",
        cloud.endpoint + PATH,
        region_name=REGION,
        aws_access_key_id=acct.keys[0],
        aws_secret_access_key=acct.keys[1],
    )
    with pytest.raises(ClientError) as err:
        client.execute_policy_for_alarm(
            AutoScalingGroupName=name, PolicyName="up", AlarmName="forged"
        )
    assert error(err) == ("InvalidAction", 400)
    assert acct.describe(name)["DesiredCapacity"] == 0
    acct.asg.delete_auto_scaling_group(AutoScalingGroupName=name)


# Processes, metrics, schedules, tags ------------------------------------------------------------
def test_processes_and_metrics(acct: Account) -> None:
    name = acct.group()
    acct.asg.suspend_processes(
        AutoScalingGroupName=name, ScalingProcesses=["Launch", "AZRebalance"]
    )
    suspended = acct.describe(name)["SuspendedProcesses"]
    assert [p["ProcessName"] for p in suspended] == ["Launch", "AZRebalance"]
    assert suspended[0]["SuspensionReason"].startswith("User suspended at ")
    acct.asg.resume_processes(AutoScalingGroupName=name, ScalingProcesses=["Launch"])
    assert [p["ProcessName"] for p in acct.describe(name)["SuspendedProcesses"]] == ["AZRebalance"]
    acct.asg.suspend_processes(AutoScalingGroupName=name)
    assert len(acct.describe(name)["SuspendedProcesses"]) == 9
    acct.asg.resume_processes(AutoScalingGroupName=name)
    assert acct.describe(name)["SuspendedProcesses"] == []
    with pytest.raises(ClientError) as err:
        acct.asg.suspend_processes(AutoScalingGroupName=name, ScalingProcesses=["Dance"])
    assert error(err) == ("ValidationError", 400)

    acct.asg.enable_metrics_collection(
        AutoScalingGroupName=name, Metrics=["GroupMaxSize", "GroupMinSize"], Granularity="1Minute"
    )
    assert acct.describe(name)["EnabledMetrics"] == [
        {"Metric": "GroupMinSize", "Granularity": "1Minute"},
        {"Metric": "GroupMaxSize", "Granularity": "1Minute"},
    ]
    acct.asg.disable_metrics_collection(AutoScalingGroupName=name)
    assert acct.describe(name)["EnabledMetrics"] == []
    with pytest.raises(ClientError) as err:
        acct.asg.enable_metrics_collection(AutoScalingGroupName=name, Granularity="5Minute")
    assert error(err) == ("ValidationError", 400)
    acct.asg.delete_auto_scaling_group(AutoScalingGroupName=name)


def test_scheduled_actions(acct: Account) -> None:
    name = acct.group()
    soon = dt.datetime.now(dt.UTC) + dt.timedelta(hours=2)
    acct.asg.put_scheduled_update_group_action(
        AutoScalingGroupName=name,
        ScheduledActionName="once",
        StartTime=soon,
        DesiredCapacity=2,
        MaxSize=4,
    )
    acct.asg.put_scheduled_update_group_action(
        AutoScalingGroupName=name,
        ScheduledActionName="nightly",
        Recurrence="30 2 * * *",
        TimeZone="Australia/Sydney",
        MinSize=0,
        MaxSize=4,
    )
    found = acct.asg.describe_scheduled_actions(AutoScalingGroupName=name)
    by_name = {a["ScheduledActionName"]: a for a in found["ScheduledUpdateGroupActions"]}
    assert set(by_name) == {"once", "nightly"}
    assert abs((by_name["once"]["StartTime"] - soon).total_seconds()) < 1
    nightly = by_name["nightly"]
    assert nightly["Recurrence"] == "30 2 * * *" and nightly["TimeZone"] == "Australia/Sydney"
    from zoneinfo import ZoneInfo

    local = nightly["StartTime"].astimezone(ZoneInfo("Australia/Sydney"))
    assert (local.hour, local.minute) == (2, 30)
    assert nightly["ScheduledActionARN"].endswith(
        f":autoScalingGroupName/{name}:scheduledActionName/nightly"
    )
    for bad in (
        {"StartTime": dt.datetime.now(dt.UTC) - dt.timedelta(hours=1), "DesiredCapacity": 1},
        {"Recurrence": "61 * * * *", "DesiredCapacity": 1},
        {"Recurrence": "0 * * * *", "TimeZone": "Mars/Olympus", "DesiredCapacity": 1},
        {"Recurrence": "0 * * * *"},
    ):
        with pytest.raises(ClientError) as err:
            acct.asg.put_scheduled_update_group_action(
                AutoScalingGroupName=name, ScheduledActionName="bad", **bad
            )
        assert error(err) == ("ValidationError", 400)
    failed = acct.asg.batch_put_scheduled_update_group_action(
        AutoScalingGroupName=name,
        ScheduledUpdateGroupActions=[
            {"ScheduledActionName": "b1", "Recurrence": "0 9 * * MON-FRI", "DesiredCapacity": 1},
            {"ScheduledActionName": "b2", "Recurrence": "nonsense", "DesiredCapacity": 1},
        ],
    )["FailedScheduledUpdateGroupActions"]
    assert [f["ScheduledActionName"] for f in failed] == ["b2"]
    acct.asg.delete_scheduled_action(AutoScalingGroupName=name, ScheduledActionName="once")
    failed = acct.asg.batch_delete_scheduled_action(
        AutoScalingGroupName=name, ScheduledActionNames=["b1", "missing"]
    )["FailedScheduledActions"]
    assert [f["ScheduledActionName"] for f in failed] == ["missing"]
    left = acct.asg.describe_scheduled_actions(AutoScalingGroupName=name)
    assert [a["ScheduledActionName"] for a in left["ScheduledUpdateGroupActions"]] == ["nightly"]
    with pytest.raises(ClientError) as err:
        acct.asg.delete_scheduled_action(AutoScalingGroupName=name, ScheduledActionName="once")
    assert error(err) == ("ValidationError", 400)
    acct.asg.delete_auto_scaling_group(AutoScalingGroupName=name)


def test_tags(acct: Account) -> None:
    name = acct.group()
    acct.asg.create_or_update_tags(
        Tags=[
            {
                "ResourceId": name,
                "ResourceType": "auto-scaling-group",
                "Key": "a",
                "Value": "1",
                "PropagateAtLaunch": True,
            },
            {
                "ResourceId": name,
                "ResourceType": "auto-scaling-group",
                "Key": "b",
                "Value": "2",
                "PropagateAtLaunch": False,
            },
        ]
    )
    acct.asg.create_or_update_tags(
        Tags=[{"ResourceId": name, "Key": "b", "Value": "3", "PropagateAtLaunch": False}]
    )
    mine = [{"Name": "auto-scaling-group", "Values": [name]}]
    tags = acct.asg.describe_tags(Filters=mine)["Tags"]
    assert [(t["Key"], t["Value"], t["PropagateAtLaunch"]) for t in tags] == [
        ("a", "1", True),
        ("b", "3", False),
    ]
    only = acct.asg.describe_tags(
        Filters=[*mine, {"Name": "propagate-at-launch", "Values": ["true"]}]
    )
    assert [t["Key"] for t in only["Tags"]] == ["a"]
    page = acct.asg.describe_tags(Filters=mine, MaxRecords=1)
    assert len(page["Tags"]) == 1 and "NextToken" in page
    rest = acct.asg.describe_tags(Filters=mine, NextToken=page["NextToken"])
    assert [t["Key"] for t in rest["Tags"]] == ["b"]
    acct.asg.delete_tags(Tags=[{"ResourceId": name, "Key": "a"}])
    assert [t["Key"] for t in acct.asg.describe_tags(Filters=mine)["Tags"]] == ["b"]
    with pytest.raises(ClientError) as err:
        acct.asg.create_or_update_tags(Tags=[{"ResourceId": name, "Key": "aws:x", "Value": ""}])
    assert error(err) == ("ValidationError", 400)
    with pytest.raises(ClientError) as err:
        acct.asg.create_or_update_tags(Tags=[{"ResourceId": "no-such", "Key": "x", "Value": ""}])
    assert error(err) == ("ValidationError", 400)
    with pytest.raises(ClientError) as err:
        acct.asg.describe_tags(Filters=[{"Name": "colour", "Values": ["x"]}])
    assert error(err) == ("ValidationError", 400)
    acct.asg.delete_auto_scaling_group(AutoScalingGroupName=name)


def test_static_answers(acct: Account) -> None:
    types = acct.asg.describe_adjustment_types()["AdjustmentTypes"]
    assert [t["AdjustmentType"] for t in types] == [
        "ChangeInCapacity",
        "ExactCapacity",
        "PercentChangeInCapacity",
    ]
    processes = acct.asg.describe_scaling_process_types()["Processes"]
    assert "ReplaceUnhealthy" in [p["ProcessName"] for p in processes]
    assert (
        "OldestInstance" in acct.asg.describe_termination_policy_types()["TerminationPolicyTypes"]
    )
    metrics = acct.asg.describe_metric_collection_types()
    assert {"Metric": "GroupDesiredCapacity"} in metrics["Metrics"]
    assert metrics["Granularities"] == [{"Granularity": "1Minute"}]
    hooks = acct.asg.describe_lifecycle_hook_types()["LifecycleHookTypes"]
    assert hooks == ["autoscaling:EC2_INSTANCE_LAUNCHING", "autoscaling:EC2_INSTANCE_TERMINATING"]
    notifications = acct.asg.describe_auto_scaling_notification_types()
    assert "autoscaling:EC2_INSTANCE_LAUNCH" in notifications["AutoScalingNotificationTypes"]
    with pytest.raises(ClientError) as err:
        acct.asg.describe_scaling_activities(AutoScalingGroupName="never-was")
    assert error(err) == ("ValidationError", 400)


def test_policies_are_authorized_per_group(acct: Account, cloud: Cloud) -> None:
    allowed, other = acct.group(), acct.group()
    arn = (
        f"arn:aws:autoscaling:{REGION}:{acct.id}:autoScalingGroup:*:autoScalingGroupName/{allowed}"
    )
    _, ops = user_client(acct, cloud, '"autoscaling:*"', arn)
    ops.update_auto_scaling_group(AutoScalingGroupName=allowed, MaxSize=3)
    with pytest.raises(ClientError) as err:
        ops.update_auto_scaling_group(AutoScalingGroupName=other, MaxSize=3)
    assert error(err) == ("AccessDenied", 403)
    for name in (allowed, other):
        acct.asg.delete_auto_scaling_group(AutoScalingGroupName=name)


def test_a_policy_arn_is_its_own_groups(acct: Account, cloud: Cloud) -> None:
    """A policy ARN is authorized on the group it names: another group's policy id under an
    allowed group's name finds nothing."""
    allowed, other = acct.group(), acct.group()
    policy = acct.asg.put_scaling_policy(
        AutoScalingGroupName=other,
        PolicyName="up",
        AdjustmentType="ChangeInCapacity",
        ScalingAdjustment=1,
    )["PolicyARN"]
    arn = (
        f"arn:aws:autoscaling:{REGION}:{acct.id}:autoScalingGroup:*:autoScalingGroupName/{allowed}"
    )
    _, ops = user_client(acct, cloud, '"autoscaling:*"', arn)
    with pytest.raises(ClientError) as err:
        ops.execute_policy(PolicyName=policy)
    assert error(err) == ("AccessDenied", 403)
    forged = policy.replace(f":autoScalingGroupName/{other}:", f":autoScalingGroupName/{allowed}:")
    with pytest.raises(ClientError) as err:
        ops.execute_policy(PolicyName=forged)
    assert error(err) == ("ValidationError", 400)
    with pytest.raises(ClientError) as err:
        ops.delete_policy(PolicyName=forged)
    assert error(err) == ("ValidationError", 400)
    assert acct.describe(other)["DesiredCapacity"] == 0
    found = acct.asg.describe_policies(AutoScalingGroupName=other)["ScalingPolicies"]
    assert [p["PolicyARN"] for p in found] == [policy]
    for name in (allowed, other):
        acct.asg.delete_auto_scaling_group(AutoScalingGroupName=name, ForceDelete=True)


def test_odd_numbers_and_lists_are_validation_errors(acct: Account) -> None:
    template = acct.ec2.create_launch_template(
        LaunchTemplateName=unique("lt"),
        LaunchTemplateData={"ImageId": acct.image, "InstanceType": "m1.small"},
    )["LaunchTemplate"]["LaunchTemplateId"]
    base: dict[str, Any] = {"MinSize": 0, "MaxSize": 1, "AvailabilityZones": [acct.zone]}
    # "²" is a digit to str.isdigit but no number to int(); the long one overflows the column.
    for version in ("\u00b2", "9" * 30):
        with pytest.raises(ClientError) as err:
            acct.asg.create_auto_scaling_group(
                AutoScalingGroupName=unique("asg"),
                LaunchTemplate={"LaunchTemplateId": template, "Version": version},
                **base,
            )
        assert error(err) == ("ValidationError", 400)
        with pytest.raises(ClientError) as err:
            acct.ec2.describe_launch_template_versions(
                LaunchTemplateId=template, Versions=[version]
            )
        assert error(err) == ("InvalidParameterValue", 400)
    with pytest.raises(ClientError) as err:
        acct.asg.create_auto_scaling_group(
            AutoScalingGroupName=unique("asg"),
            LaunchConfigurationName=acct.lc(),
            MinSize=0,
            MaxSize=1,
            VPCZoneIdentifier=",",
        )
    assert error(err) == ("ValidationError", 400)
    name = acct.group()
    for sizes in ({"MinSize": -1}, {"DesiredCapacity": -3}):
        with pytest.raises(ClientError) as err:
            acct.asg.put_scheduled_update_group_action(
                AutoScalingGroupName=name,
                ScheduledActionName=unique("s"),
                Recurrence="0 1 * * *",
                **sizes,
            )
        assert error(err) == ("ValidationError", 400)
    for update in ({"DefaultCooldown": -1}, {"HealthCheckGracePeriod": -1}):
        with pytest.raises(ClientError) as err:
            acct.asg.update_auto_scaling_group(AutoScalingGroupName=name, **update)
        assert error(err) == ("ValidationError", 400)
    acct.asg.delete_auto_scaling_group(AutoScalingGroupName=name)


def test_a_terminating_instance_lowers_the_capacity_once(acct: Account, running: list[str]) -> None:
    name = acct.group(MinSize=0, MaxSize=3)
    acct.asg.attach_instances(AutoScalingGroupName=name, InstanceIds=running)
    acct.asg.terminate_instance_in_auto_scaling_group(
        InstanceId=running[0], ShouldDecrementDesiredCapacity=True
    )
    assert acct.describe(name)["DesiredCapacity"] == 1
    with pytest.raises(ClientError) as err:
        acct.asg.terminate_instance_in_auto_scaling_group(
            InstanceId=running[0], ShouldDecrementDesiredCapacity=True
        )
    assert error(err) == ("ValidationError", 400)
    with pytest.raises(ClientError) as err:
        acct.asg.detach_instances(
            AutoScalingGroupName=name, InstanceIds=running[:1], ShouldDecrementDesiredCapacity=True
        )
    assert error(err) == ("ValidationError", 400)
    assert acct.describe(name)["DesiredCapacity"] == 1
    wait_state(acct.ec2, running[:1], "terminated")
    acct.asg.delete_auto_scaling_group(AutoScalingGroupName=name, ForceDelete=True)


def test_launching_rights_are_checked_when_the_group_or_configuration_is_made(
    acct: Account, cloud: Cloud
) -> None:
    """The group launches as its account: its maker needs iam:PassRole on the profile's role,
    and ec2:RunInstances on a launch template it names (AWS)."""
    with pytest.raises(ClientError) as err:
        acct.lc(IamInstanceProfile="nope")
    assert error(err) == ("ValidationError", 400)
    role, profile = unique("role"), unique("profile")
    acct.iam.create_role(
        RoleName=role,
        AssumeRolePolicyDocument=(
            '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":'
            '{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}]}'
        ),
    )
    acct.iam.create_instance_profile(InstanceProfileName=profile)
    acct.iam.add_role_to_instance_profile(InstanceProfileName=profile, RoleName=role)
    template = acct.ec2.create_launch_template(
        LaunchTemplateName=unique("lt"),
        LaunchTemplateData={"ImageId": acct.image, "InstanceType": "m1.small"},
    )["LaunchTemplate"]["LaunchTemplateId"]

    user, scaler = user_client(acct, cloud, '"autoscaling:*"', "*")
    base = {"ImageId": acct.image, "InstanceType": "m1.small"}
    with pytest.raises(ClientError) as err:
        scaler.create_launch_configuration(
            LaunchConfigurationName=unique("lc"), IamInstanceProfile=profile, **base
        )
    assert error(err) == ("AccessDenied", 403)
    group = {"MinSize": 0, "MaxSize": 1, "AvailabilityZones": [acct.zone]}
    with pytest.raises(ClientError) as err:
        scaler.create_auto_scaling_group(
            AutoScalingGroupName=unique("asg"),
            LaunchTemplate={"LaunchTemplateId": template},
            **group,
        )
    assert error(err) == ("AccessDenied", 403)

    acct.iam.put_user_policy(
        UserName=user,
        PolicyName="launch",
        PolicyDocument=(
            '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":'
            '["iam:PassRole","ec2:RunInstances"],"Resource":"*"}]}'
        ),
    )
    scaler.create_launch_configuration(
        LaunchConfigurationName=unique("lc"), IamInstanceProfile=profile, **base
    )
    scaler.create_auto_scaling_group(
        AutoScalingGroupName=unique("asg"), LaunchTemplate={"LaunchTemplateId": template}, **group
    )
