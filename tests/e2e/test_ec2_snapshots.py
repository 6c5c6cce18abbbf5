"""EBS snapshots through boto3 and the euca2ools commands against a live cloud (`mallee up`,
fake hypervisor): the storage agent copies volumes into the object store and back; sharing by
createVolumePermission; AWS's error codes."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.e2e.conftest import Cloud
from tests.e2e.test_ec2_instances import code
from tests.e2e.test_ec2_volumes import ZONE, available, instance, wait_for, wait_volume  # noqa: F401
from tests.e2e.test_euca_commands import ACCOUNT, TIME, Euca, matches
from tests.e2e.test_iam_accounts import new_account

pytestmark = pytest.mark.e2e

MiB = 1 << 20


@pytest.fixture(scope="module")
def ec2(module_cloud: Cloud) -> Any:
    return module_cloud.client("ec2")


def volume_file(cloud: Cloud, volume_id: str) -> Path:
    assert cloud.data_dir is not None
    return cloud.data_dir / "volumes" / f"{volume_id}.raw"


def write(path: Path, offset: int, data: bytes) -> None:
    with open(path, "r+b") as f:
        f.seek(offset)
        f.write(data)


def read(path: Path, offset: int, length: int) -> bytes:
    with open(path, "rb") as f:
        f.seek(offset)
        return f.read(length)


def snapshot(ec2: Any, snapshot_id: str) -> dict[str, Any]:
    found: dict[str, Any] = ec2.describe_snapshots(SnapshotIds=[snapshot_id])["Snapshots"][0]
    return found


def completed(ec2: Any, volume_id: str, **extra: Any) -> str:
    snapshot_id = str(ec2.create_snapshot(VolumeId=volume_id, **extra)["SnapshotId"])
    wait_for(lambda: snapshot(ec2, snapshot_id)["State"] == "completed", timeout=30)
    return snapshot_id


def error(call: Any) -> tuple[str, int]:
    with pytest.raises(ClientError) as err:
        call()
    return code(err)


def test_snapshot_and_a_volume_from_it_get_the_bytes_back(ec2: Any, module_cloud: Cloud) -> None:
    volume_id = available(ec2, size=1)
    data = bytes(range(256)) * 4096  # 1 MiB
    write(volume_file(module_cloud, volume_id), 300 * MiB, data)
    made = ec2.create_snapshot(
        VolumeId=volume_id,
        Description="first",
        TagSpecifications=[{"ResourceType": "snapshot", "Tags": [{"Key": "k", "Value": "v"}]}],
    )
    assert (made["State"], made["Progress"], made["VolumeSize"]) == ("pending", "0%", 1)
    snapshot_id = made["SnapshotId"]
    wait_for(lambda: snapshot(ec2, snapshot_id)["State"] == "completed", timeout=30)
    done = snapshot(ec2, snapshot_id)
    assert done["Progress"] == "100%" and done["Tags"] == [{"Key": "k", "Value": "v"}]
    restored = ec2.create_volume(SnapshotId=snapshot_id, AvailabilityZone=ZONE, Size=2)
    assert (restored["SnapshotId"], restored["Size"]) == (snapshot_id, 2)
    wait_volume(ec2, restored["VolumeId"], "available")
    path = volume_file(module_cloud, restored["VolumeId"])
    assert read(path, 300 * MiB, len(data)) == data
    assert path.stat().st_size == 2 << 30 and path.stat().st_blocks * 512 < 16 * MiB
    by_snapshot = ec2.describe_volumes(Filters=[{"Name": "snapshot-id", "Values": [snapshot_id]}])
    assert [v["VolumeId"] for v in by_snapshot["Volumes"]] == [restored["VolumeId"]]


def test_an_attached_volume_is_snapshotted_live(
    ec2: Any,
    module_cloud: Cloud,
    instance: str,  # noqa: F811
) -> None:
    volume_id = available(ec2)
    write(volume_file(module_cloud, volume_id), 5 * MiB, b"attached" * 512)
    ec2.attach_volume(VolumeId=volume_id, InstanceId=instance, Device="/dev/sdg")
    wait_volume(ec2, volume_id, "in-use", "attached")
    snapshot_id = completed(ec2, volume_id)
    restored = ec2.create_volume(SnapshotId=snapshot_id, AvailabilityZone=ZONE)
    wait_volume(ec2, restored["VolumeId"], "available")
    assert read(volume_file(module_cloud, restored["VolumeId"]), 5 * MiB, 4096) == (
        b"attached" * 512
    )
    ec2.detach_volume(VolumeId=volume_id)
    wait_volume(ec2, volume_id, "available")


def test_describe_filters_pages_copy_and_delete(ec2: Any, module_cloud: Cloud) -> None:
    volume_id = available(ec2)
    write(volume_file(module_cloud, volume_id), 0, b"copy me")
    first = completed(ec2, volume_id, Description="one")
    second = completed(ec2, volume_id, Description="two")
    mine = ec2.describe_snapshots(OwnerIds=["self"])["Snapshots"]
    assert {first, second} <= {s["SnapshotId"] for s in mine}
    by_volume = ec2.describe_snapshots(Filters=[{"Name": "volume-id", "Values": [volume_id]}])
    assert sorted(s["SnapshotId"] for s in by_volume["Snapshots"]) == sorted([first, second])
    described = ec2.describe_snapshots(Filters=[{"Name": "description", "Values": ["tw?"]}])
    assert [s["SnapshotId"] for s in described["Snapshots"]] == [second]
    paged = ec2.get_paginator("describe_snapshots").paginate(
        OwnerIds=["self"], PaginationConfig={"PageSize": 5}
    )
    assert {first, second} <= {s["SnapshotId"] for page in paged for s in page["Snapshots"]}
    copy = ec2.copy_snapshot(SourceSnapshotId=first, SourceRegion=ec2.meta.region_name)
    copied = snapshot(ec2, copy["SnapshotId"])
    # As AWS shows a copy: not the source's volume, which may be another account's.
    assert (copied["State"], copied["VolumeId"]) == ("completed", "vol-ffffffff")
    ec2.delete_snapshot(SnapshotId=first)
    assert error(lambda: ec2.describe_snapshots(SnapshotIds=[first])) == (
        "InvalidSnapshot.NotFound",
        400,
    )
    # The copy kept the data its source shared with it.
    restored = ec2.create_volume(SnapshotId=copy["SnapshotId"], AvailabilityZone=ZONE)
    wait_volume(ec2, restored["VolumeId"], "available")
    assert read(volume_file(module_cloud, restored["VolumeId"]), 0, 7) == b"copy me"
    ec2.delete_snapshot(SnapshotId=second)


def test_bad_input_gets_aws_errors_and_changes_nothing(ec2: Any) -> None:
    volume_id = available(ec2, size=2)
    snapshot_id = completed(ec2, volume_id)
    before = len(ec2.describe_volumes()["Volumes"])
    cases = [
        (lambda: ec2.delete_snapshot(SnapshotId="snap-12345678"), "InvalidSnapshot.NotFound"),
        (lambda: ec2.delete_snapshot(SnapshotId="snap-nope"), "InvalidSnapshot.Malformed"),
        (lambda: ec2.create_snapshot(VolumeId="vol-12345678"), "InvalidVolume.NotFound"),
        (
            lambda: ec2.create_volume(SnapshotId=snapshot_id, Size=1, AvailabilityZone=ZONE),
            "InvalidParameterValue",
        ),
        (
            lambda: ec2.create_volume(SnapshotId="snap-12345678", AvailabilityZone=ZONE),
            "InvalidSnapshot.NotFound",
        ),
        (
            lambda: ec2.describe_snapshot_attribute(SnapshotId=snapshot_id, Attribute="bogus"),
            "InvalidParameterValue",
        ),
        (
            lambda: ec2.describe_snapshots(Filters=[{"Name": "bogus", "Values": ["x"]}]),
            "InvalidParameterValue",
        ),
    ]
    for call, expected in cases:
        assert error(call)[0] == expected
    assert len(ec2.describe_volumes()["Volumes"]) == before
    creating = ec2.create_volume(Size=1, AvailabilityZone=ZONE)["VolumeId"]
    # A volume not yet available (or already being deleted) cannot be snapshotted.
    ec2.delete_volume(VolumeId=creating)
    assert error(lambda: ec2.create_snapshot(VolumeId=creating))[0] in (
        "IncorrectState",
        "InvalidVolume.NotFound",
    )


def test_sharing_by_create_volume_permission(ec2: Any, module_cloud: Cloud, tmp_path: Path) -> None:
    volume_id = available(ec2)
    write(volume_file(module_cloud, volume_id), MiB, b"shared")
    snapshot_id = completed(ec2, volume_id)
    account, ak, sk = new_account(module_cloud, tmp_path)
    other = module_cloud.client("ec2", access_key=ak, secret_key=sk)
    assert error(lambda: other.describe_snapshots(SnapshotIds=[snapshot_id]))[0] == (
        "InvalidSnapshot.NotFound"
    )
    assert error(lambda: other.create_volume(SnapshotId=snapshot_id, AvailabilityZone=ZONE))[0] == (
        "InvalidSnapshot.NotFound"
    )
    ec2.modify_snapshot_attribute(
        SnapshotId=snapshot_id,
        Attribute="createVolumePermission",
        OperationType="add",
        UserIds=[account],
    )
    perms = ec2.describe_snapshot_attribute(
        SnapshotId=snapshot_id, Attribute="createVolumePermission"
    )["CreateVolumePermissions"]
    assert perms == [{"UserId": account}]
    shared = other.describe_snapshots(RestorableByUserIds=["self"])["Snapshots"]
    assert [s["SnapshotId"] for s in shared] == [snapshot_id]
    theirs = other.create_volume(SnapshotId=snapshot_id, AvailabilityZone=ZONE)
    wait_volume(other, theirs["VolumeId"], "available")
    assert read(volume_file(module_cloud, theirs["VolumeId"]), MiB, 6) == b"shared"
    assert error(lambda: other.delete_snapshot(SnapshotId=snapshot_id))[0] == "AuthFailure"
    ec2.reset_snapshot_attribute(SnapshotId=snapshot_id, Attribute="createVolumePermission")
    assert other.describe_snapshots()["Snapshots"] == []
    ec2.modify_snapshot_attribute(
        SnapshotId=snapshot_id,
        CreateVolumePermission={"Add": [{"Group": "all"}]},
    )
    assert [s["SnapshotId"] for s in other.describe_snapshots()["Snapshots"]] == [snapshot_id]
    ec2.delete_snapshot(SnapshotId=snapshot_id)


def test_a_snapshot_holds_the_data_not_the_volume_size(ec2: Any, module_cloud: Cloud) -> None:
    """An 8 GiB volume with 3 KB written 7 GiB in: the volume made from its snapshot has the
    bytes where they were and nothing else allocated (the speed this gives is measured by
    bench/ebs.py)."""
    volume_id = available(ec2, size=8)
    write(volume_file(module_cloud, volume_id), 7 << 30, b"far" * 1000)
    snapshot_id = completed(ec2, volume_id)
    restored = ec2.create_volume(SnapshotId=snapshot_id, AvailabilityZone=ZONE)["VolumeId"]
    wait_volume(ec2, restored, "available")
    path = volume_file(module_cloud, restored)
    assert read(path, 7 << 30, 3000) == b"far" * 1000
    assert path.stat().st_size == 8 << 30
    assert path.stat().st_blocks * 512 <= 4 << 20  # one chunk at most, of 8 GiB


def test_euca_volume_and_snapshot_commands(
    module_cloud: Cloud,
    ec2: Any,
    instance: str,  # noqa: F811
) -> None:
    euca = Euca(module_cloud)
    vol = r"vol-[0-9a-f]{8,17}"
    snap = r"snap-[0-9a-f]{8,17}"
    made = euca("euca-create-volume", "-s", "1", "-z", ZONE)
    matches(made, rf"VOLUME\t{vol}\t1\t\t{ZONE}\tcreating\t{TIME}")
    volume_id = made[0].split("\t")[1]
    wait_volume(ec2, volume_id, "available")
    matches(
        euca("euca-describe-volumes", volume_id),
        rf"VOLUME\t{volume_id}\t1\t\t{ZONE}\tavailable\t{TIME}\tgp2\t",
    )
    matches(
        euca("euca-attach-volume", volume_id, "-i", instance, "-d", "/dev/sdh"),
        rf"ATTACHMENT\t{volume_id}\t{instance}\t/dev/sdh\tattaching\t{TIME}",
    )
    wait_volume(ec2, volume_id, "in-use", "attached")
    matches(
        euca("euca-describe-volumes", "--filter", f"volume-id={volume_id}"),
        rf"VOLUME\t{volume_id}\t1\t\t{ZONE}\tin-use\t{TIME}\tgp2\t",
        rf"ATTACHMENT\t{volume_id}\t{instance}\t/dev/sdh\tattached\t{TIME}",
    )
    made = euca("euca-create-snapshot", volume_id, "-d", "by euca")
    matches(made, rf"SNAPSHOT\t{snap}\t{volume_id}\tpending\t{TIME}\t0%\t{ACCOUNT}\t1\tby euca")
    snapshot_id = made[0].split("\t")[1]
    wait_for(lambda: snapshot(ec2, snapshot_id)["State"] == "completed", timeout=30)
    matches(
        euca("euca-describe-snapshots", snapshot_id),
        rf"SNAPSHOT\t{snapshot_id}\t{volume_id}\tcompleted\t{TIME}\t100%\t{ACCOUNT}\t1\tby euca",
    )
    assert snapshot_id in "\n".join(euca("euca-describe-snapshots"))
    matches(
        euca("euca-detach-volume", volume_id),
        rf"ATTACHMENT\t{volume_id}\t{instance}\t/dev/sdh\tdetaching\t{TIME}",
    )
    wait_volume(ec2, volume_id, "available")
    restored = euca("euca-create-volume", "--snapshot", snapshot_id, "-z", ZONE)
    matches(restored, rf"VOLUME\t{vol}\t1\t{snapshot_id}\t{ZONE}\tcreating\t{TIME}")
    restored_id = restored[0].split("\t")[1]
    wait_volume(ec2, restored_id, "available")
    matches(euca("euca-delete-volume", restored_id), rf"VOLUME\t{restored_id}")
    matches(euca("euca-delete-snapshot", snapshot_id), rf"SNAPSHOT\t{snapshot_id}")
    matches(euca("euca-delete-volume", volume_id), rf"VOLUME\t{volume_id}")
    failed = euca.run("euca-delete-snapshot", snapshot_id)
    assert failed.returncode != 0 and "InvalidSnapshot.NotFound" in failed.stderr
    assert re.search(r"InvalidSnapshot\.NotFound", failed.stderr)


def test_euca_stop_start_and_reboot_of_an_ebs_instance(ec2: Any, module_cloud: Cloud) -> None:
    # euca-register -n NAME -s snap-... ; euca-run-instances ; euca-stop-instances ;
    # euca-start-instances ; euca-reboot-instances (an EBS image made from a volume's snapshot).
    euca = Euca(module_cloud)
    volume_id = ec2.create_volume(Size=1, AvailabilityZone=ZONE)["VolumeId"]
    wait_volume(ec2, volume_id, "available")
    snap = completed(ec2, volume_id)
    kernel = ec2.describe_images(Filters=[{"Name": "name", "Values": ["mallee-default-kernel"]}])
    ramdisk = ec2.describe_images(Filters=[{"Name": "name", "Values": ["mallee-default-ramdisk"]}])
    (line,) = euca(
        "euca-register", "-n", f"ebs-{snap}", "-s", snap, "--root-device-name", "/dev/sda",
        "--kernel", kernel["Images"][0]["ImageId"], "--ramdisk", ramdisk["Images"][0]["ImageId"],
    )  # fmt: skip
    image_id = line.split("\t")[1]
    iid = ec2.run_instances(ImageId=image_id, MinCount=1, MaxCount=1)["Instances"][0]["InstanceId"]

    def state() -> str:
        found = ec2.describe_instances(InstanceIds=[iid])["Reservations"][0]["Instances"][0]
        return str(found["State"]["Name"])

    try:
        wait_for(lambda: state() == "running", timeout=60)
        assert euca("euca-reboot-instances", iid) == []
        matches(euca("euca-stop-instances", iid), rf"INSTANCE\t{iid}\trunning\tstopping")
        wait_for(lambda: state() == "stopped", timeout=60)
        matches(euca("euca-start-instances", iid), rf"INSTANCE\t{iid}\tstopped\tpending")
        wait_for(lambda: state() == "running", timeout=60)
        matches(euca("euca-stop-instances", "-f", iid), rf"INSTANCE\t{iid}\trunning\tstopping")
    finally:
        ec2.terminate_instances(InstanceIds=[iid])
    refused = euca.run("euca-stop-instances", "i-0123456789abcdef0")
    assert refused.returncode == 1
    assert refused.stderr.startswith("euca-stop-instances: error (InvalidInstanceID.NotFound)")
