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
from botocore.exceptions import ClientError

from tests.e2e.conftest import Cloud
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
