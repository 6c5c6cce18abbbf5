"""Who sees and uses a snapshot: its owner, the accounts its createVolumePermission names, and
everyone when it names the group "all". Shared by the snapshot operations and CreateVolume."""

from __future__ import annotations

from sqlalchemy import ColumnElement, exists, or_
from sqlalchemy.orm import Session

from mallee.ids import is_id
from mallee.services.ec2 import errors
from mallee.store.tables.ebs import Ec2Snapshot, Ec2SnapshotPermission


def snapshot_arn(region: str, snapshot_id: str) -> str:
    # AWS's snapshot ARNs name no account.
    return f"arn:aws:ec2:{region}::snapshot/{snapshot_id}"


def restorable_by(account: str) -> ColumnElement[bool]:
    """The snapshots `account` may see and make volumes from."""
    p = Ec2SnapshotPermission
    return or_(
        Ec2Snapshot.account_id == account,
        Ec2Snapshot.is_public.is_(True),
        exists().where(p.snapshot_id == Ec2Snapshot.id, p.account_id == account),
    )


def may_use(s: Session, snapshot: Ec2Snapshot, account: str) -> bool:
    if snapshot.account_id == account or snapshot.is_public:
        return True
    return s.get(Ec2SnapshotPermission, (snapshot.id, account)) is not None


def check_snapshot_id(snapshot_id: str) -> None:
    if not snapshot_id:
        raise errors.missing("SnapshotId")
    if not is_id(snapshot_id, "snap"):
        raise errors.malformed("snapshot", snapshot_id, "snap")


def usable_snapshot(
    s: Session, account: str, snapshot_id: str, *, lock: bool = False
) -> Ec2Snapshot:
    """A snapshot the account may use (its own or shared with it); NotFound otherwise. `lock`
    holds its row until the transaction ends, so a DeleteSnapshot waits for this one."""
    check_snapshot_id(snapshot_id)
    row = s.get(Ec2Snapshot, snapshot_id, with_for_update=lock)
    if row is None or not may_use(s, row, account):
        raise errors.not_found("snapshot", snapshot_id)
    return row


def owned_snapshot(s: Session, account: str, snapshot_id: str) -> Ec2Snapshot:
    """The account's own snapshot; AuthFailure for one only shared with it."""
    row = usable_snapshot(s, account, snapshot_id)
    if row.account_id != account:
        raise errors.auth_failure(f"Not authorized for snapshot:{snapshot_id}")
    return row
