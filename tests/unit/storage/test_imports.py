"""Image import in the storage agent, from rows: real qemu-img on small raw, qcow2, vmdk and vhd
images; corrupt and hostile images, cancels, a changed source and a restarted agent."""

# The agent tests' `account` fixture is imported, so every parameter named so redefines it.
# ruff: noqa: F811, F401

from __future__ import annotations

import datetime as dt
import hashlib
import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from mallee.ids import new_id
from mallee.objectstore.backends.fs import FsBackend
from mallee.storage import import_launch
from mallee.storage.agent import StorageAgent
from mallee.storage.imports import ImageRejected, Imports, inspect
from mallee.storage.overlay import OverlayBackend
from mallee.store import Store
from mallee.store.tables.ebs import Ec2Snapshot, Ec2SnapshotChunk, Ec2Volume, Ec2VolumeAttachment
from mallee.store.tables.ec2 import Ec2Image, Ec2Instance
from mallee.store.tables.imports import Ec2ImportTask
from mallee.store.tables.s3 import S3Bucket, S3Object
from tests.unit.storage.test_agent import FakeExporter, account

pytestmark = pytest.mark.skipif(shutil.which("qemu-img") is None, reason="needs qemu-img")

MiB = 1 << 20
GiB = 1 << 30
BUCKET = "images"


def pattern(size: int = 3 * MiB) -> bytes:
    """A raw disk with data in a few places and holes between."""
    data = bytearray(size)
    data[0:512] = b"\xeb\x3c" + b"boot" * 127 + b"xx"
    data[MiB : MiB + 4096] = bytes(range(256)) * 16
    data[size - 100 :] = b"end" * 33 + b"!"
    return bytes(data)


def made(tmp_path: Path, fmt: str, raw: bytes) -> Path:
    """`raw` as an image file of qemu format `fmt`, made by qemu-img."""
    src = tmp_path / "disk.raw"
    src.write_bytes(raw)
    if fmt == "raw":
        return src
    out = tmp_path / f"disk.{fmt}"
    subprocess.run(
        ["qemu-img", "convert", "-f", "raw", "-O", fmt, str(src), str(out)],
        check=True,
        capture_output=True,
    )
    return out


@pytest.fixture
def objects(tmp_path: Path) -> FsBackend:
    return FsBackend(tmp_path / "objects")


def agent_for(store: Store, tmp_path: Path, objects: FsBackend, name: str = "sc1") -> StorageAgent:
    return StorageAgent(
        store,
        name=name,
        zone="one",
        host="h",
        backend=OverlayBackend(tmp_path / "volumes"),
        exporter=FakeExporter(tmp_path),
        objects=lambda: objects,
    )


def settle(agent: StorageAgent) -> None:
    """Tick until the imports the agent started (in threads of their own) ended and were
    reaped: what one raised past its own handling is raised here."""
    agent.tick()
    while agent.imports.running():
        agent.imports.join(timeout=120)
        agent.tick()


def put_object(store: Store, objects: FsBackend, account: str, key: str, data: bytes) -> str:
    """An S3 object as the S3 service stores it (a blob, or inline when tiny); its ETag."""
    etag = '"' + hashlib.md5(data).hexdigest() + '"'
    now = dt.datetime.now(dt.UTC)
    with store.session() as s:
        if s.get(S3Bucket, BUCKET) is None:
            s.add(S3Bucket(name=BUCKET, account_id=account, region="r", created_at=now))
            s.flush()
        old = s.get(S3Object, (BUCKET, key, "null"))
        if old is not None:
            s.delete(old)
            s.flush()
        inline = len(data) < 1024
        blob = None if inline else objects.put([data]).blob_id
        s.add(
            S3Object(
                bucket=BUCKET, key=key, version_id="null", account_id=account, size=len(data),
                etag=etag, blob_id=blob, data=data if inline else None, last_modified=now,
            )
        )  # fmt: skip
    return etag


def volume_task(
    store: Store, objects: FsBackend, account: str, image: bytes, fmt: str, size_gib: int = 1,
    name: str = "img",
) -> tuple[str, str]:  # fmt: skip
    """An ImportVolume's rows as the api writes them, the image in two parts (objects named
    after `name`)."""
    half = len(image) // 2
    parts = []
    for i, (start, end) in enumerate(((0, half - 1), (half, len(image) - 1))):
        key = f"{name}.part.{i}"
        etag = put_object(store, objects, account, key, image[start : end + 1])
        parts.append({"bucket": BUCKET, "key": key, "etag": etag, "start": start, "end": end})
    task_id = f"import-vol-{new_id('x')[2:10]}"
    volume_id = new_id("vol")
    now = dt.datetime.now(dt.UTC)
    with store.session() as s:
        s.add(
            Ec2Volume(
                id=volume_id, account_id=account, availability_zone="one", size_gib=size_gib,
                state="creating", created_at=now, storage_host=f"import:{task_id}",
            )
        )  # fmt: skip
        s.flush()
        s.add(
            _task(
                task_id, account, "import-volume", fmt, len(image), parts, now,
                volume_id=volume_id, volume_size_gib=size_gib, availability_zone="one",
            )
        )  # fmt: skip
    return task_id, volume_id


def _task(
    task_id: str, account: str, kind: str, fmt: str, size: int, parts: list[Any],
    now: dt.datetime, **extra: Any,
) -> Ec2ImportTask:  # fmt: skip
    return Ec2ImportTask(
        id=task_id, account_id=account, kind=kind, state="active", created_at=now,
        expires_at=now + dt.timedelta(days=30), image_format=fmt, image_bytes=size,
        parts=json.dumps(parts), **extra,
    )  # fmt: skip


def task_row(store: Store, task_id: str) -> Ec2ImportTask:
    with store.read() as s:
        return s.get_one(Ec2ImportTask, task_id)


def volume_row(store: Store, volume_id: str) -> Ec2Volume:
    with store.read() as s:
        return s.get_one(Ec2Volume, volume_id)


@pytest.mark.parametrize("fmt", ["raw", "qcow2", "vmdk", "vpc"])
def test_each_format_becomes_the_volume_bytes(
    store: Store, account: str, tmp_path: Path, objects: FsBackend, fmt: str
) -> None:
    raw = pattern()
    image = made(tmp_path, fmt, raw).read_bytes()
    api_format = {"raw": "RAW", "qcow2": "QCOW2", "vmdk": "VMDK", "vpc": "VHD"}[fmt]
    task_id, volume_id = volume_task(store, objects, account, image, api_format)
    agent = agent_for(store, tmp_path, objects)
    assert agent.has_work()
    settle(agent)
    task = task_row(store, task_id)
    assert (task.state, task.storage_host, task.bytes_converted) == (
        "completed",
        "sc1",
        len(image),
    )
    volume = volume_row(store, volume_id)
    assert (volume.state, volume.storage_host) == ("available", "sc1")
    path = tmp_path / "volumes" / f"{volume_id}.raw"
    assert path.stat().st_size == GiB
    with open(path, "rb") as f:
        # vpc rounds its virtual size up to its geometry: compare the image's own bytes.
        assert f.read(len(raw)) == raw
        assert f.read(MiB) == bytes(MiB)
    # Sparse: the holes were not written.
    assert path.stat().st_blocks * 512 < 2 * len(raw)
    assert not list((tmp_path / "volumes" / "imports").glob("*"))


def test_a_corrupt_image_cancels_the_task_and_deletes_the_volume(
    store: Store, account: str, tmp_path: Path, objects: FsBackend
) -> None:
    qcow2 = bytearray(made(tmp_path, "qcow2", pattern()).read_bytes())
    # The L1 table's offset pointing far outside the file.
    qcow2[40:48] = (1 << 40).to_bytes(8, "big")
    task_id, volume_id = volume_task(store, objects, account, bytes(qcow2), "QCOW2")
    settle(agent_for(store, tmp_path, objects))
    task = task_row(store, task_id)
    assert task.state == "cancelled"
    assert "QCOW2" in task.status_message
    assert volume_row(store, volume_id).state == "deleted"
    assert not (tmp_path / "volumes" / f"{volume_id}.raw").exists()


def test_raw_bytes_claiming_to_be_qcow2_are_refused(
    store: Store, account: str, tmp_path: Path, objects: FsBackend
) -> None:
    task_id, volume_id = volume_task(store, objects, account, pattern(), "QCOW2")
    settle(agent_for(store, tmp_path, objects))
    task = task_row(store, task_id)
    assert (task.state, volume_row(store, volume_id).state) == ("cancelled", "deleted")
    assert task.status_message.startswith("not a valid QCOW2 image")


def test_a_truncated_image_fails(
    store: Store, account: str, tmp_path: Path, objects: FsBackend
) -> None:
    vmdk = made(tmp_path, "vmdk", pattern()).read_bytes()
    task_id, volume_id = volume_task(store, objects, account, vmdk[: len(vmdk) // 3], "VMDK")
    settle(agent_for(store, tmp_path, objects))
    assert task_row(store, task_id).state == "cancelled"
    assert task_row(store, task_id).status_message
    assert volume_row(store, volume_id).state == "deleted"


def test_a_backing_file_is_never_opened(tmp_path: Path) -> None:
    secret = tmp_path / "host-secret"
    secret.write_bytes(b"secret" * 1000)
    evil = tmp_path / "evil.qcow2"
    subprocess.run(
        ["qemu-img", "create", "-f", "qcow2", "-F", "raw", "-b", str(secret), str(evil)],
        check=True,
        capture_output=True,
    )
    with pytest.raises(ImageRejected, match="backing file"):
        inspect(evil, "QCOW2")


def test_a_vmdk_with_an_extent_elsewhere_is_refused(tmp_path: Path) -> None:
    secret = tmp_path / "host-secret"
    secret.write_bytes(bytes(512 * 8))
    descriptor = tmp_path / "evil.vmdk"
    descriptor.write_text(
        "# Disk DescriptorFile\nversion=1\nCID=fffffffe\nparentCID=ffffffff\n"
        'createType="monolithicFlat"\n'
        f'RW 8 FLAT "{secret}" 0\n'
        'ddb.adapterType = "ide"\n'
    )
    with pytest.raises(ImageRejected):
        inspect(descriptor, "VMDK")


def test_an_image_larger_than_its_volume_fails(
    store: Store, account: str, tmp_path: Path, objects: FsBackend
) -> None:
    big = tmp_path / "big.qcow2"
    subprocess.run(
        ["qemu-img", "create", "-f", "qcow2", str(big), "2G"], check=True, capture_output=True
    )
    task_id, volume_id = volume_task(store, objects, account, big.read_bytes(), "QCOW2")
    settle(agent_for(store, tmp_path, objects))
    task = task_row(store, task_id)
    assert task.state == "cancelled"
    assert "larger than the volume" in task.status_message
    assert volume_row(store, volume_id).state == "deleted"


def test_a_source_changed_since_the_import_began_fails(
    store: Store, account: str, tmp_path: Path, objects: FsBackend
) -> None:
    task_id, volume_id = volume_task(store, objects, account, pattern(), "RAW")
    put_object(store, objects, account, "img.part.1", b"other bytes" * 200)
    settle(agent_for(store, tmp_path, objects))
    task = task_row(store, task_id)
    assert task.state == "cancelled"
    assert "changed" in task.status_message
    assert volume_row(store, volume_id).state == "deleted"


def test_a_cancelled_claimed_task_is_let_go(
    store: Store, account: str, tmp_path: Path, objects: FsBackend
) -> None:
    task_id, volume_id = volume_task(store, objects, account, pattern(), "RAW")
    with store.session() as s:
        task = s.get_one(Ec2ImportTask, task_id)
        task.storage_host, task.state, task.status_message = "sc1", "cancelling", "User requested"
    settle(agent_for(store, tmp_path, objects))
    task = task_row(store, task_id)
    assert (task.state, task.status_message) == ("cancelled", "User requested")
    assert volume_row(store, volume_id).state == "deleted"
    assert not (tmp_path / "volumes" / f"{volume_id}.raw").exists()


def test_cancelled_midway_the_volume_is_never_made(
    store: Store, account: str, tmp_path: Path, objects: FsBackend
) -> None:
    task_id, volume_id = volume_task(store, objects, account, pattern(), "RAW")
    agent = agent_for(store, tmp_path, objects)
    fetch = agent.imports._fetch

    def cancel_while_fetching(task: Any, dest: Path) -> None:
        with store.session() as s:
            s.get_one(Ec2ImportTask, task_id).state = "cancelling"
        fetch(task, dest)

    agent.imports._fetch = cancel_while_fetching  # type: ignore[method-assign]
    settle(agent)
    assert task_row(store, task_id).state == "cancelled"
    assert volume_row(store, volume_id).state == "deleted"
    assert not (tmp_path / "volumes" / f"{volume_id}.raw").exists()


def test_another_zones_task_is_not_claimed(
    store: Store, account: str, tmp_path: Path, objects: FsBackend
) -> None:
    task_id, _ = volume_task(store, objects, account, pattern(), "RAW")
    with store.session() as s:
        s.get_one(Ec2ImportTask, task_id).availability_zone = "two"
    agent = agent_for(store, tmp_path, objects)
    assert not agent.imports.has_work()
    agent.tick()
    assert task_row(store, task_id).state == "active"
    assert task_row(store, task_id).storage_host == ""


def test_an_agent_killed_midway_starts_the_task_over(
    store: Store, account: str, tmp_path: Path, objects: FsBackend
) -> None:
    raw = pattern()
    task_id, volume_id = volume_task(store, objects, account, raw, "RAW")
    # What a killed agent left: the task claimed, a half-fetched work file.
    with store.session() as s:
        s.get_one(Ec2ImportTask, task_id).storage_host = "sc1"
    work = tmp_path / "volumes" / "imports" / task_id
    work.mkdir(parents=True)
    (work / "image").write_bytes(b"half")
    settle(agent_for(store, tmp_path, objects))
    assert task_row(store, task_id).state == "completed"
    assert volume_row(store, volume_id).state == "available"
    with open(tmp_path / "volumes" / f"{volume_id}.raw", "rb") as f:
        assert f.read(len(raw)) == raw


def test_import_snapshot_stores_the_converted_bytes_as_chunks(
    store: Store, account: str, tmp_path: Path, objects: FsBackend
) -> None:
    raw = pattern()
    image = made(tmp_path, "qcow2", raw).read_bytes()
    etag = put_object(store, objects, account, "disk.qcow2", image)
    snapshot_id, task_id = new_id("snap"), new_id("import-snap")
    now = dt.datetime.now(dt.UTC)
    with store.session() as s:
        s.add(
            Ec2Snapshot(
                id=snapshot_id, account_id=account, volume_id="vol-ffffffff", volume_size_gib=1,
                state="pending", started_at=now, storage_host="",
            )
        )  # fmt: skip
        s.flush()
        part = {"bucket": BUCKET, "key": "disk.qcow2", "etag": etag, "start": 0}
        part["end"] = len(image) - 1
        s.add(_task(task_id, account, "import-snapshot", "QCOW2", len(image), [part], now,
                    snapshot_id=snapshot_id))  # fmt: skip
    agent = agent_for(store, tmp_path, objects)
    settle(agent)
    assert task_row(store, task_id).state == "completed"
    with store.read() as s:
        snap = s.get_one(Ec2Snapshot, snapshot_id)
        assert (snap.state, snap.progress, snap.volume_size_gib) == ("completed", 100, 1)
    # A volume made from it gets the image's bytes.
    volume_id = new_id("vol")
    with store.session() as s:
        s.add(
            Ec2Volume(
                id=volume_id, account_id=account, availability_zone="one", size_gib=1,
                state="creating", created_at=now, snapshot_id=snapshot_id,
            )
        )  # fmt: skip
    agent.tick()
    with open(tmp_path / "volumes" / f"{volume_id}.raw", "rb") as f:
        assert f.read(len(raw)) == raw


def test_a_snapshot_deleted_midway_cancels_its_task(
    store: Store, account: str, tmp_path: Path, objects: FsBackend
) -> None:
    image = pattern()
    etag = put_object(store, objects, account, "disk.raw", image)
    snapshot_id, task_id = new_id("snap"), new_id("import-snap")
    now = dt.datetime.now(dt.UTC)
    part = {"bucket": BUCKET, "key": "disk.raw", "etag": etag, "start": 0, "end": len(image) - 1}
    with store.session() as s:
        s.add(_task(task_id, account, "import-snapshot", "RAW", len(image), [part], now,
                    snapshot_id=snapshot_id))  # fmt: skip
    settle(agent_for(store, tmp_path, objects))
    task = task_row(store, task_id)
    assert (task.state, task.status_message) == ("cancelled", "The snapshot was deleted")


# --- ImportInstance and ImportImage: their later steps ---------------------------------------


def image_columns(account: str, image_id: str, snapshot_id: str, name: str) -> dict[str, Any]:
    """An EBS-backed image's columns, as the EC2 service keeps them in a task's details."""
    mapping = {"DeviceName": "/dev/sda", "Ebs": {"SnapshotId": snapshot_id, "VolumeSize": 1,
                                                 "DeleteOnTermination": True}}  # fmt: skip
    return {
        "id": image_id, "account_id": account, "name": name, "description": "", "image_type":
        "machine", "state": "available", "architecture": "x86_64", "virtualization_type":
        "paravirtual", "root_device_type": "ebs", "root_device_name": "/dev/sda", "kernel_id":
        None, "ramdisk_id": None, "location": "", "is_public": False, "platform": "linux",
        "block_device_mappings": json.dumps([mapping]),
    }  # fmt: skip


def instance_task(
    store: Store, objects: FsBackend, account: str, image: bytes, fmt: str
) -> dict[str, str]:
    """An ImportInstance's rows as the api writes them: the task (its details the image's and
    the instance's columns), the volume `creating` it names and the snapshot `pending`."""
    etag = put_object(store, objects, account, "inst.img", image)
    part = {"bucket": BUCKET, "key": "inst.img", "etag": etag, "start": 0, "end": len(image) - 1}
    ids = {
        "task": f"import-i-{new_id('x')[2:10]}", "volume": new_id("vol"),
        "snapshot": new_id("snap"), "image": new_id("emi"), "instance": new_id("i"),
    }  # fmt: skip
    instance = {
        "id": ids["instance"], "account_id": account, "reservation_id": new_id("r"),
        "image_id": ids["image"], "instance_type": "m1.small", "cores": 1, "memory_mb": 256,
        "disk_gb": 5, "availability_zone": "one", "root_device_type": "ebs",
        "root_device_name": "/dev/sda", "state": "stopped",
        "security_groups": json.dumps([{"GroupName": "gone", "GroupId": "sg-00000000"}]),
    }  # fmt: skip
    details = {
        "image": image_columns(account, ids["image"], ids["snapshot"], ids["task"]),
        "instance": instance, "group_ids": ["sg-00000000"], "device": "/dev/sda",
        "delete_on_termination": False,
    }  # fmt: skip
    now = dt.datetime.now(dt.UTC)
    with store.session() as s:
        s.add(
            Ec2Volume(
                id=ids["volume"], account_id=account, availability_zone="one", size_gib=1,
                state="creating", created_at=now, storage_host=f"import:{ids['task']}",
            )
        )  # fmt: skip
        s.add(
            Ec2Snapshot(
                id=ids["snapshot"], account_id=account, volume_id=ids["volume"],
                volume_size_gib=1, state="pending", started_at=now, storage_host="",
            )
        )  # fmt: skip
        s.flush()
        s.add(
            _task(
                ids["task"], account, "import-instance", fmt, len(image), [part], now,
                volume_id=ids["volume"], volume_size_gib=1, snapshot_id=ids["snapshot"],
                availability_zone="one", details=json.dumps(details),
            )
        )  # fmt: skip
    return ids


def counts(store: Store, account: str) -> tuple[int, int, int]:
    """The account's images, instances and attachments."""
    with store.read() as s:
        images = s.scalar(
            select(func.count())
            .select_from(Ec2Image)
            .where(Ec2Image.account_id == account, Ec2Image.image_type == "machine")
        )
        instances = s.scalar(
            select(func.count()).select_from(Ec2Instance).where(Ec2Instance.account_id == account)
        )
        attachments = s.scalar(select(func.count()).select_from(Ec2VolumeAttachment))
    return int(images or 0), int(instances or 0), int(attachments or 0)  # fmt: skip


def test_import_instance_makes_the_volume_snapshot_image_and_stopped_instance(
    store: Store, account: str, tmp_path: Path, objects: FsBackend
) -> None:
    raw = pattern()
    ids = instance_task(store, objects, account, made(tmp_path, "qcow2", raw).read_bytes(), "QCOW2")
    agent = agent_for(store, tmp_path, objects)
    settle(agent)
    task = task_row(store, ids["task"])
    assert (task.state, task.step, task.progress) == ("completed", "", 100)
    assert (task.instance_id, task.image_id) == (ids["instance"], ids["image"])
    assert volume_row(store, ids["volume"]).state == "in-use"
    assert volume_row(store, ids["volume"]).storage_host == "sc1"
    with open(tmp_path / "volumes" / f"{ids['volume']}.raw", "rb") as f:
        assert f.read(len(raw)) == raw
    with store.read() as s:
        assert s.get_one(Ec2Snapshot, ids["snapshot"]).state == "completed"
        image = s.get_one(Ec2Image, ids["image"])
        assert (image.root_device_type, image.name, image.state) == (
            "ebs",
            ids["task"],
            "available",
        )
        instance = s.get_one(Ec2Instance, ids["instance"])
        assert (instance.state, instance.node, instance.image_id) == ("stopped", None, ids["image"])
        # The group deleted since the request is not one of the instance's.
        assert json.loads(instance.security_groups) == []
        attachment = s.get_one(Ec2VolumeAttachment, ids["volume"])
        assert (attachment.instance_id, attachment.device, attachment.state) == (
            ids["instance"], "/dev/sda", "attached",
        )  # fmt: skip
        assert (attachment.delete_on_termination, attachment.exported) == (False, False)
    # A volume made from the snapshot holds the disk's bytes.
    copy = new_id("vol")
    with store.session() as s:
        s.add(Ec2Volume(id=copy, account_id=account, availability_zone="one", size_gib=1,
                        state="creating", created_at=dt.datetime.now(dt.UTC),
                        snapshot_id=ids["snapshot"]))  # fmt: skip
    agent.tick()
    with open(tmp_path / "volumes" / f"{copy}.raw", "rb") as f:
        assert f.read(len(raw)) == raw


@pytest.mark.parametrize("step", ["converting", "snapshotting", "registering"])
def test_import_instance_cancelled_at_each_step_leaves_nothing(
    store: Store, account: str, tmp_path: Path, objects: FsBackend, step: str
) -> None:
    ids = instance_task(store, objects, account, pattern(), "RAW")
    agent = agent_for(store, tmp_path, objects)
    progress = agent.imports._progress

    def cancel_at(task_id: str, **values: Any) -> None:
        progress(task_id, **values)
        if values.get("step") == step:
            # The caller's CancelConversionTask of the claimed task, as the step begins.
            with store.session() as s:
                s.get_one(Ec2ImportTask, task_id).state = "cancelling"

    agent.imports._progress = cancel_at  # type: ignore[method-assign]
    settle(agent)
    assert task_row(store, ids["task"]).state == "cancelled"
    assert volume_row(store, ids["volume"]).state == "deleted"
    assert not (tmp_path / "volumes" / f"{ids['volume']}.raw").exists()
    with store.read() as s:
        assert s.get(Ec2Snapshot, ids["snapshot"]) is None
        assert s.scalar(select(func.count()).select_from(Ec2SnapshotChunk)) == 0
    assert counts(store, account) == (0, 0, 0)


class Killed(BaseException):
    """kill -9: nothing after it runs, not even the task's own failure handling."""


def test_import_instance_agent_killed_before_its_last_step_repeats_nothing(
    store: Store, account: str, tmp_path: Path, objects: FsBackend, monkeypatch: pytest.MonkeyPatch
) -> None:
    raw = pattern()
    ids = instance_task(store, objects, account, raw, "RAW")
    real = import_launch.write_instance

    def killed(*args: Any) -> str:
        real(*args)  # written in the transaction the kill rolls back
        raise Killed

    monkeypatch.setattr(import_launch, "write_instance", killed)
    with pytest.raises(Killed):
        settle(agent_for(store, tmp_path, objects))
    assert task_row(store, ids["task"]).state == "active"
    assert task_row(store, ids["task"]).step == "registering"
    assert counts(store, account) == (0, 0, 0)
    monkeypatch.setattr(import_launch, "write_instance", real)
    # The agent started again (a new process: the same name) finishes it, once.
    agent = agent_for(store, tmp_path, objects)
    settle(agent)
    assert task_row(store, ids["task"]).state == "completed"
    assert counts(store, account) == (1, 1, 1)
    with open(tmp_path / "volumes" / f"{ids['volume']}.raw", "rb") as f:
        assert f.read(len(raw)) == raw


def image_task(store: Store, objects: FsBackend, account: str, image: bytes, fmt: str) -> dict[
    str, str
]:  # fmt: skip
    etag = put_object(store, objects, account, "ami.img", image)
    part = {"bucket": BUCKET, "key": "ami.img", "etag": etag, "start": 0, "end": len(image) - 1}
    ids = {"task": new_id("import-ami"), "snapshot": new_id("snap"), "image": new_id("emi")}
    details = {"image": image_columns(account, ids["image"], ids["snapshot"], ids["task"])}
    now = dt.datetime.now(dt.UTC)
    with store.session() as s:
        s.add(
            Ec2Snapshot(
                id=ids["snapshot"], account_id=account, volume_id="vol-ffffffff",
                volume_size_gib=7, state="pending", started_at=now, storage_host="",
            )
        )  # fmt: skip
        s.flush()
        s.add(_task(ids["task"], account, "import-image", fmt, len(image), [part], now,
                    snapshot_id=ids["snapshot"], details=json.dumps(details)))  # fmt: skip
    return ids


def test_import_image_registers_the_image_of_its_snapshot(
    store: Store, account: str, tmp_path: Path, objects: FsBackend, monkeypatch: pytest.MonkeyPatch
) -> None:
    raw = pattern()
    ids = image_task(store, objects, account, made(tmp_path, "vpc", raw).read_bytes(), "VHD")
    real = import_launch.write_image

    def killed(*args: Any) -> str:
        real(*args)
        raise Killed

    monkeypatch.setattr(import_launch, "write_image", killed)
    with pytest.raises(Killed):
        settle(agent_for(store, tmp_path, objects))
    assert counts(store, account) == (0, 0, 0)
    monkeypatch.setattr(import_launch, "write_image", real)
    settle(agent_for(store, tmp_path, objects))
    task = task_row(store, ids["task"])
    assert (task.state, task.image_id) == ("completed", ids["image"])
    assert counts(store, account) == (1, 0, 0)
    with store.read() as s:
        snap = s.get_one(Ec2Snapshot, ids["snapshot"])
        assert (snap.state, snap.volume_size_gib) == ("completed", 1)
        image = s.get_one(Ec2Image, ids["image"])
        # The root mapping's size is the image's virtual size, known once it was read.
        [mapping] = json.loads(image.block_device_mappings)
        assert mapping["Ebs"] == {"SnapshotId": ids["snapshot"], "VolumeSize": 1,
                                  "DeleteOnTermination": True}  # fmt: skip


def test_a_corrupt_import_image_leaves_no_snapshot_or_image(
    store: Store, account: str, tmp_path: Path, objects: FsBackend
) -> None:
    ids = image_task(store, objects, account, b"QFI\xfb" + bytes(4096), "QCOW2")
    settle(agent_for(store, tmp_path, objects))
    task = task_row(store, ids["task"])
    assert task.state == "cancelled" and "QCOW2" in task.status_message
    with store.read() as s:
        assert s.get(Ec2Snapshot, ids["snapshot"]) is None
    assert counts(store, account) == (0, 0, 0)
