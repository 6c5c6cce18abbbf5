"""EBS volumes through boto3 against a live cloud (`mallee up`, fake hypervisor): the storage
agent makes them, the node plugs them into its (fake) VMs; AWS's states and error codes."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from mallee.api.models.client import mallee_client
from tests.e2e.conftest import REGION, Cloud
from tests.e2e.test_ec2_instances import code, default_image, wait_state
from tests.e2e.test_iam_accounts import new_account

pytestmark = pytest.mark.e2e

ZONE = "one"


@pytest.fixture(scope="module")
def ec2(module_cloud: Cloud) -> Any:
    return module_cloud.client("ec2")


@pytest.fixture(scope="module")
def instance(ec2: Any) -> str:
    run = ec2.run_instances(ImageId=default_image(ec2), MinCount=1, MaxCount=1)
    iid = str(run["Instances"][0]["InstanceId"])
    wait_state(ec2, [iid], "running")
    return iid


def wait_for(what: Callable[[], Any], timeout: float = 20) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        found = what()
        if found:
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def volume(ec2: Any, volume_id: str) -> dict[str, Any]:
    found: dict[str, Any] = ec2.describe_volumes(VolumeIds=[volume_id])["Volumes"][0]
    return found


def wait_volume(ec2: Any, volume_id: str, state: str, attachment: str | None = None) -> Any:
    def reached() -> Any:
        v = volume(ec2, volume_id)
        if v["State"] != state:
            return None
        states = [a["State"] for a in v["Attachments"]]
        return v if (states == [attachment] if attachment else not states) else None

    return wait_for(reached)


def available(ec2: Any, size: int = 1, **extra: Any) -> str:
    volume_id = str(ec2.create_volume(Size=size, AvailabilityZone=ZONE, **extra)["VolumeId"])
    wait_volume(ec2, volume_id, "available")
    return volume_id


def test_create_becomes_available(ec2: Any, module_cloud: Cloud) -> None:
    # How long that takes is measured by bench/ebs.py.
    made = ec2.create_volume(
        Size=1,
        AvailabilityZone=ZONE,
        TagSpecifications=[{"ResourceType": "volume", "Tags": [{"Key": "Name", "Value": "v1"}]}],
    )
    assert made["State"] == "creating" and made["Size"] == 1
    assert made["Tags"] == [{"Key": "Name", "Value": "v1"}]
    wait_volume(ec2, made["VolumeId"], "available")
    assert module_cloud.data_dir is not None
    data = module_cloud.data_dir / "volumes" / f"{made['VolumeId']}.raw"
    assert data.stat().st_size == 1 << 30 and data.stat().st_blocks == 0
    tagged = ec2.describe_volumes(Filters=[{"Name": "tag:Name", "Values": ["v1"]}])["Volumes"]
    assert [v["VolumeId"] for v in tagged] == [made["VolumeId"]]
    assert (
        ec2.describe_tags(Filters=[{"Name": "resource-id", "Values": [made["VolumeId"]]}])["Tags"][
            0
        ]["ResourceType"]
        == "volume"
    )


def test_attach_detach_and_the_states_aws_reports(ec2: Any, instance: str) -> None:
    volume_id = available(ec2)
    answer = ec2.attach_volume(VolumeId=volume_id, InstanceId=instance, Device="/dev/sdf")
    assert (answer["State"], answer["Device"], answer["InstanceId"]) == (
        "attaching",
        "/dev/sdf",
        instance,
    )
    assert volume(ec2, volume_id)["State"] == "in-use"
    v = wait_volume(ec2, volume_id, "in-use", "attached")
    assert v["Attachments"][0]["InstanceId"] == instance
    by_instance = ec2.describe_volumes(
        Filters=[{"Name": "attachment.instance-id", "Values": [instance]}]
    )["Volumes"]
    assert volume_id in [x["VolumeId"] for x in by_instance]
    gone = ec2.detach_volume(VolumeId=volume_id)
    assert gone["State"] == "detaching"
    wait_volume(ec2, volume_id, "available")
    ec2.delete_volume(VolumeId=volume_id)
    wait_for(
        lambda: (
            not ec2.describe_volumes(Filters=[{"Name": "volume-id", "Values": [volume_id]}])[
                "Volumes"
            ]
        )
    )


def test_errors(ec2: Any, instance: str) -> None:
    missing = "vol-0123456789abcdef0"
    with pytest.raises(ClientError) as err:
        ec2.describe_volumes(VolumeIds=[missing])
    assert code(err) == ("InvalidVolume.NotFound", 400)
    with pytest.raises(ClientError) as err:
        ec2.delete_volume(VolumeId=missing)
    assert code(err) == ("InvalidVolume.NotFound", 400)
    for size in (0, 16385):
        with pytest.raises(ClientError) as err:
            ec2.create_volume(Size=size, AvailabilityZone=ZONE)
        assert code(err) == ("InvalidParameterValue", 400)
    with pytest.raises(ClientError) as err:
        ec2.create_volume(Size=1, AvailabilityZone="nowhere")
    assert code(err) == ("InvalidParameterValue", 400)
    with pytest.raises(ClientError) as err:
        ec2.create_volume(Size=1, AvailabilityZone=ZONE, SnapshotId="snap-0123456789abcdef0")
    assert code(err) == ("InvalidSnapshot.NotFound", 400)

    volume_id = available(ec2)
    with pytest.raises(ClientError) as err:
        ec2.attach_volume(VolumeId=volume_id, InstanceId="i-0123456789abcdef0", Device="/dev/sdf")
    assert code(err) == ("InvalidInstanceID.NotFound", 400)
    with pytest.raises(ClientError) as err:
        ec2.attach_volume(VolumeId=volume_id, InstanceId=instance, Device="/dev/sda9")
    assert code(err) == ("InvalidParameterValue", 400)
    with pytest.raises(ClientError) as err:
        ec2.detach_volume(VolumeId=volume_id)
    assert code(err) == ("IncorrectState", 400)

    ec2.attach_volume(VolumeId=volume_id, InstanceId=instance, Device="/dev/sdg")
    with pytest.raises(ClientError) as err:
        ec2.attach_volume(VolumeId=volume_id, InstanceId=instance, Device="/dev/sdh")
    assert code(err) == ("VolumeInUse", 400)
    with pytest.raises(ClientError) as err:
        ec2.delete_volume(VolumeId=volume_id)
    assert code(err) == ("VolumeInUse", 400)
    other = available(ec2)
    with pytest.raises(ClientError) as err:
        ec2.attach_volume(VolumeId=other, InstanceId=instance, Device="/dev/sdg")
    assert code(err) == ("InvalidParameterValue", 400)  # the device is taken
    wait_volume(ec2, volume_id, "in-use", "attached")
    ec2.detach_volume(VolumeId=volume_id, InstanceId=instance, Force=True)
    wait_volume(ec2, volume_id, "available")
    ec2.delete_volume(VolumeId=volume_id)
    ec2.delete_volume(VolumeId=other)


def test_attachment_limit(ec2: Any) -> None:
    run = ec2.run_instances(ImageId=default_image(ec2), MinCount=1, MaxCount=1)
    iid = run["Instances"][0]["InstanceId"]
    wait_state(ec2, [iid], "running")
    devices = [f"/dev/vd{c}" for c in "bcdefghijklmnopq"]
    made = [ec2.create_volume(Size=1, AvailabilityZone=ZONE)["VolumeId"] for _ in range(17)]
    for v in made:
        wait_volume(ec2, v, "available")
    for v, device in zip(made, devices, strict=False):
        ec2.attach_volume(VolumeId=v, InstanceId=iid, Device=device)
    with pytest.raises(ClientError) as err:
        ec2.attach_volume(VolumeId=made[-1], InstanceId=iid, Device="/dev/vdz")
    assert code(err) == ("AttachmentLimitExceeded", 400)
    # Terminating the instance lets go of its volumes.
    ec2.terminate_instances(InstanceIds=[iid])
    for v in made[:-1]:
        wait_volume(ec2, v, "available")


def test_paging_and_status(ec2: Any) -> None:
    made = [available(ec2) for _ in range(6)]
    seen: list[str] = []
    token: str | None = None
    while True:
        kwargs: dict[str, Any] = {"MaxResults": 5}
        if token:
            kwargs["NextToken"] = token
        page = ec2.describe_volumes(**kwargs)
        seen += [v["VolumeId"] for v in page["Volumes"]]
        token = page.get("NextToken")
        if not token:
            break
    assert set(made) <= set(seen) and len(seen) == len(set(seen))
    status = ec2.describe_volume_status(VolumeIds=made[:2])["VolumeStatuses"]
    assert {s["VolumeStatus"]["Status"] for s in status} == {"ok"}
    attr = ec2.describe_volume_attribute(VolumeId=made[0], Attribute="autoEnableIO")
    assert attr["AutoEnableIO"]["Value"] is False
    ec2.modify_volume_attribute(VolumeId=made[0], AutoEnableIO={"Value": True})
    attr = ec2.describe_volume_attribute(VolumeId=made[0], Attribute="autoEnableIO")
    assert attr["AutoEnableIO"]["Value"] is True
    ec2.enable_volume_io(VolumeId=made[0])
    for v in made:
        ec2.delete_volume(VolumeId=v)


def test_modify_volume_grows_only(ec2: Any, module_cloud: Cloud) -> None:
    volume_id = available(ec2)
    mod = ec2.modify_volume(VolumeId=volume_id, Size=2)["VolumeModification"]
    assert (mod["OriginalSize"], mod["TargetSize"]) == (1, 2)

    def completed() -> Any:
        mods = ec2.describe_volumes_modifications(VolumeIds=[volume_id])["VolumesModifications"]
        return mods[0]["ModificationState"] == "completed"

    wait_for(completed)
    assert volume(ec2, volume_id)["Size"] == 2
    assert module_cloud.data_dir is not None
    assert (module_cloud.data_dir / "volumes" / f"{volume_id}.raw").stat().st_size == 2 << 30
    with pytest.raises(ClientError) as err:
        ec2.modify_volume(VolumeId=volume_id, Size=1)
    assert code(err) == ("InvalidParameterValue", 400)
    ec2.delete_volume(VolumeId=volume_id)


def test_another_account_sees_none_of_them(ec2: Any, module_cloud: Cloud, tmp_path: Path) -> None:
    volume_id = available(ec2)
    _, ak, sk = new_account(module_cloud, tmp_path)
    other = module_cloud.client("ec2", access_key=ak, secret_key=sk)
    assert volume_id not in [v["VolumeId"] for v in other.describe_volumes()["Volumes"]]
    for call in (
        lambda: other.delete_volume(VolumeId=volume_id),
        lambda: other.describe_volumes(VolumeIds=[volume_id]),
    ):
        with pytest.raises(ClientError) as err:
            call()
        assert code(err) == ("InvalidVolume.NotFound", 400)
    ec2.delete_volume(VolumeId=volume_id)


def test_the_storage_controller_is_a_registered_service(module_cloud: Cloud) -> None:
    empyrean = mallee_client(
        "empyrean",
        module_cloud.endpoint + "/services/Empyrean",
        region_name=REGION,
        aws_access_key_id=module_cloud.admin.access_key,
        aws_secret_access_key=module_cloud.admin.secret_key,
        config=Config(retries={"max_attempts": 1}),
    )
    found = empyrean.describe_services()["ServiceStatuses"]
    storage = [s for s in found if s["ServiceId"]["Type"] == "storage"]
    assert [s["LocalState"] for s in storage] == ["ENABLED"]
    assert storage[0]["ServiceId"]["Partition"] == ZONE


def test_policies_name_volumes_by_arn(ec2: Any, module_cloud: Cloud, instance: str) -> None:
    """Resource-level permissions: a user allowed to delete and attach one volume only."""
    mine, other = available(ec2), available(ec2)
    iam = module_cloud.client("iam")
    name = f"vol-user-{uuid.uuid4().hex[:6]}"
    iam.create_user(UserName=name)
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": "ec2:Describe*", "Resource": "*"},
            {
                "Effect": "Allow",
                "Action": ["ec2:DeleteVolume", "ec2:AttachVolume"],
                "Resource": [f"arn:aws:ec2:*:*:volume/{mine}", "arn:aws:ec2:*:*:instance/*"],
            },
        ],
    }
    iam.put_user_policy(UserName=name, PolicyName="one", PolicyDocument=json.dumps(policy))
    key = iam.create_access_key(UserName=name)["AccessKey"]
    user = module_cloud.client(
        "ec2", access_key=key["AccessKeyId"], secret_key=key["SecretAccessKey"]
    )
    for call in (
        lambda: user.delete_volume(VolumeId=other),
        lambda: user.attach_volume(VolumeId=other, InstanceId=instance, Device="/dev/sdj"),
    ):
        with pytest.raises(ClientError) as err:
            call()
        assert code(err) == ("UnauthorizedOperation", 403)
    user.delete_volume(VolumeId=mine)
    ec2.delete_volume(VolumeId=other)
