"""Boot from EBS through boto3 against a live cloud (`mallee up`, fake hypervisor): who may use
which snapshots (IAM policies on snapshot ARNs, other accounts' images and snapshots), what
a zone can make, and the rescue of a stopped instance's root volume (detached, attached to
another instance, attached back at its root, started again with its data)."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from mallee.api.models.client import mallee_client
from tests.e2e.conftest import REGION, Cloud
from tests.e2e.test_ec2_instances import code, default_image, wait_state
from tests.e2e.test_ec2_snapshots import completed, read, volume_file, write
from tests.e2e.test_ec2_volumes import ZONE, available, volume, wait_for, wait_volume
from tests.e2e.test_iam_accounts import new_account

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def ec2(module_cloud: Cloud) -> Any:
    return module_cloud.client("ec2")


@pytest.fixture(scope="module")
def root_snapshot(ec2: Any) -> str:
    return completed(ec2, available(ec2))


@pytest.fixture(scope="module")
def ebs_image(ec2: Any, root_snapshot: str) -> str:
    made = ec2.register_image(
        Name=f"ebs-{uuid.uuid4().hex[:6]}",
        RootDeviceName="/dev/sda",
        BlockDeviceMappings=[{"DeviceName": "/dev/sda", "Ebs": {"SnapshotId": root_snapshot}}],
    )
    return str(made["ImageId"])


def error(call: Any, **params: Any) -> tuple[str, int]:
    with pytest.raises(ClientError) as err:
        call(**params)
    return code(err)


def instance(ec2: Any, instance_id: str) -> dict[str, Any]:
    found: dict[str, Any] = ec2.describe_instances(InstanceIds=[instance_id])["Reservations"][0][
        "Instances"
    ][0]
    return found


def counts(ec2: Any) -> tuple[int, int, int]:
    return (
        len(ec2.describe_volumes()["Volumes"]),
        len(ec2.describe_instances()["Reservations"]),
        len(ec2.describe_images(Owners=["self"])["Images"]),
    )


def test_a_policy_denying_a_snapshot_denies_launches_and_images_of_it(
    ec2: Any, module_cloud: Cloud, ebs_image: str, root_snapshot: str
) -> None:
    running = ec2.run_instances(ImageId=ebs_image, MinCount=1, MaxCount=1)
    iid = running["Instances"][0]["InstanceId"]
    wait_state(ec2, [iid], "running")
    denied = completed(ec2, available(ec2))
    iam = module_cloud.client("iam")
    name = f"snap-user-{uuid.uuid4().hex[:6]}"
    iam.create_user(UserName=name)
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": "*", "Resource": "*"},
            {"Effect": "Deny", "Action": "ec2:*", "Resource": f"arn:aws:ec2:*::snapshot/{denied}"},
        ],
    }
    iam.put_user_policy(UserName=name, PolicyName="deny", PolicyDocument=json.dumps(policy))
    key = iam.create_access_key(UserName=name)["AccessKey"]
    user = module_cloud.client("ec2", key["AccessKeyId"], key["SecretAccessKey"])
    before = counts(ec2)
    mapping = [{"DeviceName": "/dev/sdf", "Ebs": {"SnapshotId": denied}}]
    root = [{"DeviceName": "/dev/sda", "Ebs": {"SnapshotId": denied}}]
    refused = {
        "CreateVolume": error(user.create_volume, AvailabilityZone=ZONE, SnapshotId=denied),
        "RunInstances": error(
            user.run_instances, ImageId=default_image(ec2), MinCount=1, MaxCount=1,
            BlockDeviceMappings=mapping,
        ),
        "RunInstances root": error(
            user.run_instances, ImageId=ebs_image, MinCount=1, MaxCount=1,
            BlockDeviceMappings=root,
        ),
        "RegisterImage": error(
            user.register_image, Name="denied", RootDeviceName="/dev/sda",
            BlockDeviceMappings=root,
        ),
        "CreateImage": error(
            user.create_image, InstanceId=iid, Name="denied", NoReboot=True,
            BlockDeviceMappings=mapping,
        ),
    }  # fmt: skip
    assert refused == dict.fromkeys(refused, ("UnauthorizedOperation", 403))
    assert counts(ec2) == before
    # An image whose own snapshot is denied cannot be launched by that user either.
    deny_root = {**policy, "Statement": [*policy["Statement"][:1], {
        "Effect": "Deny", "Action": "ec2:*",
        "Resource": f"arn:aws:ec2:*::snapshot/{root_snapshot}"}]}  # fmt: skip
    iam.put_user_policy(UserName=name, PolicyName="deny", PolicyDocument=json.dumps(deny_root))
    wait_for(
        lambda: (
            error(user.run_instances, ImageId=ebs_image, MinCount=1, MaxCount=1)
            == ("UnauthorizedOperation", 403)
        ),
        timeout=30,
    )
    assert counts(ec2) == before
    ec2.terminate_instances(InstanceIds=[iid])


def test_other_accounts_launch_shared_images_but_use_only_their_own_snapshots(
    ec2: Any, module_cloud: Cloud, ebs_image: str, root_snapshot: str, tmp_path: Path
) -> None:
    _, ak, sk = new_account(module_cloud, tmp_path)
    other = module_cloud.client("ec2", ak, sk)
    # A public EBS-backed image launches for everyone: its snapshot is its owner's to use.
    ec2.modify_image_attribute(ImageId=ebs_image, LaunchPermission={"Add": [{"Group": "all"}]})
    launched = other.run_instances(ImageId=ebs_image, MinCount=1, MaxCount=1)
    theirs = launched["Instances"][0]["InstanceId"]
    wait_state(other, [theirs], "running")
    # A snapshot only shared with them makes volumes, not images (AWS: copy it first).
    ec2.modify_snapshot_attribute(
        SnapshotId=root_snapshot, Attribute="createVolumePermission", OperationType="add",
        UserIds=[module_cloud.client("sts", ak, sk).get_caller_identity()["Account"]],
    )  # fmt: skip
    root = [{"DeviceName": "/dev/sda", "Ebs": {"SnapshotId": root_snapshot}}]
    assert error(
        other.register_image, Name="shared-root", RootDeviceName="/dev/sda",
        BlockDeviceMappings=root,
    ) == ("AuthFailure", 400)  # fmt: skip
    private = completed(ec2, available(ec2))
    steal = [{"DeviceName": "/dev/sda", "Ebs": {"SnapshotId": private}}]
    assert error(
        other.create_image, InstanceId=theirs, Name="steal", NoReboot=True,
        BlockDeviceMappings=steal,
    ) == ("InvalidSnapshot.NotFound", 400)  # fmt: skip
    assert other.describe_images(Owners=["self"])["Images"] == []
    copy = other.copy_snapshot(SourceSnapshotId=root_snapshot, SourceRegion=REGION)["SnapshotId"]
    wait_for(lambda: other.describe_snapshots(SnapshotIds=[copy])["Snapshots"][0]["State"]
             == "completed")  # fmt: skip
    own = [{"DeviceName": "/dev/sda", "Ebs": {"SnapshotId": copy}}]
    other.register_image(Name="copied-root", RootDeviceName="/dev/sda", BlockDeviceMappings=own)
    other.terminate_instances(InstanceIds=[theirs])
    ec2.modify_image_attribute(ImageId=ebs_image, LaunchPermission={"Remove": [{"Group": "all"}]})


def test_a_zone_makes_only_the_volumes_it_can(
    ec2: Any, module_cloud: Cloud, ebs_image: str
) -> None:
    before = counts(ec2)
    huge = [{"DeviceName": "/dev/sdf", "Ebs": {"VolumeSize": 16000}}]
    assert error(
        ec2.run_instances, ImageId=ebs_image, MinCount=20, MaxCount=20, BlockDeviceMappings=huge
    ) == ("InvalidParameterValue", 400)  # fmt: skip
    assert counts(ec2) == before
    empyrean = mallee_client(
        "empyrean",
        module_cloud.endpoint + "/services/Empyrean",
        region_name=REGION,
        aws_access_key_id=module_cloud.admin.access_key,
        aws_secret_access_key=module_cloud.admin.secret_key,
        config=Config(retries={"max_attempts": 1}),
    )
    [storage] = [
        s["ServiceId"]["Name"]
        for s in empyrean.describe_services()["ServiceStatuses"]
        if s["ServiceId"]["Type"] == "storage"
    ]
    # No storage service to make them: refused at once, rather than pending for ever.
    empyrean.modify_service(Name=storage, State="DISABLED")
    try:
        assert error(ec2.create_volume, AvailabilityZone=ZONE, Size=1) == (
            "InsufficientVolumeCapacity", 500,
        )  # fmt: skip
        assert error(ec2.run_instances, ImageId=ebs_image, MinCount=1, MaxCount=1) == (
            "InsufficientVolumeCapacity", 500,
        )  # fmt: skip
        assert counts(ec2) == before
    finally:
        empyrean.modify_service(Name=storage, State="ENABLED")
    available(ec2)


def test_the_rescue_of_a_root_volume(ec2: Any, module_cloud: Cloud, ebs_image: str) -> None:
    run = ec2.run_instances(ImageId=ebs_image, MinCount=1, MaxCount=1)
    iid = run["Instances"][0]["InstanceId"]
    helper = ec2.run_instances(ImageId=default_image(ec2), MinCount=1, MaxCount=1)
    hid = helper["Instances"][0]["InstanceId"]
    wait_state(ec2, [iid, hid], "running")
    root = instance(ec2, iid)["BlockDeviceMappings"][0]["Ebs"]["VolumeId"]
    ec2.stop_instances(InstanceIds=[iid])
    wait_state(ec2, [iid], "stopped")
    assert ec2.detach_volume(VolumeId=root)["State"] == "detached"
    wait_volume(ec2, root, "available")
    assert error(ec2.start_instances, InstanceIds=[iid]) == ("IncorrectInstanceState", 400)
    # Mended on another instance (as a data volume there: the mend is these bytes)...
    ec2.attach_volume(VolumeId=root, InstanceId=hid, Device="/dev/sdf")
    wait_volume(ec2, root, "in-use", "attached")
    proof = f"mended {uuid.uuid4().hex}".encode()
    write(volume_file(module_cloud, root), 4096, proof)
    ec2.detach_volume(VolumeId=root)
    wait_volume(ec2, root, "available")
    # ... and attached back at its root: at once, the instance being stopped.
    assert ec2.attach_volume(VolumeId=root, InstanceId=iid, Device="/dev/sda")["State"] == (
        "attached"
    )
    assert volume(ec2, root)["Attachments"][0]["State"] == "attached"
    ec2.start_instances(InstanceIds=[iid])
    wait_state(ec2, [iid], "running")
    shown = instance(ec2, iid)
    assert [(m["DeviceName"], m["Ebs"]["VolumeId"]) for m in shown["BlockDeviceMappings"]] == [
        ("/dev/sda", root)
    ]
    assert read(volume_file(module_cloud, root), 4096, len(proof)) == proof
    # A volume that is not its root attaches to a stopped instance too, not at a taken root.
    ec2.stop_instances(InstanceIds=[iid])
    wait_state(ec2, [iid], "stopped")
    extra = available(ec2)
    assert error(ec2.attach_volume, VolumeId=extra, InstanceId=iid, Device="/dev/sda") == (
        "InvalidParameterValue", 400,
    )  # fmt: skip
    assert ec2.attach_volume(VolumeId=extra, InstanceId=iid, Device="/dev/sdg")["State"] == (
        "attached"
    )
    ec2.start_instances(InstanceIds=[iid])
    wait_state(ec2, [iid], "running")
    ec2.terminate_instances(InstanceIds=[iid, hid])
    wait_volume(ec2, extra, "available")
