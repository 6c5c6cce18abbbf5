"""The snapshot operations on rows (no agent runs: tests complete snapshots as it would)."""

# The volume tests' `rt` fixture is imported, so every test parameter named so redefines it.
# ruff: noqa: F811

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

import pytest

from mallee.api.context import RequestContext
from mallee.api.errors import ServiceError
from mallee.objectstore.backends.fs import FsBackend
from mallee.services.base import Runtime
from mallee.services.ec2 import snapshots, volumes
from mallee.store.tables.ebs import Ec2Snapshot, Ec2SnapshotChunk, Ec2Volume
from mallee.store.tables.iam import IamAccount
from tests.unit.services.ec2.test_volumes import ACCOUNT, CALLER, made, rt  # noqa: F401
from tests.unit.services.ec2.test_volumes import ctx as volume_ctx

OTHER = "210987654321"


def ctx(account: str = ACCOUNT, **params: Any) -> RequestContext:
    base = volume_ctx(**params)
    principal = dataclasses.replace(
        CALLER, account_id=account, arn=f"arn:aws:iam::{account}:root", user_id=account
    )
    return dataclasses.replace(base, principal=principal)


def call(rt: Runtime, fn: Any, account: str = ACCOUNT, **params: Any) -> Any:
    return fn(rt, ctx(account, **params), params)


def error(rt: Runtime, fn: Any, account: str = ACCOUNT, **params: Any) -> str:
    with pytest.raises(ServiceError) as err:
        call(rt, fn, account, **params)
    return err.value.code


@pytest.fixture
def other(rt: Runtime) -> str:
    with rt.store.session() as s:
        s.add(IamAccount(id=OTHER, name="other", created_at=dt.datetime.now(dt.UTC)))
    return OTHER


def snapshot(rt: Runtime, volume_id: str | None = None, **extra: Any) -> str:
    volume_id = volume_id or made(rt)
    return str(call(rt, snapshots.create_snapshot, VolumeId=volume_id, **extra)["SnapshotId"])


def complete(rt: Runtime, snapshot_id: str, chunks: dict[int, bytes]) -> list[str]:
    """What the storage agent does: each chunk a blob, then completed. Returns the blob ids."""
    backend = FsBackend(rt.settings.data_dir / "objects")
    blobs = []
    with rt.store.session() as s:
        for offset, data in chunks.items():
            blob = backend.put([data])
            blobs.append(blob.blob_id)
            s.add(
                Ec2SnapshotChunk(
                    snapshot_id=snapshot_id, offset=offset, length=len(data), blob_id=blob.blob_id
                )
            )
        row = s.get_one(Ec2Snapshot, snapshot_id)
        row.state, row.progress = "completed", 100
    return blobs


def blob_exists(rt: Runtime, blob_id: str) -> bool:
    snapshots._JANITOR.submit(lambda: None).result()  # the frees submitted before this one
    return any((rt.settings.data_dir / "objects").rglob(blob_id))


def test_create_is_pending_with_aws_fields(rt: Runtime) -> None:
    vid = made(rt, size=3)
    out = call(
        rt,
        snapshots.create_snapshot,
        VolumeId=vid,
        Description="nightly",
        TagSpecifications=[{"ResourceType": "snapshot", "Tags": [{"Key": "k", "Value": "v"}]}],
    )
    assert (out["State"], out["Progress"], out["VolumeSize"], out["OwnerId"]) == (
        "pending",
        "0%",
        3,
        ACCOUNT,
    )
    assert out["Description"] == "nightly" and out["Tags"] == [{"Key": "k", "Value": "v"}]
    assert out["SnapshotId"].startswith("snap-") and out["VolumeId"] == vid


def test_create_of_an_attached_volume_and_the_states_it_refuses(rt: Runtime) -> None:
    assert snapshot(rt, made(rt, state="in-use"))
    assert error(rt, snapshots.create_snapshot, VolumeId=made(rt, state="creating")) == (
        "IncorrectState"
    )
    assert error(rt, snapshots.create_snapshot, VolumeId="vol-12345678") == (
        "InvalidVolume.NotFound"
    )
    assert error(rt, snapshots.create_snapshot, VolumeId="nope") == "InvalidVolume.Malformed"


def test_describe_by_id_owner_status_volume_and_tag(rt: Runtime) -> None:
    vid = made(rt)
    first = snapshot(rt, vid)
    second = snapshot(
        rt, TagSpecifications=[{"ResourceType": "snapshot", "Tags": [{"Key": "n", "Value": "2"}]}]
    )
    complete(rt, first, {})

    def ids(**params: Any) -> list[str]:
        return [
            x["SnapshotId"] for x in call(rt, snapshots.describe_snapshots, **params)["Snapshots"]
        ]

    assert sorted(ids()) == sorted([first, second])
    assert sorted(ids(OwnerIds=["self"])) == sorted([first, second])
    assert ids(OwnerIds=[OTHER]) == []
    assert ids(SnapshotIds=[first]) == [first]
    assert ids(Filters=[{"Name": "status", "Values": ["completed"]}]) == [first]
    assert ids(Filters=[{"Name": "volume-id", "Values": [vid]}]) == [first]
    assert ids(Filters=[{"Name": "tag:n", "Values": ["2"]}]) == [second]
    assert ids(Filters=[{"Name": "progress", "Values": ["100%"]}]) == [first]
    assert error(rt, snapshots.describe_snapshots, SnapshotIds=["snap-12345678"]) == (
        "InvalidSnapshot.NotFound"
    )
    assert error(
        rt, snapshots.describe_snapshots, Filters=[{"Name": "bogus", "Values": ["x"]}]
    ) == ("InvalidParameterValue")


def test_describe_pages(rt: Runtime) -> None:
    vid = made(rt)
    made_ids = sorted(snapshot(rt, vid) for _ in range(7))
    seen: list[str] = []
    token = None
    while True:
        params: dict[str, Any] = {"MaxResults": 5}
        if token:
            params["NextToken"] = token
        out = call(rt, snapshots.describe_snapshots, **params)
        seen += [x["SnapshotId"] for x in out["Snapshots"]]
        token = out.get("NextToken")
        if not token:
            break
    assert seen == made_ids
    assert error(rt, snapshots.describe_snapshots, MaxResults=2) == "InvalidParameterValue"


def test_sharing_by_account_and_with_all(rt: Runtime, other: str) -> None:
    snap = snapshot(rt, made(rt, size=2))
    complete(rt, snap, {0: b"x" * 512})
    assert error(rt, snapshots.describe_snapshots, other, SnapshotIds=[snap]) == (
        "InvalidSnapshot.NotFound"
    )
    call(
        rt,
        snapshots.modify_snapshot_attribute,
        SnapshotId=snap,
        Attribute="createVolumePermission",
        OperationType="add",
        UserIds=[other],
    )
    perms = call(
        rt,
        snapshots.describe_snapshot_attribute,
        SnapshotId=snap,
        Attribute="createVolumePermission",
    )
    assert perms["CreateVolumePermissions"] == [{"UserId": other}]
    seen = call(rt, snapshots.describe_snapshots, other, RestorableByUserIds=["self"])
    assert [x["SnapshotId"] for x in seen["Snapshots"]] == [snap]
    # The account it is shared with may use it, not change it.
    vol = call(rt, volumes.create_volume, other, SnapshotId=snap, AvailabilityZone="one")
    assert (vol["Size"], vol["SnapshotId"]) == (2, snap)
    assert error(rt, snapshots.delete_snapshot, other, SnapshotId=snap) == "AuthFailure"
    assert error(rt, snapshots.copy_snapshot, other, SourceSnapshotId="snap-12345678") == (
        "InvalidSnapshot.NotFound"
    )
    call(
        rt,
        snapshots.modify_snapshot_attribute,
        SnapshotId=snap,
        CreateVolumePermission={"Add": [{"Group": "all"}], "Remove": [{"UserId": other}]},
    )
    perms = call(
        rt,
        snapshots.describe_snapshot_attribute,
        SnapshotId=snap,
        Attribute="createVolumePermission",
    )
    assert perms["CreateVolumePermissions"] == [{"Group": "all"}]
    seen = call(rt, snapshots.describe_snapshots, other, RestorableByUserIds=["all"])
    assert [x["SnapshotId"] for x in seen["Snapshots"]] == [snap]
    call(
        rt, snapshots.reset_snapshot_attribute, SnapshotId=snap, Attribute="createVolumePermission"
    )
    assert call(rt, snapshots.describe_snapshots, other)["Snapshots"] == []
    assert error(
        rt,
        snapshots.modify_snapshot_attribute,
        SnapshotId=snap,
        OperationType="add",
        GroupNames=["friends"],
    ) == ("InvalidParameterValue")
    assert error(
        rt, snapshots.modify_snapshot_attribute, SnapshotId=snap, OperationType="add", UserIds=["x"]
    ) == ("InvalidUserID.Malformed")


def test_create_volume_from_a_snapshot(rt: Runtime) -> None:
    snap = snapshot(rt, made(rt, size=4))
    assert error(rt, volumes.create_volume, SnapshotId=snap, AvailabilityZone="one") == (
        "IncorrectState"
    )
    complete(rt, snap, {})
    assert error(rt, volumes.create_volume, SnapshotId=snap, Size=3, AvailabilityZone="one") == (
        "InvalidParameterValue"
    )
    assert error(rt, volumes.create_volume, SnapshotId="snap-12345678", AvailabilityZone="one") == (
        "InvalidSnapshot.NotFound"
    )
    bigger = call(rt, volumes.create_volume, SnapshotId=snap, Size=6, AvailabilityZone="two")
    assert (bigger["Size"], bigger["SnapshotId"], bigger["State"]) == (6, snap, "creating")
    # While a volume is being made of it, its data must stay.
    assert error(rt, snapshots.delete_snapshot, SnapshotId=snap) == "InvalidSnapshot.InUse"
    with rt.store.session() as s:
        s.get_one(Ec2Volume, bigger["VolumeId"]).state = "available"
    call(rt, snapshots.delete_snapshot, SnapshotId=snap)


def test_copy_shares_chunks_and_a_blob_is_freed_with_its_last_snapshot(rt: Runtime) -> None:
    snap = snapshot(rt, Description="base")
    blobs = complete(rt, snap, {0: b"a" * 100, 4 << 20: b"b" * 100})
    copy = call(rt, snapshots.copy_snapshot, SourceSnapshotId=snap, SourceRegion="eucalyptus")
    copied = call(rt, snapshots.describe_snapshots, SnapshotIds=[copy["SnapshotId"]])["Snapshots"]
    assert copied[0]["State"] == "completed" and copied[0]["Progress"] == "100%"
    assert "base" in copied[0]["Description"]
    with rt.store.read() as s:
        shared = s.query(Ec2SnapshotChunk).filter_by(snapshot_id=copy["SnapshotId"]).all()
        assert sorted(c.blob_id for c in shared) == sorted(blobs)
    call(rt, snapshots.delete_snapshot, SnapshotId=snap)
    assert all(blob_exists(rt, b) for b in blobs)
    assert error(rt, snapshots.describe_snapshots, SnapshotIds=[snap]) == (
        "InvalidSnapshot.NotFound"
    )
    call(rt, snapshots.delete_snapshot, SnapshotId=copy["SnapshotId"])
    assert not any(blob_exists(rt, b) for b in blobs)
    assert error(rt, snapshots.copy_snapshot, SourceSnapshotId=snap) == "InvalidSnapshot.NotFound"
    other_region = snapshot(rt)
    assert error(
        rt, snapshots.copy_snapshot, SourceSnapshotId=other_region, SourceRegion="elsewhere"
    ) == ("InvalidParameterValue")
    assert error(rt, snapshots.copy_snapshot, SourceSnapshotId=other_region) == "IncorrectState"


def test_attributes_refuse_unknown_names(rt: Runtime) -> None:
    snap = snapshot(rt)
    assert error(rt, snapshots.describe_snapshot_attribute, SnapshotId=snap, Attribute="x") == (
        "InvalidParameterValue"
    )
    out = call(rt, snapshots.describe_snapshot_attribute, SnapshotId=snap, Attribute="productCodes")
    assert out == {"SnapshotId": snap, "ProductCodes": []}


def test_resources_are_snapshot_arns(rt: Runtime) -> None:
    def arns(operation: str, **params: Any) -> list[str] | None:
        c = ctx(ACCOUNT, **params)
        c.operation = type("Op", (), {"name": operation})()  # type: ignore[assignment]
        return snapshots.resources(c)

    assert arns("DeleteSnapshot", SnapshotId="snap-1") == [
        "arn:aws:ec2:eucalyptus::snapshot/snap-1"
    ]
    assert arns("CreateSnapshot", VolumeId="vol-1") == [
        "arn:aws:ec2:eucalyptus::snapshot/*",
        f"arn:aws:ec2:eucalyptus:{ACCOUNT}:volume/vol-1",
    ]
    assert arns("CreateVolume", SnapshotId="snap-2") == [
        f"arn:aws:ec2:eucalyptus:{ACCOUNT}:volume/*",
        "arn:aws:ec2:eucalyptus::snapshot/snap-2",
    ]
    assert arns("CopySnapshot", SourceSnapshotId="snap-3") == [
        "arn:aws:ec2:eucalyptus::snapshot/*",
        "arn:aws:ec2:eucalyptus::snapshot/snap-3",
    ]
    assert arns("CreateVolume") is None and arns("DescribeSnapshots") is None


def test_another_accounts_image_does_not_keep_the_owner_from_deleting(
    rt: Runtime, other: str
) -> None:
    """A snapshot shared with everyone may be named in anyone's image mapping; only the
    owner's own images hold it (InvalidSnapshot.InUse), never another account's."""
    import json

    from mallee.services.ec2.images import new_row

    snap = snapshot(rt)
    theirs = new_row(other, "pins-it", "machine")
    theirs.block_device_mappings = json.dumps(
        [{"DeviceName": "/dev/sdb", "Ebs": {"SnapshotId": snap}}]
    )
    mine = new_row(ACCOUNT, "uses-it", "machine")
    mine.block_device_mappings = theirs.block_device_mappings
    with rt.store.session() as s:
        s.add_all([theirs, mine])
    assert error(rt, snapshots.delete_snapshot, SnapshotId=snap) == "InvalidSnapshot.InUse"
    with rt.store.session() as s:
        s.delete(s.get(type(mine), mine.id))
    call(rt, snapshots.delete_snapshot, SnapshotId=snap)


def test_whom_another_account_shares_with_is_not_told(rt: Runtime, other: str) -> None:
    """B, shared a snapshot of A's with C, cannot learn through RestorableByUserIds that C has
    it too; A, the owner, can."""
    third = "333333333333"
    with rt.store.session() as s:
        s.add(IamAccount(id=third, name="third", created_at=dt.datetime.now(dt.UTC)))
    snap = snapshot(rt)
    call(
        rt,
        snapshots.modify_snapshot_attribute,
        SnapshotId=snap,
        Attribute="createVolumePermission",
        OperationType="add",
        UserIds=[other, third],
    )

    def restorable_by(caller: str, who: str) -> list[str]:
        found = call(rt, snapshots.describe_snapshots, caller, RestorableByUserIds=[who])
        return [x["SnapshotId"] for x in found["Snapshots"]]

    assert restorable_by(other, third) == []
    assert restorable_by(other, other) == [snap]
    assert restorable_by(ACCOUNT, third) == [snap]
