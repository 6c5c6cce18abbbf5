"""Block device mappings: parsing and validation, EBS-backed images from snapshots, the volumes
a launch makes, CreateImage and the controller's settling of its pending images (on rows: no
agents run)."""

# The volume tests' `rt` fixture is imported, so every test parameter named so redefines it.
# ruff: noqa: F811

from __future__ import annotations

import datetime as dt
import json
import time
from types import SimpleNamespace
from typing import Any

import pytest
from sqlalchemy import func, select

from mallee.api.errors import ServiceError
from mallee.controller import images as controller_images
from mallee.ids import new_id
from mallee.services.base import Runtime
from mallee.services.ec2 import block_devices, create_image, ebs_images, launch, volume_attachments
from mallee.services.ec2.block_devices import Mapping
from mallee.store.tables.ebs import Ec2Snapshot, Ec2Volume, Ec2VolumeAttachment
from mallee.store.tables.ec2 import Ec2Image, Ec2Instance
from tests.unit.services.ec2.test_volumes import ACCOUNT, call, error, rt  # noqa: F401


def snapshot(rt: Runtime, size: int = 2, state: str = "completed") -> str:
    snapshot_id = new_id("snap")
    with rt.store.session() as s:
        s.add(
            Ec2Snapshot(
                id=snapshot_id, account_id=ACCOUNT, volume_id="vol-1", volume_size_gib=size,
                state=state, progress=100, started_at=dt.datetime.now(dt.UTC),
            )
        )  # fmt: skip
    return snapshot_id


def parse_error(raw: Any) -> str:
    with pytest.raises(ServiceError) as err:
        block_devices.parse(raw)
    return err.value.code


def test_parse_takes_each_kind_and_refuses_bad_forms() -> None:
    parsed = block_devices.parse(
        [
            {
                "DeviceName": "/dev/sda",
                "Ebs": {"SnapshotId": "snap-1", "DeleteOnTermination": False},
            },
            {"DeviceName": "/dev/sdb", "VirtualName": "ephemeral0"},
            {"DeviceName": "/dev/sdc", "NoDevice": ""},
            {"DeviceName": "/dev/sdf", "Ebs": {"VolumeSize": 3, "VolumeType": "gp3"}},
        ]
    )
    assert [m.out() for m in parsed] == [
        {"DeviceName": "/dev/sda", "Ebs": {"Encrypted": False, "SnapshotId": "snap-1",
                                          "DeleteOnTermination": False}},
        {"DeviceName": "/dev/sdb", "VirtualName": "ephemeral0"},
        {"DeviceName": "/dev/sdc", "NoDevice": ""},
        {"DeviceName": "/dev/sdf", "Ebs": {"Encrypted": False, "VolumeSize": 3,
                                          "VolumeType": "gp3"}},
    ]  # fmt: skip
    assert parse_error([{"DeviceName": "sdz9", "Ebs": {"VolumeSize": 1}}]) == (
        "InvalidBlockDeviceMapping"
    )
    assert parse_error([{"DeviceName": "/dev/sdf"}]) == "InvalidBlockDeviceMapping"
    both = {"DeviceName": "/dev/sdf", "Ebs": {"VolumeSize": 1}, "VirtualName": "ephemeral0"}
    assert parse_error([both]) == "InvalidBlockDeviceMapping"
    assert parse_error([{"DeviceName": "/dev/sdf", "VirtualName": "swap"}]) == (
        "InvalidBlockDeviceMapping"
    )
    twice = {"DeviceName": "/dev/sdf", "Ebs": {"VolumeSize": 1}}
    assert parse_error([twice, twice]) == "InvalidBlockDeviceMapping"
    assert parse_error([{"DeviceName": "/dev/sdf", "Ebs": {"VolumeSize": "x"}}]) == (
        "InvalidParameterValue"
    )
    assert parse_error([{"DeviceName": "/dev/sdf", "Ebs": {"VolumeType": "io9"}}]) == (
        "InvalidParameterValue"
    )
    assert parse_error([{"Ebs": {"VolumeSize": 1}}]) == "MissingParameter"


def test_merge_overrides_drops_and_adds() -> None:
    image = [
        Mapping("/dev/sda", ebs=True, snapshot_id="snap-1", size=2, delete_on_termination=True),
        Mapping("/dev/sdb", virtual_name="ephemeral0"),
    ]
    merged = block_devices.merge(
        image,
        [
            Mapping("/dev/sda", ebs=True, size=5, delete_on_termination=False),
            Mapping("/dev/sdb", no_device=True),
            Mapping("/dev/sdf", ebs=True, size=1),
        ],
    )
    assert merged == [
        Mapping("/dev/sda", ebs=True, snapshot_id="snap-1", size=5, delete_on_termination=False),
        Mapping("/dev/sdf", ebs=True, size=1),
    ]


def test_resolve_fills_in_and_checks_against_the_snapshot(rt: Runtime) -> None:
    snap = snapshot(rt, size=2)
    with rt.store.session() as s:
        done = block_devices.resolve(s, ACCOUNT, [Mapping("/dev/sda", ebs=True, snapshot_id=snap)])
    assert done == [
        Mapping("/dev/sda", ebs=True, snapshot_id=snap, size=2, delete_on_termination=True,
                volume_type="gp2"),
    ]  # fmt: skip
    cases = [
        (Mapping("/dev/sda", ebs=True, snapshot_id=snap, size=1), "InvalidBlockDeviceMapping"),
        (Mapping("/dev/sda", ebs=True, snapshot_id="snap-0123456789abcdef0"),
         "InvalidSnapshot.NotFound"),
        (Mapping("/dev/sdf", ebs=True), "InvalidBlockDeviceMapping"),
        (Mapping("/dev/sdf", ebs=True, size=0), "InvalidParameterValue"),
        (Mapping("/dev/sdf", ebs=True, size=16385), "InvalidParameterValue"),
        (Mapping("/dev/sda", ebs=True, snapshot_id=snapshot(rt, state="pending")),
         "IncorrectState"),
    ]  # fmt: skip
    for mapping, code in cases:
        with rt.store.session() as s, pytest.raises(ServiceError) as err:
            block_devices.resolve(s, ACCOUNT, [mapping])
        assert err.value.code == code, mapping


def register(rt: Runtime, snap: str, name: str = "ebs-image", **extra: Any) -> Any:
    mappings = [{"DeviceName": "/dev/sda", "Ebs": {"SnapshotId": snap}}]
    params = {"Name": name, "RootDeviceName": "/dev/sda", "BlockDeviceMappings": mappings}
    return call(rt, ebs_images.register_image, **{**params, **extra})


def test_register_from_a_snapshot(rt: Runtime) -> None:
    snap = snapshot(rt, size=2)
    image_id = register(rt, snap)["ImageId"]
    with rt.store.read() as s:
        image = s.get_one(Ec2Image, image_id)
        assert (image.root_device_type, image.root_device_name, image.state) == (
            "ebs", "/dev/sda", "available",
        )  # fmt: skip
        assert json.loads(image.block_device_mappings) == [
            {"DeviceName": "/dev/sda", "Ebs": {"Encrypted": False, "SnapshotId": snap,
             "VolumeSize": 2, "DeleteOnTermination": True, "VolumeType": "gp2"}},
        ]  # fmt: skip
    sized = [{"DeviceName": "/dev/sda", "Ebs": {"VolumeSize": 1}}]
    code = error(
        rt, ebs_images.register_image, Name="again", RootDeviceName="/dev/sda",
        BlockDeviceMappings=sized,
    )  # fmt: skip
    assert code == "InvalidBlockDeviceMapping"
    with pytest.raises(ServiceError) as err:
        register(rt, snap)
    assert err.value.code == "InvalidAMIName.Duplicate"
    with pytest.raises(ServiceError) as err:
        register(rt, snap, name="other", RootDeviceName="/dev/sdq")
    assert err.value.code == "InvalidBlockDeviceMapping"
    with pytest.raises(ServiceError) as err:
        register(rt, "snap-0123456789abcdef0", name="nosnap")
    assert err.value.code == "InvalidSnapshot.NotFound"
    with rt.store.read() as s:
        assert s.scalar(select(func.count()).select_from(Ec2Image)) == 1


def _image(rt: Runtime, image_id: str) -> Any:
    with rt.store.read() as s:
        image = s.get_one(Ec2Image, image_id)
        return SimpleNamespace(
            id=image.id,
            account_id=image.account_id,
            root_device_type=image.root_device_type,
            root_device_name=image.root_device_name,
            block_device_mappings=image.block_device_mappings,
        )


def test_launch_mappings_and_their_volumes(rt: Runtime) -> None:
    snap = snapshot(rt, size=2)
    image = _image(rt, register(rt, snap)["ImageId"])
    extra = block_devices.parse(
        [
            {"DeviceName": "/dev/sdf", "Ebs": {"VolumeSize": 1, "DeleteOnTermination": False}},
            {"DeviceName": "/dev/sdb", "VirtualName": "ephemeral0"},
        ]
    )
    with rt.store.session() as s:
        mappings = launch.launch_mappings(s, ACCOUNT, image, extra)
        made = block_devices.create_volumes(s, ACCOUNT, "one", ["i-1", "i-2"], mappings)
    assert len(made) == 4
    with rt.store.read() as s:
        rows = s.execute(
            select(Ec2VolumeAttachment.instance_id, Ec2VolumeAttachment.device,
                   Ec2VolumeAttachment.delete_on_termination, Ec2Volume.size_gib,
                   Ec2Volume.snapshot_id, Ec2Volume.state)
            .join(Ec2Volume, Ec2Volume.id == Ec2VolumeAttachment.volume_id)
            .order_by(Ec2VolumeAttachment.instance_id, Ec2VolumeAttachment.device)
        ).all()  # fmt: skip
    assert [tuple(r) for r in rows] == [
        ("i-1", "/dev/sda", True, 2, snap, "creating"),
        ("i-1", "/dev/sdf", False, 1, "", "creating"),
        ("i-2", "/dev/sda", True, 2, snap, "creating"),
        ("i-2", "/dev/sdf", False, 1, "", "creating"),
    ]
    for bad in (
        [Mapping("/dev/sda", no_device=True)],
        [Mapping("/dev/sdg", ebs=True, snapshot_id="snap-0123456789abcdef0")],
    ):
        with rt.store.session() as s, pytest.raises(ServiceError):
            launch.launch_mappings(s, ACCOUNT, image, bad)


def ebs_instance(rt: Runtime, state: str = "running") -> tuple[str, list[str]]:
    """An EBS-backed instance with a root volume and a data volume, both attached."""
    iid = new_id("i")
    volumes = []
    with rt.store.session() as s:
        s.add(
            Ec2Instance(
                id=iid, account_id=ACCOUNT, reservation_id="r-1", image_id="emi-1",
                instance_type="m1.small", cores=1, memory_mb=256, disk_gb=5,
                availability_zone="one", state=state, node="n1", root_device_type="ebs",
                root_device_name="/dev/sda", launch_time=dt.datetime.now(dt.UTC),
                state_changed_at=time.time(),
            )
        )  # fmt: skip
        for device, size in (("/dev/sda", 2), ("/dev/sdf", 1)):
            volume_id = new_id("vol")
            volumes.append(volume_id)
            s.add(
                Ec2Volume(
                    id=volume_id, account_id=ACCOUNT, availability_zone="one", size_gib=size,
                    state="in-use", created_at=dt.datetime.now(dt.UTC), storage_host="sc",
                )
            )  # fmt: skip
            s.flush()
            s.add(
                Ec2VolumeAttachment(
                    volume_id=volume_id, instance_id=iid, device=device, state="attached",
                    delete_on_termination=device == "/dev/sda",
                    attached_at=dt.datetime.now(dt.UTC), exported=True,
                )
            )  # fmt: skip
    return iid, volumes


def _snapshots(rt: Runtime) -> dict[str, str]:
    with rt.store.read() as s:
        return {v: i for v, i in s.execute(select(Ec2Snapshot.volume_id, Ec2Snapshot.id)).all()}


def _complete_all(rt: Runtime) -> None:
    with rt.store.session() as s:
        for row in s.scalars(select(Ec2Snapshot)).all():
            row.state = "completed"


def test_create_image_without_reboot_snapshots_every_volume(rt: Runtime) -> None:
    iid, (root, data) = ebs_instance(rt)
    image_id = call(rt, create_image.create_image, InstanceId=iid, Name="mine", NoReboot=True)[
        "ImageId"
    ]
    taken = _snapshots(rt)
    assert set(taken) == {root, data}
    with rt.store.read() as s:
        image = s.get_one(Ec2Image, image_id)
        assert image.state == "pending"
        devices = {m["DeviceName"]: m["Ebs"] for m in json.loads(image.block_device_mappings)}
        assert s.get_one(Ec2Instance, iid).state == "running"
    assert devices["/dev/sda"]["SnapshotId"] == taken[root]
    assert devices["/dev/sdf"]["SnapshotId"] == taken[data]
    assert devices["/dev/sdf"]["DeleteOnTermination"] is False
    assert controller_images.settle(rt.store) == 0
    _complete_all(rt)
    assert controller_images.settle(rt.store) == 1
    with rt.store.read() as s:
        assert s.get_one(Ec2Image, image_id).state == "available"
    assert error(rt, create_image.create_image, InstanceId=iid, Name="mine") == (
        "InvalidAMIName.Duplicate"
    )
    assert error(rt, create_image.create_image, InstanceId="i-0123456789abcdef0", Name="xyz") == (
        "InvalidInstanceID.NotFound"
    )


def test_create_image_with_reboot_stops_snapshots_then_starts(rt: Runtime) -> None:
    iid, volumes = ebs_instance(rt)
    image_id = call(rt, create_image.create_image, InstanceId=iid, Name="stopped-first")["ImageId"]
    assert _snapshots(rt) == {}
    with rt.store.session() as s:
        assert s.get_one(Ec2Instance, iid).state == "stopping"
    assert controller_images.settle(rt.store) == 0  # still stopping
    with rt.store.session() as s:
        s.get_one(Ec2Instance, iid).state = "stopped"  # what the node does
    assert controller_images.settle(rt.store) == 1
    assert set(_snapshots(rt)) == set(volumes)
    _complete_all(rt)
    assert controller_images.settle(rt.store) == 1
    with rt.store.read() as s:
        assert s.get_one(Ec2Image, image_id).state == "available"
        assert s.get_one(Ec2Instance, iid).state == "pending"


def test_the_root_volume_stays_while_the_instance_runs(rt: Runtime) -> None:
    iid, (root, data) = ebs_instance(rt)
    assert error(rt, volume_attachments.detach_volume, VolumeId=root) == "IncorrectState"
    with rt.store.session() as s:
        s.get_one(Ec2Instance, iid).state = "stopped"
    # A stopped instance has no VM: the volume is let go at once.
    assert call(rt, volume_attachments.detach_volume, VolumeId=data)["State"] == "detached"
    with rt.store.read() as s:
        assert s.get_one(Ec2Volume, data).state == "available"
        assert s.get(Ec2VolumeAttachment, data) is None
