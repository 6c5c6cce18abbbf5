"""The volume operations' state logic, on rows (no agents run: tests move rows as they would)."""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path
from typing import Any

import pytest

from mallee.api.context import Principal, RequestContext
from mallee.api.errors import ServiceError
from mallee.api.http import HttpRequest
from mallee.config import Settings
from mallee.ids import new_id
from mallee.registry import components
from mallee.services.base import Runtime
from mallee.services.ec2 import volume_attachments, volumes
from mallee.store.tables.ebs import Ec2Volume, Ec2VolumeAttachment, StorageHost
from mallee.store.tables.ec2 import Ec2Instance
from mallee.store.tables.iam import IamAccount

ACCOUNT = "123456789012"
CALLER = Principal(ACCOUNT, f"arn:aws:iam::{ACCOUNT}:root", ACCOUNT, "root", "root")


@pytest.fixture
def rt(store: Any, tmp_path: Path) -> Runtime:
    with store.session() as s:
        s.add(IamAccount(id=ACCOUNT, name="acct", created_at=dt.datetime.now(dt.UTC)))
        s.add(StorageHost(name="sc-two", zone="two", host="h", reported_at=time.time(),
                          capacity_bytes=100 << 30))  # fmt: skip
    # Volumes are made only in zones whose storage service is alive.
    for zone in ("one", "two"):
        components.register_self(
            store, type="storage", name=f"sc-{zone}", host="h", port=8773, partition=zone
        )
    return Runtime(Settings(data_dir=tmp_path), store)


def ctx(operation: str = "", **params: Any) -> RequestContext:
    return RequestContext(
        request_id="r",
        service="ec2",
        region="eucalyptus",
        http=HttpRequest("POST", "/", "", {}),
        principal=CALLER,
        params=params,
    )


def call(rt: Runtime, fn: Any, **params: Any) -> Any:
    return fn(rt, ctx(**params), params)


def error(rt: Runtime, fn: Any, **params: Any) -> str:
    with pytest.raises(ServiceError) as err:
        call(rt, fn, **params)
    return err.value.code


def instance(rt: Runtime, zone: str = "one", state: str = "running") -> str:
    iid = new_id("i")
    with rt.store.session() as s:
        s.add(
            Ec2Instance(
                id=iid, account_id=ACCOUNT, reservation_id="r-1", image_id="emi-1",
                instance_type="m1.small", cores=1, memory_mb=256, disk_gb=5,
                availability_zone=zone, state=state, node="n1",
                launch_time=dt.datetime.now(dt.UTC), state_changed_at=time.time(),
            )
        )  # fmt: skip
    return iid


def made(rt: Runtime, zone: str = "one", state: str = "available", size: int = 1) -> str:
    vid = str(call(rt, volumes.create_volume, Size=size, AvailabilityZone=zone)["VolumeId"])
    with rt.store.session() as s:
        s.get_one(Ec2Volume, vid).state = state
    return vid


def state_of(rt: Runtime, vid: str) -> str:
    with rt.store.read() as s:
        return s.get_one(Ec2Volume, vid).state


def test_create_validates_size_zone_and_snapshot(rt: Runtime) -> None:
    assert error(rt, volumes.create_volume, Size=0, AvailabilityZone="one") == (
        "InvalidParameterValue"
    )
    assert error(rt, volumes.create_volume, Size=2000, AvailabilityZone="one",
                 VolumeType="standard") == "InvalidParameterValue"  # fmt: skip
    # Beyond what the zone's storage host holds at all.
    assert error(rt, volumes.create_volume, Size=200, AvailabilityZone="two") == (
        "InvalidParameterValue"
    )
    assert error(rt, volumes.create_volume, Size=1, AvailabilityZone="three") == (
        "InvalidParameterValue"
    )
    assert error(rt, volumes.create_volume, AvailabilityZone="one") == "MissingParameter"
    assert error(rt, volumes.create_volume, Size=1, AvailabilityZone="one",
                 SnapshotId="snap-0123456789abcdef0") == "InvalidSnapshot.NotFound"  # fmt: skip
    out = call(rt, volumes.create_volume, Size=5, AvailabilityZone="two")
    assert (out["State"], out["Size"], out["VolumeType"]) == ("creating", 5, "gp2")


def test_attach_moves_volume_in_use_once(rt: Runtime) -> None:
    iid, vid = instance(rt), made(rt)
    out = call(rt, volume_attachments.attach_volume, VolumeId=vid, InstanceId=iid,
               Device="/dev/sdf")  # fmt: skip
    assert out["State"] == "attaching" and state_of(rt, vid) == "in-use"
    assert error(rt, volume_attachments.attach_volume, VolumeId=vid, InstanceId=iid,
                 Device="/dev/sdg") == "VolumeInUse"  # fmt: skip
    assert error(rt, volumes.delete_volume, VolumeId=vid) == "VolumeInUse"


def test_attach_refusals(rt: Runtime) -> None:
    iid, far = instance(rt), made(rt, zone="two")
    assert error(rt, volume_attachments.attach_volume, VolumeId=far, InstanceId=iid,
                 Device="/dev/sdf") == "InvalidVolume.ZoneMismatch"  # fmt: skip
    creating = made(rt, state="creating")
    assert error(rt, volume_attachments.attach_volume, VolumeId=creating, InstanceId=iid,
                 Device="/dev/sdf") == "IncorrectState"  # fmt: skip
    vid = made(rt)
    assert error(rt, volume_attachments.attach_volume, VolumeId=vid, InstanceId=iid,
                 Device="/dev/hda") == "InvalidParameterValue"  # fmt: skip
    assert error(rt, volume_attachments.attach_volume, VolumeId=vid,
                 InstanceId="i-0123456789abcdef0", Device="/dev/sdf") == (
        "InvalidInstanceID.NotFound")  # fmt: skip
    # A stopped instance takes volumes (as AWS); one on its way there does not.
    stopping = instance(rt, state="stopping")
    assert error(rt, volume_attachments.attach_volume, VolumeId=vid, InstanceId=stopping,
                 Device="/dev/sdf") == "IncorrectInstanceState"  # fmt: skip
    assert error(rt, volume_attachments.attach_volume, VolumeId="vol-nothex",
                 InstanceId=iid, Device="/dev/sdf") == "InvalidVolume.Malformed"  # fmt: skip


def test_attachment_limit(rt: Runtime) -> None:
    iid = instance(rt)
    for n in range(volume_attachments.MAX_ATTACHMENTS):
        call(rt, volume_attachments.attach_volume, VolumeId=made(rt), InstanceId=iid,
             Device=f"/dev/vd{chr(ord('b') + n)}")  # fmt: skip
    assert error(rt, volume_attachments.attach_volume, VolumeId=made(rt), InstanceId=iid,
                 Device="/dev/vdz") == "AttachmentLimitExceeded"  # fmt: skip


def test_detach_marks_detaching_and_checks_what_it_names(rt: Runtime) -> None:
    iid, other, vid = instance(rt), instance(rt), made(rt)
    assert error(rt, volume_attachments.detach_volume, VolumeId=vid) == "IncorrectState"
    call(rt, volume_attachments.attach_volume, VolumeId=vid, InstanceId=iid, Device="/dev/sdf")
    assert error(rt, volume_attachments.detach_volume, VolumeId=vid, InstanceId=other) == (
        "InvalidAttachment.NotFound"
    )
    out = call(rt, volume_attachments.detach_volume, VolumeId=vid, Force=True)
    assert out["State"] == "detaching"
    with rt.store.read() as s:
        assert s.get_one(Ec2VolumeAttachment, vid).force is True


def test_delete_moves_to_deleting_and_hides_nothing_yet(rt: Runtime) -> None:
    vid = made(rt)
    call(rt, volumes.delete_volume, VolumeId=vid)
    assert state_of(rt, vid) == "deleting"
    call(rt, volumes.delete_volume, VolumeId=vid)  # repeated while deleting: fine
    with rt.store.session() as s:
        s.get_one(Ec2Volume, vid).state = "deleted"
    assert error(rt, volumes.describe_volumes, VolumeIds=[vid]) == "InvalidVolume.NotFound"


def test_filters_and_modify(rt: Runtime) -> None:
    iid, a, b = instance(rt), made(rt), made(rt, size=3)
    call(rt, volume_attachments.attach_volume, VolumeId=a, InstanceId=iid, Device="/dev/sdf")
    found = call(rt, volumes.describe_volumes,
                 Filters=[{"Name": "attachment.instance-id", "Values": [iid]}])  # fmt: skip
    assert [v["VolumeId"] for v in found["Volumes"]] == [a]
    found = call(rt, volumes.describe_volumes, Filters=[{"Name": "size", "Values": ["3"]}])
    assert [v["VolumeId"] for v in found["Volumes"]] == [b]
    assert error(rt, volumes.describe_volumes, Filters=[{"Name": "bogus", "Values": ["x"]}]) == (
        "InvalidParameterValue"
    )
    assert error(rt, volumes.modify_volume, VolumeId=b, Size=2) == "InvalidParameterValue"
    mod = call(rt, volumes.modify_volume, VolumeId=b, Size=4)["VolumeModification"]
    assert (mod["ModificationState"], mod["TargetSize"]) == ("modifying", 4)
    assert error(rt, volumes.modify_volume, VolumeId=b, Size=5) == "IncorrectModificationState"


def test_resources_name_volume_and_instance_arns(rt: Runtime) -> None:
    c = ctx(VolumeId="vol-0123456789abcdef0", InstanceId="i-0123456789abcdef0")

    class Op:
        name = "AttachVolume"

    c.operation = Op()  # type: ignore[assignment]
    assert volume_attachments.resources(rt.store, c) == [
        f"arn:aws:ec2:eucalyptus:{ACCOUNT}:instance/i-0123456789abcdef0",
        f"arn:aws:ec2:eucalyptus:{ACCOUNT}:volume/vol-0123456789abcdef0",
    ]
    Op.name = "DescribeVolumes"
    assert volume_attachments.resources(rt.store, c) is None


def test_detach_authorizes_the_instance_it_is_attached_to_even_unnamed(rt: Runtime) -> None:
    """AWS authorizes DetachVolume on the instance too: leaving out InstanceId must not skip
    a policy that protects the instance."""
    vid, iid = made(rt), instance(rt)
    call(rt, volume_attachments.attach_volume, VolumeId=vid, InstanceId=iid, Device="/dev/sdf")
    c = ctx(VolumeId=vid)
    c.operation = type("Op", (), {"name": "DetachVolume"})()  # type: ignore[assignment]
    assert volume_attachments.resources(rt.store, c) == [
        f"arn:aws:ec2:eucalyptus:{ACCOUNT}:instance/{iid}",
        f"arn:aws:ec2:eucalyptus:{ACCOUNT}:volume/{vid}",
    ]
    alone = ctx(VolumeId=made(rt))
    alone.operation = c.operation
    assert volume_attachments.resources(rt.store, alone) == [
        f"arn:aws:ec2:eucalyptus:{ACCOUNT}:volume/{alone.params['VolumeId']}"
    ]
