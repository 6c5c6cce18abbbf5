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

from mallee.ids import new_id
from mallee.objectstore.backends.fs import FsBackend
from mallee.storage.agent import StorageAgent
from mallee.storage.imports import ImageRejected, Imports, inspect
from mallee.storage.overlay import OverlayBackend
from mallee.store import Store
from mallee.store.tables.ebs import Ec2Snapshot, Ec2Volume
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
    store: Store, objects: FsBackend, account: str, image: bytes, fmt: str, size_gib: int = 1
) -> tuple[str, str]:
    """An ImportVolume's rows as the api writes them, the image in two parts."""
    half = len(image) // 2
    parts = []
    for i, (start, end) in enumerate(((0, half - 1), (half, len(image) - 1))):
        key = f"img.part.{i}"
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
    agent.tick()
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
    agent_for(store, tmp_path, objects).tick()
    task = task_row(store, task_id)
    assert task.state == "cancelled"
    assert "QCOW2" in task.status_message
    assert volume_row(store, volume_id).state == "deleted"
    assert not (tmp_path / "volumes" / f"{volume_id}.raw").exists()


def test_raw_bytes_claiming_to_be_qcow2_are_refused(
    store: Store, account: str, tmp_path: Path, objects: FsBackend
) -> None:
    task_id, volume_id = volume_task(store, objects, account, pattern(), "QCOW2")
    agent_for(store, tmp_path, objects).tick()
    task = task_row(store, task_id)
    assert (task.state, volume_row(store, volume_id).state) == ("cancelled", "deleted")
    assert task.status_message.startswith("not a valid QCOW2 image")


def test_a_truncated_image_fails(
    store: Store, account: str, tmp_path: Path, objects: FsBackend
) -> None:
    vmdk = made(tmp_path, "vmdk", pattern()).read_bytes()
    task_id, volume_id = volume_task(store, objects, account, vmdk[: len(vmdk) // 3], "VMDK")
    agent_for(store, tmp_path, objects).tick()
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
    agent_for(store, tmp_path, objects).tick()
    task = task_row(store, task_id)
    assert task.state == "cancelled"
    assert "larger than the volume" in task.status_message
    assert volume_row(store, volume_id).state == "deleted"


def test_a_source_changed_since_the_import_began_fails(
    store: Store, account: str, tmp_path: Path, objects: FsBackend
) -> None:
    task_id, volume_id = volume_task(store, objects, account, pattern(), "RAW")
    put_object(store, objects, account, "img.part.1", b"other bytes" * 200)
    agent_for(store, tmp_path, objects).tick()
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
    agent_for(store, tmp_path, objects).tick()
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
    agent.tick()
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
    agent_for(store, tmp_path, objects).tick()
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
    agent.tick()
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
    agent_for(store, tmp_path, objects).tick()
    task = task_row(store, task_id)
    assert (task.state, task.status_message) == ("cancelled", "The snapshot was deleted")
