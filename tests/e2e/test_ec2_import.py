"""Image import against a live cloud (`mallee up`, the storage agent a real process, real
qemu-img): euca-import-volume's manifest-and-parts flow, DescribeConversionTasks,
CancelConversionTask, ImportSnapshot from an S3 object, corrupt images and another account's
objects."""

from __future__ import annotations

import shutil
import subprocess
import uuid
from pathlib import Path
from typing import Any

import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from mallee.api.models.client import mallee_client
from tests.e2e.conftest import REGION, Cloud
from tests.e2e.test_ec2_instances import code
from tests.e2e.test_ec2_volumes import ZONE, wait_for, wait_volume
from tests.e2e.test_euca_commands import Euca, matches
from tests.e2e.test_iam_accounts import new_account

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(shutil.which("qemu-img") is None, reason="needs qemu-img"),
]

MiB = 1 << 20
GiB = 1 << 30
TASK_TIME = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z"


@pytest.fixture(scope="module")
def ec2(module_cloud: Cloud) -> Any:
    return module_cloud.client("ec2")


@pytest.fixture(scope="module")
def s3(module_cloud: Cloud) -> Any:
    client = module_cloud.client("s3")
    client.create_bucket(Bucket="imports")
    return client


def disk(tmp_path: Path, fmt: str, size: int = 12 * MiB) -> tuple[Path, bytes]:
    """An image file of qemu format `fmt` and the raw bytes it holds (data across two 10 MiB
    upload parts, holes between)."""
    raw = bytearray(size)
    raw[:4] = b"MBR!"
    raw[5 * MiB : 5 * MiB + 8] = uuid.uuid4().bytes[:8]
    raw[11 * MiB : 11 * MiB + 6] = b"second"
    src = tmp_path / f"{uuid.uuid4().hex}.raw"
    src.write_bytes(raw)
    if fmt == "raw":
        return src, bytes(raw)
    out = src.with_suffix(f".{fmt}")
    subprocess.run(["qemu-img", "convert", "-f", "raw", "-O", fmt, str(src), str(out)], check=True)
    return out, bytes(raw)


def volume_file(cloud: Cloud, volume_id: str) -> Path:
    assert cloud.data_dir is not None
    return cloud.data_dir / "volumes" / f"{volume_id}.raw"


def task(ec2: Any, task_id: str) -> dict[str, Any]:
    found: dict[str, Any] = ec2.describe_conversion_tasks(ConversionTaskIds=[task_id])[
        "ConversionTasks"
    ][0]
    return found


def ended(ec2: Any, task_id: str) -> dict[str, Any]:
    return wait_for(  # type: ignore[no-any-return]
        lambda: (t := task(ec2, task_id))["State"] in ("completed", "cancelled") and t, timeout=60
    )


def import_volume(euca: Euca, path: Path, fmt: str, *extra: str) -> str:
    out = euca("euca-import-volume", str(path), "--format", fmt, "--availability-zone", ZONE,
               "--bucket", "imports", "--prefix", "e2e", *extra)  # fmt: skip
    matches(out[:1], rf"TaskType\tIMPORTVOLUME\tTaskId\t(import-vol-\w{{8}})\tExpirationTime\t"
                     rf"{TASK_TIME}\tStatus\tactive\tStatusMessage\tPending")  # fmt: skip
    return out[0].split("\t")[3]


@pytest.mark.parametrize("fmt", ["raw", "qcow2"])
def test_euca_import_volume_makes_the_volume(
    ec2: Any, s3: Any, module_cloud: Cloud, tmp_path: Path, fmt: str
) -> None:
    path, raw = disk(tmp_path, fmt)
    euca = Euca(module_cloud)
    # The seed names the bucket owner's keys, which sign the upload and the manifest's URLs.
    owner = ["--owner-akid", module_cloud.admin.access_key, "--owner-sak"]
    owner.append(module_cloud.admin.secret_key)
    task_id = import_volume(
        euca, path, fmt, "-d", "seed import", *(owner if fmt == "qcow2" else [])
    )
    # The volume exists at once, creating until converted.
    volume_id = task(ec2, task_id)["ImportVolume"]["Volume"]["Id"]
    assert ec2.describe_volumes(VolumeIds=[volume_id])["Volumes"][0]["State"] in (
        "creating",
        "available",
    )
    done = ended(ec2, task_id)
    assert done["State"] == "completed", done
    detail = done["ImportVolume"]
    assert detail["BytesConverted"] == path.stat().st_size
    assert detail["Image"]["Format"] == fmt.upper()
    assert (detail["Volume"]["Size"], detail["AvailabilityZone"]) == (1, ZONE)
    assert detail["Description"] == "seed import"
    wait_volume(ec2, volume_id, "available")
    with open(volume_file(module_cloud, volume_id), "rb") as f:
        assert f.read(len(raw)) == raw
    # The manifest and the 10 MiB parts were uploaded beside each other.
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket="imports", Prefix="e2e/")["Contents"]]
    mine = sorted(k for k in keys if path.name in k)
    parts = -(-path.stat().st_size // (10 * MiB))
    assert [k.rsplit(".", 2)[-2:] for k in mine] == [
        ["manifest", "xml"],
        *(["part", str(i)] for i in range(parts)),
    ]
    if fmt == "raw":
        assert parts == 2
    lines = euca("euca-describe-conversion-tasks", task_id)
    matches(lines[:1], rf"TaskType\tIMPORTVOLUME\tTaskId\t{task_id}\tExpirationTime\t"
                       rf"{TASK_TIME}\tStatus\tcompleted")  # fmt: skip
    matches(lines[1:], rf"DISKIMAGE\tDiskImageFormat\t{fmt.upper()}\tDiskImageSize\t"
                       rf"{path.stat().st_size}\tVolumeId\t{volume_id}\tVolumeSize\t1\t"
                       rf"AvailabilityZone\t{ZONE}\tApproximateBytesConverted\t"
                       rf"{path.stat().st_size}")  # fmt: skip
    ec2.delete_volume(VolumeId=volume_id)


def test_a_corrupt_image_fails_with_a_message_and_no_volume(
    ec2: Any, s3: Any, module_cloud: Cloud, tmp_path: Path
) -> None:
    junk = tmp_path / "junk.qcow2"
    junk.write_bytes(b"QFI\xfb" + b"\x00\x00\x00\x03" + bytes(range(256)) * 64)
    task_id = import_volume(Euca(module_cloud), junk, "qcow2")
    done = ended(ec2, task_id)
    assert done["State"] == "cancelled"
    assert "QCOW2" in done["StatusMessage"]
    volume_id = done["ImportVolume"]["Volume"]["Id"]
    with pytest.raises(ClientError) as err:
        ec2.describe_volumes(VolumeIds=[volume_id])
    assert code(err) == ("InvalidVolume.NotFound", 400)
    assert not volume_file(module_cloud, volume_id).exists()


def test_cancel_leaves_nothing(ec2: Any, s3: Any, module_cloud: Cloud, tmp_path: Path) -> None:
    path, _ = disk(tmp_path, "raw")
    euca = Euca(module_cloud)
    task_id = import_volume(euca, path, "raw")
    volume_id = task(ec2, task_id)["ImportVolume"]["Volume"]["Id"]
    cancelled = euca.run("euca-cancel-conversion-task", task_id)
    if cancelled.returncode == 0:
        assert cancelled.stdout == ""
        done = ended(ec2, task_id)
        assert (done["State"], done["StatusMessage"]) == ("cancelled", "User requested")
        wait_for(lambda: not ec2.describe_volumes(Filters=[
            {"Name": "volume-id", "Values": [volume_id]}])["Volumes"])  # fmt: skip
        assert not volume_file(module_cloud, volume_id).exists()
    else:
        # It finished first: a completed task cannot be cancelled.
        assert "IncorrectState" in cancelled.stderr, cancelled.stderr
        assert task(ec2, task_id)["State"] == "completed"
        ec2.delete_volume(VolumeId=volume_id)
    again = euca.run("euca-cancel-conversion-task", task_id)
    assert again.returncode != 0 and "IncorrectState" in again.stderr


def test_bad_input_gets_aws_errors(ec2: Any, s3: Any, module_cloud: Cloud) -> None:
    manifest = s3.generate_presigned_url(
        "get_object", Params={"Bucket": "imports", "Key": "none.xml"}
    )

    def err(**params: Any) -> tuple[str, int]:
        base: dict[str, Any] = {
            "Image": {"Format": "RAW", "Bytes": 100, "ImportManifestUrl": manifest},
            "Volume": {"Size": 1},
            "AvailabilityZone": ZONE,
        }
        base.update(params)
        with pytest.raises(ClientError) as e:
            ec2.import_volume(**base)
        return code(e)

    bad_format = {"Format": "ISO", "Bytes": 100, "ImportManifestUrl": manifest}
    assert err(Image=bad_format) == ("InvalidParameterValue", 400)
    too_big = {"Format": "RAW", "Bytes": 2 * GiB, "ImportManifestUrl": manifest}
    assert err(Image=too_big) == ("InvalidParameterValue", 400)
    assert err(AvailabilityZone="nowhere") == ("InvalidParameterValue", 400)
    assert err() == ("InvalidParameterValue", 400)  # no such manifest
    s3.put_object(Bucket="imports", Key="bad.xml", Body=b"<manifest>nope</manifest>")
    bad = s3.generate_presigned_url("get_object", Params={"Bucket": "imports", "Key": "bad.xml"})
    image = {"Format": "RAW", "Bytes": 100, "ImportManifestUrl": bad}
    assert err(Image=image) == ("InvalidParameterValue", 400)
    for call in (
        lambda: ec2.describe_conversion_tasks(ConversionTaskIds=["import-vol-zzzzzzzz"]),
        lambda: ec2.cancel_conversion_task(ConversionTaskId="import-vol-zzzzzzzz"),
    ):
        with pytest.raises(ClientError) as e:
            call()
        assert code(e) == ("InvalidConversionTaskId.NotFound", 400)
    with pytest.raises(ClientError) as e:
        ec2.describe_conversion_tasks(ConversionTaskIds=["task-1"])
    assert code(e) == ("InvalidConversionTaskId.Malformed", 400)
    assert (
        ec2.describe_volumes(Filters=[{"Name": "status", "Values": ["creating"]}])["Volumes"] == []
    )


def test_import_snapshot_from_an_object(
    ec2: Any, s3: Any, module_cloud: Cloud, tmp_path: Path
) -> None:
    path, raw = disk(tmp_path, "qcow2", size=6 * MiB)
    s3.upload_file(str(path), "imports", "snap/disk.qcow2")
    started = ec2.import_snapshot(
        Description="from s3",
        DiskContainer={
            "Format": "QCOW2",
            "UserBucket": {"S3Bucket": "imports", "S3Key": "snap/disk.qcow2"},
        },
    )
    task_id = started["ImportTaskId"]
    assert task_id.startswith("import-snap-")
    assert started["SnapshotTaskDetail"]["Status"] == "active"

    def detail() -> dict[str, Any]:
        found: dict[str, Any] = ec2.describe_import_snapshot_tasks(ImportTaskIds=[task_id])[
            "ImportSnapshotTasks"
        ][0]["SnapshotTaskDetail"]
        return found

    done = wait_for(lambda: (d := detail())["Status"] == "completed" and d, timeout=60)
    assert done["UserBucket"] == {"S3Bucket": "imports", "S3Key": "snap/disk.qcow2"}
    snapshot = ec2.describe_snapshots(SnapshotIds=[done["SnapshotId"]])["Snapshots"][0]
    assert (snapshot["State"], snapshot["VolumeSize"], snapshot["Description"]) == (
        "completed",
        1,
        "from s3",
    )
    # A volume made from it holds the image's bytes.
    volume_id = ec2.create_volume(SnapshotId=done["SnapshotId"], AvailabilityZone=ZONE)["VolumeId"]
    wait_volume(ec2, volume_id, "available")
    with open(volume_file(module_cloud, volume_id), "rb") as f:
        assert f.read(len(raw)) == raw
    listed = ec2.describe_import_snapshot_tasks(
        Filters=[{"Name": "task-state", "Values": ["completed"]}]
    )["ImportSnapshotTasks"]
    assert task_id in [t["ImportTaskId"] for t in listed]
    with pytest.raises(ClientError) as e:
        ec2.cancel_import_task(ImportTaskId=task_id)
    assert code(e) == ("IncorrectState", 400)
    ec2.delete_volume(VolumeId=volume_id)
    ec2.delete_snapshot(SnapshotId=done["SnapshotId"])


def test_cancel_import_task(ec2: Any, s3: Any, tmp_path: Path) -> None:
    path, _ = disk(tmp_path, "raw", size=2 * MiB)
    s3.upload_file(str(path), "imports", "snap/cancel.raw")
    task_id = ec2.import_snapshot(
        DiskContainer={"Format": "RAW", "Url": "s3://imports/snap/cancel.raw"}
    )["ImportTaskId"]
    out = ec2.cancel_import_task(ImportTaskId=task_id, CancelReason="changed my mind")
    assert out["ImportTaskId"] == task_id and out["PreviousState"] == "active"
    assert out["State"] in ("deleting", "deleted")
    found = wait_for(
        lambda: (t := ec2.describe_import_snapshot_tasks(ImportTaskIds=[task_id])[
            "ImportSnapshotTasks"][0]["SnapshotTaskDetail"])["Status"] == "deleted" and t
    )  # fmt: skip
    assert found["StatusMessage"] == "User requested: changed my mind"
    assert "SnapshotId" not in found


def test_another_accounts_objects_cannot_be_imported(
    ec2: Any, s3: Any, module_cloud: Cloud, tmp_path: Path
) -> None:
    path, _ = disk(tmp_path, "raw")
    euca = Euca(module_cloud)
    task_id = import_volume(euca, path, "raw")
    url = task(ec2, task_id)["ImportVolume"]["Image"]["ImportManifestUrl"]
    wait_for(lambda: task(ec2, task_id)["State"] == "completed", timeout=60)
    s3.upload_file(str(path), "imports", "private/disk.raw")
    _, ak, sk = new_account(module_cloud, tmp_path)
    other = module_cloud.client("ec2", access_key=ak, secret_key=sk)
    with pytest.raises(ClientError) as e:
        other.import_volume(
            Image={"Format": "RAW", "Bytes": path.stat().st_size, "ImportManifestUrl": url},
            Volume={"Size": 1},
            AvailabilityZone=ZONE,
        )
    assert code(e)[0] == "AuthFailure"
    with pytest.raises(ClientError) as e:
        other.import_snapshot(
            DiskContainer={
                "Format": "RAW",
                "UserBucket": {"S3Bucket": "imports", "S3Key": "private/disk.raw"},
            }
        )
    assert code(e)[0] == "AuthFailure"
    assert other.describe_conversion_tasks()["ConversionTasks"] == []
    assert other.describe_volumes()["Volumes"] == []
    with pytest.raises(ClientError) as e:
        other.describe_conversion_tasks(ConversionTaskIds=[task_id])
    assert code(e) == ("InvalidConversionTaskId.NotFound", 400)
    ec2.delete_volume(VolumeId=task(ec2, task_id)["ImportVolume"]["Volume"]["Id"])


# --- ImportInstance, ImportImage ----------------------------------------------------------


def import_instance(euca: Euca, path: Path, fmt: str, *extra: str) -> str:
    out = euca("euca-import-instance", str(path), "--format", fmt, "--architecture", "x86_64",
               "--availability-zone", ZONE, "--bucket", "imports", "--prefix", "e2e-i",
               *extra)  # fmt: skip
    matches(out[:1], rf"TaskType\tIMPORTINSTANCE\tTaskId\t(import-i-\w{{8}})\tExpirationTime\t"
                     rf"{TASK_TIME}\tStatus\tactive\tStatusMessage\tPending")  # fmt: skip
    matches(out[1:], rf"DISKIMAGE\tDiskImageFormat\t{fmt.upper()}\tDiskImageSize\t"
                     rf"{path.stat().st_size}\tVolumeId\tvol-\w+\tVolumeSize\t1\t"
                     rf"AvailabilityZone\t{ZONE}\tStatus\tactive\t"
                     rf"StatusMessage\tPending")  # fmt: skip
    return out[0].split("\t")[3]


def gone(ec2: Any, describe: str, key: str, **ids: list[str]) -> bool:
    try:
        return not getattr(ec2, describe)(**ids)[key]
    except ClientError as err:
        return code(err)[0].endswith(".NotFound")


def test_euca_import_instance_makes_a_stopped_ebs_instance(
    ec2: Any, s3: Any, module_cloud: Cloud, tmp_path: Path
) -> None:
    path, raw = disk(tmp_path, "qcow2")
    euca = Euca(module_cloud)
    key = f"import-{uuid.uuid4().hex[:6]}"
    ec2.create_key_pair(KeyName=key)
    task_id = import_instance(
        euca, path, "qcow2", "-t", "m1.small", "-g", "default", "--platform", "Linux",
        "-d", "seed instance", "--key", key, "--user-data", "hello",
        "--instance-initiated-shutdown-behavior", "terminate",
    )  # fmt: skip
    started = task(ec2, task_id)["ImportInstance"]
    volume_id = started["Volumes"][0]["Volume"]["Id"]
    assert started["Platform"] == "Linux"
    done = ended(ec2, task_id)
    assert done["State"] == "completed", done
    detail = done["ImportInstance"]
    iid = detail["InstanceId"]
    assert detail["Description"] == "seed instance"
    assert detail["Volumes"][0]["Status"] == "completed"
    assert detail["Volumes"][0]["BytesConverted"] == path.stat().st_size
    reservation = ec2.describe_instances(InstanceIds=[iid])["Reservations"][0]
    instance = reservation["Instances"][0]
    assert instance["State"]["Name"] == "stopped"
    assert (instance["RootDeviceType"], instance["RootDeviceName"]) == ("ebs", "/dev/sda")
    assert (instance["InstanceType"], instance["KeyName"]) == ("m1.small", key)
    assert [g["GroupName"] for g in instance["SecurityGroups"]] == ["default"]
    [mapping] = instance["BlockDeviceMappings"]
    assert mapping["DeviceName"] == "/dev/sda"
    assert mapping["Ebs"]["VolumeId"] == volume_id
    # As AWS: an imported volume outlives its instance.
    assert mapping["Ebs"]["DeleteOnTermination"] is False
    attribute = ec2.describe_instance_attribute(InstanceId=iid, Attribute="userData")
    assert attribute["UserData"]["Value"] == "aGVsbG8="
    behavior = ec2.describe_instance_attribute(
        InstanceId=iid, Attribute="instanceInitiatedShutdownBehavior"
    )["InstanceInitiatedShutdownBehavior"]["Value"]
    assert behavior == "terminate"
    volume = ec2.describe_volumes(VolumeIds=[volume_id])["Volumes"][0]
    assert volume["State"] == "in-use" and volume["Attachments"][0]["InstanceId"] == iid
    with open(volume_file(module_cloud, volume_id), "rb") as f:
        assert f.read(len(raw)) == raw
    # The image the instance runs is the user's, EBS-backed, from a snapshot of the disk.
    image = ec2.describe_images(ImageIds=[instance["ImageId"]])["Images"][0]
    assert (image["RootDeviceType"], image["OwnerId"], image["State"]) == (
        "ebs", reservation["OwnerId"], "available",
    )  # fmt: skip
    snapshot_id = image["BlockDeviceMappings"][0]["Ebs"]["SnapshotId"]
    snapshot = ec2.describe_snapshots(SnapshotIds=[snapshot_id])["Snapshots"][0]
    assert (snapshot["State"], snapshot["VolumeId"], snapshot["VolumeSize"]) == (
        "completed", volume_id, 1,
    )  # fmt: skip
    lines = euca("euca-describe-conversion-tasks", task_id)
    matches(lines[:1], rf"TaskType\tIMPORTINSTANCE\tTaskId\t{task_id}\tExpirationTime\t"
                       rf"{TASK_TIME}\tStatus\tcompleted\tInstanceID\t{iid}")  # fmt: skip
    with pytest.raises(ClientError) as e:
        ec2.cancel_conversion_task(ConversionTaskId=task_id)
    assert code(e) == ("IncorrectState", 400)
    ec2.terminate_instances(InstanceIds=[iid])
    wait_volume(ec2, volume_id, "available")
    ec2.delete_volume(VolumeId=volume_id)
    ec2.deregister_image(ImageId=image["ImageId"])
    ec2.delete_snapshot(SnapshotId=snapshot_id)
    ec2.delete_key_pair(KeyName=key)


def test_cancelled_import_instance_leaves_nothing(
    ec2: Any, s3: Any, module_cloud: Cloud, tmp_path: Path
) -> None:
    path, _ = disk(tmp_path, "raw", size=24 * MiB)
    euca = Euca(module_cloud)
    task_id = import_instance(euca, path, "raw")
    volume_id = task(ec2, task_id)["ImportInstance"]["Volumes"][0]["Volume"]["Id"]
    cancelled = euca.run("euca-cancel-conversion-task", task_id)
    if cancelled.returncode != 0:
        # It finished first: a completed task cannot be cancelled.
        assert "IncorrectState" in cancelled.stderr, cancelled.stderr
        iid = task(ec2, task_id)["ImportInstance"]["InstanceId"]
        ec2.terminate_instances(InstanceIds=[iid])
        return
    done = ended(ec2, task_id)
    assert (done["State"], done["StatusMessage"]) == ("cancelled", "User requested")
    assert "InstanceId" not in done["ImportInstance"]
    wait_for(lambda: gone(ec2, "describe_volumes", "Volumes", VolumeIds=[volume_id]))
    assert not volume_file(module_cloud, volume_id).exists()
    pending = ec2.describe_snapshots(OwnerIds=["self"])["Snapshots"]
    assert [s for s in pending if s["VolumeId"] == volume_id] == []
    named = ec2.describe_images(Filters=[{"Name": "name", "Values": [task_id]}])["Images"]
    assert named == []


def test_import_instance_bad_input_gets_aws_errors(
    ec2: Any, s3: Any, module_cloud: Cloud, tmp_path: Path
) -> None:
    path, _ = disk(tmp_path, "raw", size=2 * MiB)
    euca = Euca(module_cloud)
    # A good manifest, from an import that ran to the end.
    vol_task = import_volume(euca, path, "raw")
    url = task(ec2, vol_task)["ImportVolume"]["Image"]["ImportManifestUrl"]
    wait_for(lambda: task(ec2, vol_task)["State"] == "completed", timeout=60)
    image = {"Format": "RAW", "Bytes": path.stat().st_size, "ImportManifestUrl": url}
    before = len(ec2.describe_conversion_tasks()["ConversionTasks"])

    def err(spec: dict[str, Any] | None = None, **params: Any) -> tuple[str, int]:
        base: dict[str, Any] = {
            "Platform": "Linux",
            "LaunchSpecification": {"Architecture": "x86_64", "InstanceType": "m1.small",
                                    **(spec or {})},
            "DiskImages": [{"Image": image, "Volume": {"Size": 1}}],
        }  # fmt: skip
        base.update(params)
        with pytest.raises(ClientError) as e:
            ec2.import_instance(**base)
        return code(e)

    assert err({"InstanceType": "m9.huge"}) == ("InvalidParameterValue", 400)
    assert err({"Architecture": "sparc"}) == ("InvalidParameterValue", 400)
    assert err({"InstanceInitiatedShutdownBehavior": "explode"}) == ("InvalidParameterValue", 400)
    assert err({"Placement": {"AvailabilityZone": "nowhere"}}) == ("InvalidParameterValue", 400)
    assert err({"PrivateIpAddress": "10.9.9.9"}) == ("InvalidParameterValue", 400)
    assert err({"GroupNames": ["no-such-group"]}) == ("InvalidGroup.NotFound", 400)
    # KeyName is Eucalyptus' (euca-import-instance --key), not in AWS's model.
    no_key = euca.run("euca-import-instance", str(path), "-f", "raw", "-a", "x86_64", "-b",
                      "imports", "--key", "no-such-key")  # fmt: skip
    assert no_key.returncode != 0 and "InvalidKeyPair.NotFound" in no_key.stderr, no_key.stderr
    assert err(Platform="Windows") == ("InvalidParameterValue", 400)
    two = [{"Image": image, "Volume": {"Size": 1}}] * 2
    assert err(DiskImages=two) == ("InvalidParameterValue", 400)
    small = [{"Image": {**image, "Bytes": 2 * GiB}, "Volume": {"Size": 1}}]
    assert err(DiskImages=small) == ("InvalidParameterValue", 400)
    assert len(ec2.describe_conversion_tasks()["ConversionTasks"]) == before
    # Another account may not import from this account's bucket.
    s3.upload_file(str(path), "imports", "private/instance.raw")
    _, ak, sk = new_account(module_cloud, tmp_path)
    other = module_cloud.client("ec2", access_key=ak, secret_key=sk)
    with pytest.raises(ClientError) as e:
        other.import_instance(
            Platform="Linux",
            LaunchSpecification={"Architecture": "x86_64"},
            DiskImages=[{"Image": image, "Volume": {"Size": 1}}],
        )
    assert code(e)[0] == "AuthFailure"
    with pytest.raises(ClientError) as e:
        other.import_image(
            DiskContainers=[{"Format": "RAW", "Url": "s3://imports/private/instance.raw"}]
        )
    assert code(e)[0] == "AuthFailure"
    assert other.describe_conversion_tasks()["ConversionTasks"] == []
    assert other.describe_import_image_tasks()["ImportImageTasks"] == []
    ec2.delete_volume(VolumeId=task(ec2, vol_task)["ImportVolume"]["Volume"]["Id"])


def test_import_image_registers_an_ebs_ami(
    ec2: Any, s3: Any, module_cloud: Cloud, tmp_path: Path
) -> None:
    path, raw = disk(tmp_path, "vmdk", size=6 * MiB)
    s3.upload_file(str(path), "imports", "ami/disk.vmdk")
    started = ec2.import_image(
        Description="an ami",
        Architecture="x86_64",
        Platform="Linux",
        ClientToken="ami-token-1",
        DiskContainers=[
            {"Format": "VMDK", "UserBucket": {"S3Bucket": "imports", "S3Key": "ami/disk.vmdk"}}
        ],
    )
    task_id = started["ImportTaskId"]
    assert task_id.startswith("import-ami-") and started["Status"] == "active"
    # The same ClientToken: the same task.
    again = ec2.import_image(
        ClientToken="ami-token-1",
        DiskContainers=[{"Format": "VMDK", "Url": "s3://imports/ami/disk.vmdk"}],
    )
    assert again["ImportTaskId"] == task_id

    def found() -> dict[str, Any]:
        tasks = ec2.describe_import_image_tasks(ImportTaskIds=[task_id])["ImportImageTasks"]
        return tasks[0]  # type: ignore[no-any-return]

    done = wait_for(lambda: (t := found())["Status"] == "completed" and t, timeout=60)
    assert (done["Architecture"], done["Platform"], done["Description"]) == (
        "x86_64", "Linux", "an ami",
    )  # fmt: skip
    [detail] = done["SnapshotDetails"]
    assert (detail["Format"], detail["DeviceName"], detail["Status"]) == (
        "VMDK", "/dev/sda", "completed",
    )  # fmt: skip
    image = ec2.describe_images(ImageIds=[done["ImageId"]])["Images"][0]
    assert (image["RootDeviceType"], image["RootDeviceName"], image["Name"]) == (
        "ebs", "/dev/sda", task_id,
    )  # fmt: skip
    ebs = image["BlockDeviceMappings"][0]["Ebs"]
    assert (ebs["SnapshotId"], ebs["VolumeSize"]) == (detail["SnapshotId"], 1)
    # The image's kernel and ramdisk are the cloud's defaults, as RegisterImage's.
    assert image.get("KernelId", "").startswith("eki-")
    # A volume of its snapshot holds the disk's bytes.
    volume_id = ec2.create_volume(SnapshotId=ebs["SnapshotId"], AvailabilityZone=ZONE)["VolumeId"]
    wait_volume(ec2, volume_id, "available")
    with open(volume_file(module_cloud, volume_id), "rb") as f:
        assert f.read(len(raw)) == raw
    listed = ec2.describe_import_image_tasks(
        Filters=[{"Name": "task-state", "Values": ["completed"]}]
    )["ImportImageTasks"]
    assert task_id in [t["ImportTaskId"] for t in listed]
    with pytest.raises(ClientError) as e:
        ec2.cancel_import_task(ImportTaskId=task_id)
    assert code(e) == ("IncorrectState", 400)
    ec2.delete_volume(VolumeId=volume_id)
    ec2.deregister_image(ImageId=done["ImageId"])
    ec2.delete_snapshot(SnapshotId=ebs["SnapshotId"])


def test_cancel_import_image(ec2: Any, s3: Any, tmp_path: Path) -> None:
    path, _ = disk(tmp_path, "raw", size=2 * MiB)
    s3.upload_file(str(path), "imports", "ami/cancel.raw")
    task_id = ec2.import_image(
        DiskContainers=[{"Format": "RAW", "Url": "s3://imports/ami/cancel.raw"}]
    )["ImportTaskId"]
    out = ec2.cancel_import_task(ImportTaskId=task_id, CancelReason="not now")
    assert out["PreviousState"] == "active" and out["State"] in ("deleting", "deleted")
    found = wait_for(
        lambda: (t := ec2.describe_import_image_tasks(ImportTaskIds=[task_id])[
            "ImportImageTasks"][0])["Status"] == "deleted" and t
    )  # fmt: skip
    assert found["StatusMessage"] == "User requested: not now"
    assert "ImageId" not in found
    assert ec2.describe_images(Filters=[{"Name": "name", "Values": [task_id]}])["Images"] == []
    with pytest.raises(ClientError) as e:
        ec2.import_image(DiskContainers=[{"Format": "ISO", "Url": "s3://imports/ami/cancel.raw"}])
    assert code(e) == ("InvalidParameterValue", 400)


def test_no_live_storage_agent_no_import_task(
    ec2: Any, s3: Any, module_cloud: Cloud, tmp_path: Path
) -> None:
    path, _ = disk(tmp_path, "raw", size=2 * MiB)
    s3.upload_file(str(path), "imports", "nostorage/disk.raw")
    manifest = s3.generate_presigned_url(
        "get_object", Params={"Bucket": "imports", "Key": "nostorage/manifest.xml"}
    )
    image = {"Format": "RAW", "Bytes": path.stat().st_size, "ImportManifestUrl": manifest}
    source = {"Format": "RAW", "UserBucket": {"S3Bucket": "imports", "S3Key": "nostorage/disk.raw"}}
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
    before = (
        len(ec2.describe_conversion_tasks()["ConversionTasks"]),
        len(ec2.describe_import_snapshot_tasks()["ImportSnapshotTasks"]),
        len(ec2.describe_import_image_tasks()["ImportImageTasks"]),
    )
    calls = {
        "ImportVolume": lambda: ec2.import_volume(
            Image=image, Volume={"Size": 1}, AvailabilityZone=ZONE
        ),
        "ImportInstance": lambda: ec2.import_instance(
            Platform="Linux",
            LaunchSpecification={"Architecture": "x86_64", "InstanceType": "m1.small"},
            DiskImages=[{"Image": image, "Volume": {"Size": 1}}],
        ),
        "ImportSnapshot": lambda: ec2.import_snapshot(DiskContainer=source),
        "ImportImage": lambda: ec2.import_image(DiskContainers=[source]),
    }
    # As CreateVolume: no storage agent to convert them, refused at once, not pending for ever.
    empyrean.modify_service(Name=storage, State="DISABLED")
    try:
        for name, call in calls.items():
            with pytest.raises(ClientError) as e:
                call()
            assert code(e) == ("InsufficientVolumeCapacity", 500), name
    finally:
        empyrean.modify_service(Name=storage, State="ENABLED")
    after = (
        len(ec2.describe_conversion_tasks()["ConversionTasks"]),
        len(ec2.describe_import_snapshot_tasks()["ImportSnapshotTasks"]),
        len(ec2.describe_import_image_tasks()["ImportImageTasks"]),
    )
    assert after == before
    # With the agent back, the same request is taken.
    task_id = ec2.import_snapshot(DiskContainer=source)["ImportTaskId"]
    done = wait_for(
        lambda: (t := ec2.describe_import_snapshot_tasks(ImportTaskIds=[task_id])[
            "ImportSnapshotTasks"][0]["SnapshotTaskDetail"])["Status"] == "completed" and t
    )  # fmt: skip
    ec2.delete_snapshot(SnapshotId=done["SnapshotId"])
