"""EC2 instances through boto3 and the AWS CLI, against a cloud whose node runs the fake
hypervisor (control plane only; tests/vm boots real VMs)."""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.e2e.conftest import Cloud
from tests.e2e.test_iam_accounts import new_account

pytestmark = pytest.mark.e2e


def default_image(ec2: Any) -> str:
    # By name: other tests register private machine images of their own.
    images = ec2.describe_images(Filters=[{"Name": "name", "Values": ["mallee-default"]}])
    return str(images["Images"][0]["ImageId"])


def wait_state(ec2: Any, ids: list[str], state: str, timeout: float = 60) -> list[dict[str, Any]]:
    deadline = time.monotonic() + timeout
    while True:
        found = [
            i
            for r in ec2.describe_instances(InstanceIds=ids)["Reservations"]
            for i in r["Instances"]
        ]
        if all(i["State"]["Name"] == state for i in found):
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"not {state}: {[(i['InstanceId'], i['State']) for i in found]}")
        time.sleep(0.2)


def code(err: pytest.ExceptionInfo[ClientError]) -> tuple[str, int]:
    resp = err.value.response
    return resp["Error"]["Code"], resp["ResponseMetadata"]["HTTPStatusCode"]


@pytest.fixture(scope="module")
def ec2(cloud: Cloud) -> Any:
    return cloud.client("ec2")


def test_run_three_see_them_running_then_terminate(ec2: Any) -> None:
    key = f"k-{uuid.uuid4().hex[:6]}"
    ec2.create_key_pair(KeyName=key)
    res = ec2.run_instances(
        ImageId=default_image(ec2),
        MinCount=3,
        MaxCount=3,
        InstanceType="m1.small",
        KeyName=key,
        UserData="#!/bin/sh\necho hi\n",
        TagSpecifications=[{"ResourceType": "instance", "Tags": [{"Key": "Name", "Value": key}]}],
    )
    assert res["ReservationId"].startswith("r-")
    ids = [i["InstanceId"] for i in res["Instances"]]
    assert len(ids) == 3 and all(i.startswith("i-") for i in ids)
    assert {i["State"]["Name"] for i in res["Instances"]} == {"pending"}
    assert [i["AmiLaunchIndex"] for i in res["Instances"]] == [0, 1, 2]
    running = wait_state(ec2, ids, "running")
    assert all(i["State"]["Code"] == 16 for i in running)
    assert all(i["PrivateIpAddress"] and i["KeyName"] == key for i in running)
    assert len({i["PrivateIpAddress"] for i in running}) == 3
    tagged = ec2.describe_instances(Filters=[{"Name": "tag:Name", "Values": [key]}])
    assert sorted(i["InstanceId"] for r in tagged["Reservations"] for i in r["Instances"]) == (
        sorted(ids)
    )
    attr = ec2.describe_instance_attribute(InstanceId=ids[0], Attribute="userData")
    assert attr["UserData"]["Value"]
    out = ec2.terminate_instances(InstanceIds=ids)
    assert {c["PreviousState"]["Name"] for c in out["TerminatingInstances"]} == {"running"}
    assert {c["CurrentState"]["Name"] for c in out["TerminatingInstances"]} == {"shutting-down"}
    done = wait_state(ec2, ids, "terminated")
    assert all(i["StateReason"]["Code"] == "Client.UserInitiatedShutdown" for i in done)
    assert all(i["StateTransitionReason"].startswith("User initiated") for i in done)
    # AWS drops a terminated instance's addresses: a new instance may hold them now.
    assert not any("PrivateIpAddress" in i or "PublicIpAddress" in i for i in done)
    assert {i["PrivateDnsName"] for i in done} == {""}
    held = ec2.describe_instances(
        Filters=[{"Name": "private-ip-address", "Values": [i["PrivateIpAddress"] for i in running]}]
    )
    assert not {i["InstanceId"] for r in held["Reservations"] for i in r["Instances"]} & set(ids)


def test_client_token_is_idempotent(ec2: Any) -> None:
    token = uuid.uuid4().hex
    image = default_image(ec2)
    first = ec2.run_instances(ImageId=image, MinCount=2, MaxCount=2, ClientToken=token)
    again = ec2.run_instances(ImageId=image, MinCount=2, MaxCount=2, ClientToken=token)
    assert first["ReservationId"] == again["ReservationId"]
    assert [i["InstanceId"] for i in first["Instances"]] == [
        i["InstanceId"] for i in again["Instances"]
    ]
    ec2.terminate_instances(InstanceIds=[i["InstanceId"] for i in first["Instances"]])


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"ImageId": "emi-00000000"}, "InvalidAMIID.NotFound"),
        ({"ImageId": "bogus"}, "InvalidAMIID.Malformed"),
        ({"InstanceType": "x9.huge"}, "InvalidParameterValue"),
        ({"KeyName": "no-such-key"}, "InvalidKeyPair.NotFound"),
        ({"MinCount": 2, "MaxCount": 1}, "InvalidParameterValue"),
        ({"Placement": {"AvailabilityZone": "elsewhere"}}, "InvalidParameterValue"),
        ({"InstanceInitiatedShutdownBehavior": "explode"}, "InvalidParameterValue"),
        ({"SubnetId": "subnet-0123abcd"}, "InvalidSubnetID.NotFound"),
        (
            {"NetworkInterfaces": [{"DeviceIndex": 0, "SubnetId": "subnet-0123abcd"}]},
            "InvalidSubnetID.NotFound",
        ),
        ({"NetworkInterfaces": [{"DeviceIndex": 1}]}, "InvalidParameterValue"),
    ],
)
def test_run_instances_bad_input(ec2: Any, params: dict[str, Any], expected: str) -> None:
    request = {"ImageId": default_image(ec2), "MinCount": 1, "MaxCount": 1, **params}
    before = len(ec2.describe_instances()["Reservations"])
    with pytest.raises(ClientError) as err:
        ec2.run_instances(**request)
    assert code(err) == (expected, 400)
    assert len(ec2.describe_instances()["Reservations"]) == before


def test_capacity_is_enforced(ec2: Any) -> None:
    with pytest.raises(ClientError) as err:
        ec2.run_instances(
            ImageId=default_image(ec2), MinCount=100000, MaxCount=100000, InstanceType="m1.small"
        )
    assert code(err)[0] == "InsufficientInstanceCapacity"


def test_instance_ids_are_checked(ec2: Any) -> None:
    with pytest.raises(ClientError) as err:
        ec2.describe_instances(InstanceIds=["i-00000000000000000"])
    assert code(err) == ("InvalidInstanceID.NotFound", 400)
    with pytest.raises(ClientError) as err:
        ec2.terminate_instances(InstanceIds=["not-an-id"])
    assert code(err) == ("InvalidInstanceID.Malformed", 400)


def test_lifecycle_rules(ec2: Any) -> None:
    res = ec2.run_instances(
        ImageId=default_image(ec2), MinCount=1, MaxCount=1, DisableApiTermination=True
    )
    iid = res["Instances"][0]["InstanceId"]
    wait_state(ec2, [iid], "running")
    with pytest.raises(ClientError) as err:
        ec2.terminate_instances(InstanceIds=[iid])
    assert code(err) == ("OperationNotPermitted", 400)
    with pytest.raises(ClientError) as err:
        ec2.stop_instances(InstanceIds=[iid])
    assert code(err) == ("UnsupportedOperation", 400)
    with pytest.raises(ClientError) as err:
        ec2.modify_instance_attribute(InstanceId=iid, InstanceType={"Value": "c1.medium"})
    assert code(err) == ("IncorrectInstanceState", 400)
    with pytest.raises(ClientError) as err:
        ec2.reboot_instances(InstanceIds=[iid], DryRun=True)
    assert code(err) == ("DryRunOperation", 412)
    ec2.reboot_instances(InstanceIds=[iid])
    ec2.monitor_instances(InstanceIds=[iid])
    described = wait_state(ec2, [iid], "running")[0]
    assert described["Monitoring"]["State"] == "enabled"
    status = ec2.describe_instance_status(InstanceIds=[iid])["InstanceStatuses"][0]
    assert status["InstanceState"]["Name"] == "running"
    assert status["SystemStatus"]["Status"] == "ok"
    ec2.modify_instance_attribute(InstanceId=iid, DisableApiTermination={"Value": False})
    ec2.terminate_instances(InstanceIds=[iid])
    wait_state(ec2, [iid], "terminated")


def test_other_accounts_do_not_see_instances(cloud: Cloud, ec2: Any, tmp_path: Path) -> None:
    _, access_key, secret_key = new_account(cloud, tmp_path)
    other = cloud.client("ec2", access_key, secret_key)
    mine = ec2.run_instances(ImageId=default_image(ec2), MinCount=1, MaxCount=1)
    iid = mine["Instances"][0]["InstanceId"]
    assert other.describe_instances()["Reservations"] == []
    with pytest.raises(ClientError) as err:
        other.terminate_instances(InstanceIds=[iid])
    assert code(err) == ("InvalidInstanceID.NotFound", 400)
    ec2.terminate_instances(InstanceIds=[iid])


def test_max_results_counts_instances_not_reservations(
    cloud: Cloud, ec2: Any, tmp_path: Path
) -> None:
    """A page holds MaxResults instances, a reservation continuing on the next page, as AWS
    pages (a console page of 50 must not bring back a whole 1,000-instance reservation)."""
    _, access_key, secret_key = new_account(cloud, tmp_path)
    own = cloud.client("ec2", access_key, secret_key)
    image = default_image(ec2)
    big = own.run_instances(ImageId=image, MinCount=7, MaxCount=7, InstanceType="t1.micro")
    small = own.run_instances(ImageId=image, MinCount=1, MaxCount=1, InstanceType="t1.micro")
    first = own.describe_instances(MaxResults=5)
    assert sum(len(r["Instances"]) for r in first["Reservations"]) == 5
    rest = own.describe_instances(MaxResults=5, NextToken=first["NextToken"])
    assert sum(len(r["Instances"]) for r in rest["Reservations"]) == 3
    assert "NextToken" not in rest
    seen: dict[str, list[str]] = {}
    for r in first["Reservations"] + rest["Reservations"]:
        seen.setdefault(r["ReservationId"], []).extend(i["InstanceId"] for i in r["Instances"])
    assert sorted(seen[big["ReservationId"]]) == sorted(i["InstanceId"] for i in big["Instances"])
    assert seen[small["ReservationId"]] == [small["Instances"][0]["InstanceId"]]
    ids = [i for members in seen.values() for i in members]
    own.terminate_instances(InstanceIds=ids)


def test_aws_cli_describe_instances(cloud: Cloud, ec2: Any) -> None:
    iid = ec2.run_instances(ImageId=default_image(ec2), MinCount=1, MaxCount=1)["Instances"][0][
        "InstanceId"
    ]
    out = cloud.aws_cli(
        "ec2", "describe-instances", "--instance-ids", iid, "--output", "json", check=True
    )
    reservations = json.loads(out.stdout)["Reservations"]
    assert reservations[0]["Instances"][0]["InstanceId"] == iid
    ec2.terminate_instances(InstanceIds=[iid])


def test_instance_profile_by_name_and_arn(cloud: Cloud, ec2: Any, tmp_path: Path) -> None:
    iam = cloud.client("iam")
    name = f"prof-{uuid.uuid4().hex[:6]}"
    made = iam.create_instance_profile(InstanceProfileName=name)["InstanceProfile"]
    image = default_image(ec2)
    by_name = ec2.run_instances(
        ImageId=image, MinCount=1, MaxCount=1, IamInstanceProfile={"Name": name}
    )["Instances"][0]
    by_arn = ec2.run_instances(
        ImageId=image, MinCount=1, MaxCount=1, IamInstanceProfile={"Arn": made["Arn"]}
    )["Instances"][0]
    wanted = {"Arn": made["Arn"], "Id": made["InstanceProfileId"]}
    assert by_name["IamInstanceProfile"] == wanted and by_arn["IamInstanceProfile"] == wanted
    found = ec2.describe_instances(
        Filters=[{"Name": "iam-instance-profile.arn", "Values": [made["Arn"]]}]
    )
    ids = sorted(i["InstanceId"] for r in found["Reservations"] for i in r["Instances"])
    assert ids == sorted([by_name["InstanceId"], by_arn["InstanceId"]])
    ec2.terminate_instances(InstanceIds=ids)

    for spec in ({"Name": "no-such-profile"}, {"Arn": made["Arn"] + "x"}):
        with pytest.raises(ClientError) as err:
            ec2.run_instances(ImageId=image, MinCount=1, MaxCount=1, IamInstanceProfile=spec)
        assert code(err) == ("InvalidParameterValue", 400)
    # Another account cannot pass this account's profile.
    _, access, secret = new_account(cloud, tmp_path)
    other = cloud.client("ec2", access, secret)
    with pytest.raises(ClientError) as err:
        other.run_instances(
            ImageId=image, MinCount=1, MaxCount=1, IamInstanceProfile={"Arn": made["Arn"]}
        )
    assert code(err) == ("InvalidParameterValue", 400)


def test_launching_with_a_role_needs_pass_role(cloud: Cloud, ec2: Any, tmp_path: Path) -> None:
    """A user allowed RunInstances may give an instance a profile's role only where iam:PassRole
    on that role allows it (AWS's rule): otherwise the instance's credentials would be a way to
    any role a profile of the account holds."""
    _, access, secret = new_account(cloud, tmp_path)
    root_iam = cloud.client("iam", access, secret)
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "ec2.amazonaws.com"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
    role = root_iam.create_role(RoleName="admin", AssumeRolePolicyDocument=json.dumps(trust))
    root_iam.create_instance_profile(InstanceProfileName="admin")
    root_iam.add_role_to_instance_profile(InstanceProfileName="admin", RoleName="admin")
    root_iam.create_instance_profile(InstanceProfileName="empty")
    root_iam.create_user(UserName="launcher")
    launch_only = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": ["ec2:RunInstances", "ec2:Describe*",
                                        "ec2:TerminateInstances"], "Resource": "*"}]}  # fmt: skip
    root_iam.put_user_policy(
        UserName="launcher", PolicyName="launch", PolicyDocument=json.dumps(launch_only)
    )
    key = root_iam.create_access_key(UserName="launcher")["AccessKey"]
    user = cloud.client("ec2", key["AccessKeyId"], key["SecretAccessKey"])
    image = default_image(ec2)
    with pytest.raises(ClientError) as err:
        user.run_instances(
            ImageId=image, MinCount=1, MaxCount=1, IamInstanceProfile={"Name": "admin"}
        )
    assert code(err) == ("UnauthorizedOperation", 403)
    assert "iam:PassRole" in err.value.response["Error"]["Message"]
    # A profile with no role passes none.
    empty = user.run_instances(
        ImageId=image, MinCount=1, MaxCount=1, IamInstanceProfile={"Name": "empty"}
    )["Instances"][0]["InstanceId"]
    pass_role = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "iam:PassRole",
         "Resource": role["Role"]["Arn"]}]}  # fmt: skip
    root_iam.put_user_policy(
        UserName="launcher", PolicyName="pass", PolicyDocument=json.dumps(pass_role)
    )
    deadline = time.monotonic() + 10  # policies reach every process within a second or two
    while True:
        try:
            made = user.run_instances(
                ImageId=image, MinCount=1, MaxCount=1, IamInstanceProfile={"Name": "admin"}
            )["Instances"][0]["InstanceId"]
            break
        except ClientError as refused:
            assert refused.response["Error"]["Code"] == "UnauthorizedOperation"
            assert time.monotonic() < deadline
            time.sleep(0.2)
    user.terminate_instances(InstanceIds=[empty, made])


def test_primary_interface_groups_are_the_instance_groups(ec2: Any) -> None:
    """Ansible and Terraform describe the one interface: its groups are the instance's."""
    name = f"nic-{uuid.uuid4().hex[:6]}"
    group = ec2.create_security_group(GroupName=name, Description=name)["GroupId"]
    res = ec2.run_instances(
        ImageId=default_image(ec2),
        MinCount=1,
        MaxCount=1,
        NetworkInterfaces=[{"DeviceIndex": 0, "Groups": [group]}],
    )
    iid = res["Instances"][0]["InstanceId"]
    assert [g["GroupId"] for g in res["Instances"][0]["SecurityGroups"]] == [group]
    with pytest.raises(ClientError) as err:
        ec2.run_instances(
            ImageId=default_image(ec2),
            MinCount=1,
            MaxCount=1,
            SecurityGroupIds=[group],
            NetworkInterfaces=[{"DeviceIndex": 0, "Groups": [group]}],
        )
    assert code(err) == ("InvalidParameterCombination", 400)
    ec2.terminate_instances(InstanceIds=[iid])
