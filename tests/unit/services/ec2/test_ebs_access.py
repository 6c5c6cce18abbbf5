"""Boot from EBS, who may use what (on rows: no agents run): an image's own snapshots are its
owner's to use, an image names only its owner's snapshots, a launch's ARNs name its snapshots,
its volumes must fit a live zone, the root volume of a stopped instance can be detached and
attached back, and the controller gives up on launches whose volumes are never made."""

# The volume tests' `rt` fixture is imported, so every test parameter named so redefines it.
# ruff: noqa: F811

from __future__ import annotations

import time
from typing import Any

import pytest
from sqlalchemy import select, update

from mallee.api.errors import ServiceError
from mallee.controller import ebs_launches
from mallee.services.base import Runtime
from mallee.services.ec2 import (
    block_device_arns,
    create_image,
    ebs_images,
    instances,
    launch,
    volume_attachments,
)
from mallee.services.ec2.block_devices import Mapping
from mallee.store.tables.ebs import Ec2Snapshot, Ec2Volume, Ec2VolumeAttachment
from mallee.store.tables.ec2 import Ec2Instance
from mallee.store.tables.registry import ServiceRow
from tests.unit.services.ec2.test_block_devices import _image, ebs_instance, register, snapshot
from tests.unit.services.ec2.test_snapshots import OTHER, call, ctx, error, other  # noqa: F401
from tests.unit.services.ec2.test_volumes import ACCOUNT, made, rt  # noqa: F401


def _theirs(rt: Runtime, shared: bool) -> str:
    """A completed snapshot of the other account, shared with ACCOUNT or not."""
    snap = snapshot(rt)
    with rt.store.session() as s:
        s.execute(
            update(Ec2Snapshot)
            .where(Ec2Snapshot.id == snap)
            .values(account_id=OTHER, is_public=shared)
        )
    return snap


def test_a_launch_checks_the_images_snapshots_as_its_owner(rt: Runtime, other: str) -> None:
    image = _image(rt, register(rt, snapshot(rt, size=2))["ImageId"])
    with rt.store.session() as s:
        # OTHER may launch the image (the caller checked its launch permission): its private
        # snapshot is the image owner's to use.
        mappings = launch.launch_mappings(s, OTHER, image, [])
    assert [m.device for m in mappings] == ["/dev/sda"]
    # A snapshot the request names is the caller's to use: ACCOUNT's private one is not OTHER's.
    private = snapshot(rt)
    mine = [Mapping("/dev/sdf", ebs=True, snapshot_id=private)]
    with rt.store.session() as s, pytest.raises(ServiceError) as err:
        launch.launch_mappings(s, OTHER, image, mine)
    assert err.value.code == "InvalidSnapshot.NotFound"


def test_an_image_names_only_its_owners_snapshots(rt: Runtime, other: str) -> None:
    shared = _theirs(rt, shared=True)
    assert error(
        rt, ebs_images.register_image, Name="shared", RootDeviceName="/dev/sda",
        BlockDeviceMappings=[{"DeviceName": "/dev/sda", "Ebs": {"SnapshotId": shared}}],
    ) == "AuthFailure"  # fmt: skip
    private = _theirs(rt, shared=False)
    iid, _ = ebs_instance(rt)
    for snap, code in ((private, "InvalidSnapshot.NotFound"), (shared, "AuthFailure")):
        for device in ("/dev/sda", "/dev/sdg"):
            mapping = [{"DeviceName": device, "Ebs": {"SnapshotId": snap}}]
            assert error(rt, create_image.create_image, InstanceId=iid, Name=f"img-{device[-3:]}",
                         NoReboot=True, BlockDeviceMappings=mapping) == code  # fmt: skip
    # The account's own snapshot may replace a volume's, checked as RunInstances checks it.
    pending = snapshot(rt, size=1, state="pending")
    mapping = [{"DeviceName": "/dev/sdf", "Ebs": {"SnapshotId": pending}}]
    assert error(rt, create_image.create_image, InstanceId=iid, Name="pending", NoReboot=True,
                 BlockDeviceMappings=mapping) == "IncorrectState"  # fmt: skip


def _ctx(operation: str, **params: Any) -> Any:
    c = ctx(**params)
    c.operation = type("Op", (), {"name": operation})()
    return c


def test_launches_and_registrations_are_authorized_on_their_snapshots(rt: Runtime) -> None:
    root = snapshot(rt, size=2)
    with rt.store.session() as s:
        s.execute(update(Ec2Snapshot).values(state="completed"))
    image_id = register(rt, root)["ImageId"]
    extra = snapshot(rt)
    arns = block_device_arns.resources(
        rt.store,
        _ctx("RunInstances", ImageId=image_id,
             BlockDeviceMappings=[{"DeviceName": "/dev/sdf", "Ebs": {"SnapshotId": extra}}]),
    )  # fmt: skip
    assert arns is not None
    assert f"arn:aws:ec2:eucalyptus::snapshot/{root}" in arns
    assert f"arn:aws:ec2:eucalyptus::snapshot/{extra}" in arns
    assert f"arn:aws:ec2:eucalyptus:{ACCOUNT}:volume/*" in arns
    assert f"arn:aws:ec2:eucalyptus:{ACCOUNT}:instance/*" in arns
    # The request's snapshot in place of the image's: only the one the launch uses.
    replaced = block_device_arns.resources(
        rt.store,
        _ctx("RunInstances", ImageId=image_id,
             BlockDeviceMappings=[{"DeviceName": "/dev/sda", "Ebs": {"SnapshotId": extra}}]),
    )  # fmt: skip
    assert replaced is not None
    assert [a for a in replaced if ":snapshot/" in a] == [
        f"arn:aws:ec2:eucalyptus::snapshot/{extra}"
    ]
    mapping = [{"DeviceName": "/dev/sda", "Ebs": {"SnapshotId": extra}}]
    for operation in ("RegisterImage", "CreateImage"):
        found = block_device_arns.resources(
            rt.store, _ctx(operation, InstanceId="i-1", BlockDeviceMappings=mapping)
        )
        assert found is not None and f"arn:aws:ec2:eucalyptus::snapshot/{extra}" in found
    # A malformed list still names its snapshots (the operation refuses it afterwards).
    bad = [{"DeviceName": "/dev/nope", "Ebs": {"SnapshotId": extra}}]
    found = block_device_arns.resources(rt.store, _ctx("RegisterImage", BlockDeviceMappings=bad))
    assert found is not None and f"arn:aws:ec2:eucalyptus::snapshot/{extra}" in found
    assert block_device_arns.resources(rt.store, _ctx("DescribeImages")) is None


def _plan(rt: Runtime, size: int) -> Any:
    return launch.LaunchPlan(
        image=None, kernel_id=None, ramdisk_id=None, itype=launch.Size("m1.small", 1, 256, 5),
        key=None, user_data=None, zone="two", groups=[],
        mappings=[Mapping("/dev/sdf", ebs=True, size=size)],
    )  # fmt: skip


def test_a_launchs_volumes_must_fit_a_live_zone(
    rt: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(launch, "free_slots", lambda *a, **k: 50)
    with rt.store.session() as s:
        # Zone two holds 100 GiB: 20 x 40 GiB asked, at least 2, get what fits.
        assert launch.how_many(s, {"MinCount": 2, "MaxCount": 20}, _plan(rt, 40), 30) == 2
        with pytest.raises(ServiceError) as err:
            launch.how_many(s, {"MinCount": 3, "MaxCount": 20}, _plan(rt, 40), 30)
        assert err.value.code == "InvalidParameterValue"
        s.execute(update(ServiceRow).values(last_heartbeat=time.time() - 600))
    with rt.store.session() as s, pytest.raises(ServiceError) as err:
        launch.how_many(s, {"MinCount": 1, "MaxCount": 1}, _plan(rt, 1), 30)
    assert (err.value.code, err.value.status) == ("InsufficientVolumeCapacity", 500)
    with pytest.raises(ServiceError) as err:
        made(rt, zone="two")
    assert err.value.code == "InsufficientVolumeCapacity"


def test_the_root_volume_of_a_stopped_instance_is_detached_and_attached_back(
    rt: Runtime,
) -> None:
    iid, (root, _) = ebs_instance(rt, state="stopped")
    assert call(rt, volume_attachments.detach_volume, VolumeId=root)["State"] == "detached"
    assert error(rt, instances.start_instances, InstanceIds=[iid]) == "IncorrectInstanceState"
    with pytest.raises(ServiceError) as err:
        call(rt, instances.start_instances, InstanceIds=[iid])
    assert err.value.message == (
        f"The instance '{iid}' does not have a volume attached at root (/dev/sda)"
    )
    # Only the root device name the instance has, and only while nothing is there.
    assert error(rt, volume_attachments.attach_volume, VolumeId=root, InstanceId=iid,
                 Device="/dev/sda1") == "InvalidParameterValue"  # fmt: skip
    answer = call(rt, volume_attachments.attach_volume, VolumeId=root, InstanceId=iid,
                  Device="/dev/sda")  # fmt: skip
    assert answer["State"] == "attached"
    with rt.store.read() as s:
        attachment = s.get_one(Ec2VolumeAttachment, root)
        assert (attachment.state, attachment.exported) == ("attached", False)
    assert error(rt, volume_attachments.attach_volume, VolumeId=made(rt), InstanceId=iid,
                 Device="/dev/sda") == "InvalidParameterValue"  # fmt: skip
    started = call(rt, instances.start_instances, InstanceIds=[iid])["StartingInstances"][0]
    assert started["CurrentState"]["Name"] == "pending"


def test_the_controller_fails_launches_whose_volumes_are_never_made(rt: Runtime) -> None:
    iid, (root, data) = ebs_instance(rt, state="pending")
    old = time.time() - ebs_launches.VOLUMES_TIMEOUT - 1
    with rt.store.session() as s:
        s.execute(update(Ec2Instance).values(state_changed_at=old))
        s.execute(update(Ec2Volume).values(state="creating", storage_host=""))
        # A claimed one is its storage agent's to release.
        s.execute(update(Ec2Volume).where(Ec2Volume.id == data).values(storage_host="sc"))
    fresh = ebs_instance(rt, state="pending")[0]
    with rt.store.session() as s:
        s.execute(update(Ec2Volume).where(Ec2Volume.state == "in-use").values(state="creating"))
    assert ebs_launches.fail_stuck(rt.store, now=time.time()) == [iid]
    with rt.store.read() as s:
        row = s.get_one(Ec2Instance, iid)
        assert (row.state, row.state_reason_code) == ("terminated", "Server.InternalError")
        assert s.get_one(Ec2Volume, root).state == "deleted"
        assert s.get(Ec2VolumeAttachment, root) is None
        assert s.get_one(Ec2Volume, data).state == "creating"
        assert s.get_one(Ec2Instance, fresh).state == "pending"
        left = set(s.scalars(select(Ec2VolumeAttachment.volume_id)).all())
    assert data in left
    assert ebs_launches.fail_stuck(rt.store, now=time.time()) == []
