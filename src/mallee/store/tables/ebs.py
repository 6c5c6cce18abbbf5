"""EBS: volumes, their attachments, their modifications, and the storage hosts serving them.

The rows are the desired and the observed state at once, like instances: the api writes what a
caller asks (a volume `creating` or `deleting`, an attachment `attaching` or `detaching`), the
storage agent and the node agent carry it out and move the rows on, each move a conditional
UPDATE from the state it expects, so a process killed at any moment repeats nothing and loses
nothing.

- volume: creating -> available (the storage agent made its file) -> in-use (AttachVolume, in
  the same transaction as the attachment row) -> available (the node unplugged it) ->
  deleting -> deleted (the storage agent removed the file); error when its file cannot be made.
- attachment: attaching -> attached (the node plugged it into the VM) -> detaching -> the row
  is gone (the node unplugged it). The storage agent exports a volume while it has a row here.
"""

from __future__ import annotations

import secrets
from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    update,
)
from sqlalchemy.orm import Mapped, Session, mapped_column

from mallee.store.db import Base


class Ec2Volume(Base):
    __tablename__ = "ec2_volumes"
    __table_args__ = (
        Index("ix_ec2_volumes_account_state", "account_id", "state"),
        # The storage agent's tick: the volumes of its zone waiting for it.
        Index("ix_ec2_volumes_zone_state", "availability_zone", "state"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    account_id: Mapped[str] = mapped_column(
        String(12), ForeignKey("iam_accounts.id", ondelete="CASCADE")
    )
    availability_zone: Mapped[str] = mapped_column(String(64))
    size_gib: Mapped[int] = mapped_column(Integer)
    volume_type: Mapped[str] = mapped_column(String(16), default="standard")
    snapshot_id: Mapped[str] = mapped_column(String(32), default="")
    # creating | available | in-use | deleting | deleted | error
    state: Mapped[str] = mapped_column(String(16), default="creating")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    # The storage host (its service name) that holds the volume's data; "" until one claims it.
    storage_host: Mapped[str] = mapped_column(String(255), default="")
    # The backend the volume's data was made on (`<zone>.storage.blockstoragemanager` when its
    # storage host claimed it: overlay | ceph-rbd), "" until then; later changes of the property
    # leave it as it is. ceph-rbd: `backend_pool` is the pool of its image (named after it).
    backend: Mapped[str] = mapped_column(String(16), default="")
    backend_pool: Mapped[str] = mapped_column(String(128), default="")
    # DescribeVolumeAttribute/ModifyVolumeAttribute autoEnableIO, and whether I/O is enabled
    # (EnableVolumeIO; a volume whose I/O was suspended for an inconsistency would be off).
    auto_enable_io: Mapped[bool] = mapped_column(Boolean, default=False)
    io_enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    # Why a volume is in `error` (what the storage agent met).
    status_message: Mapped[str] = mapped_column(String(1024), default="")
    # When it reached deleted: purged after a while, like terminated instances.
    deleted_at: Mapped[float | None] = mapped_column(Float, nullable=True, default=None)


class Ec2VolumeAttachment(Base):
    """One volume's attachment (a volume has at most one: the key is the volume)."""

    __tablename__ = "ec2_volume_attachments"

    volume_id: Mapped[str] = mapped_column(
        String(32), ForeignKey("ec2_volumes.id", ondelete="CASCADE"), primary_key=True
    )
    instance_id: Mapped[str] = mapped_column(String(32), index=True)
    device: Mapped[str] = mapped_column(String(32))
    # attaching | attached | detaching
    state: Mapped[str] = mapped_column(String(16), default="attaching")
    delete_on_termination: Mapped[bool] = mapped_column(Boolean, default=False)
    attached_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    # DetachVolume Force: the node does not wait for the guest to let go.
    force: Mapped[bool] = mapped_column(Boolean, default=False)
    # Set by the storage agent once the volume is exported: the node plugs it in only then.
    exported: Mapped[bool] = mapped_column(Boolean, default=False)
    # New for every attachment, part of its NBD export's name (nbd_export_name): the NBD client
    # of an earlier attachment (a node gone silent, reconnecting) finds no export of that name
    # once the volume is exported for another. "" on rows older than the column.
    export_tag: Mapped[str] = mapped_column(
        String(16), default=lambda: secrets.token_hex(4), server_default=""
    )


def nbd_export_name(volume_id: str, export_tag: str) -> str:
    """The NBD export (and its id in the storage daemon) serving one attachment."""
    return f"{volume_id}.{export_tag}" if export_tag else volume_id


def export_volume(export: str) -> str:
    """The volume an export name serves."""
    return export.partition(".")[0]


def unready_volumes(s: Session, instance_id: str) -> None:
    """The instance stopped: its volumes are not ready for a VM until the storage agent
    serves them again for its next start. Cleared in the transaction that stops it, so a
    quick StartInstances never finds a stale `exported` while the agent, having seen it
    stopped, withdraws the export."""
    s.execute(
        update(Ec2VolumeAttachment)
        .where(Ec2VolumeAttachment.instance_id == instance_id)
        .values(exported=False)
    )


class Ec2VolumeModification(Base):
    """The latest ModifyVolume of a volume (DescribeVolumesModifications)."""

    __tablename__ = "ec2_volume_modifications"

    volume_id: Mapped[str] = mapped_column(
        String(32), ForeignKey("ec2_volumes.id", ondelete="CASCADE"), primary_key=True
    )
    # modifying | optimizing | completed | failed
    state: Mapped[str] = mapped_column(String(16))
    original_size: Mapped[int] = mapped_column(Integer)
    target_size: Mapped[int] = mapped_column(Integer)
    original_type: Mapped[str] = mapped_column(String(16))
    target_type: Mapped[str] = mapped_column(String(16))
    progress: Mapped[int] = mapped_column(Integer, default=0)
    status_message: Mapped[str] = mapped_column(String(1024), default="")
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    ended_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class StorageHost(Base):
    """A storage agent's export endpoint, written by the agent on every report.

    Its identity, admin state and liveness are its row in `services` (type `storage`); this is
    where nodes find its NBD server.
    """

    __tablename__ = "storage_hosts"

    name: Mapped[str] = mapped_column(String(255), primary_key=True)
    zone: Mapped[str] = mapped_column(String(64), index=True)
    # The host it runs on (a node on the same host reaches the socket).
    host: Mapped[str] = mapped_column(String(255))
    # The NBD server's unix socket: a socket file, unlike a loopback port, is reachable from
    # the nodes' network namespaces and guarded by the data directory's permissions.
    nbd_socket: Mapped[str] = mapped_column(String(1024), default="")
    capacity_bytes: Mapped[int] = mapped_column(BigInteger, default=0)
    reported_at: Mapped[float] = mapped_column(Float)


class Ec2Snapshot(Base):
    """An EBS snapshot: its data is chunks in the object store (Ec2SnapshotChunk), so it
    outlives the storage host that took it.

    pending (the storage agent of the volume's host copies the volume's allocated extents,
    `progress` rising as chunks land) -> completed | error. A copy (CopySnapshot) is made
    completed at once, sharing its source's chunks (blobs are immutable). DeleteSnapshot
    removes the row and its chunks in one transaction, then frees the blobs no other snapshot
    references.
    """

    __tablename__ = "ec2_snapshots"
    __table_args__ = (
        Index("ix_ec2_snapshots_account", "account_id"),
        # The storage agent's tick: pending snapshots of its host.
        Index("ix_ec2_snapshots_host_state", "storage_host", "state"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    account_id: Mapped[str] = mapped_column(
        String(12), ForeignKey("iam_accounts.id", ondelete="CASCADE")
    )
    # The volume it was taken of (its row may be gone since), and that volume's size.
    volume_id: Mapped[str] = mapped_column(String(32))
    volume_size_gib: Mapped[int] = mapped_column(Integer)
    description: Mapped[str] = mapped_column(String(255), default="")
    # pending | completed | error
    state: Mapped[str] = mapped_column(String(16), default="pending")
    progress: Mapped[int] = mapped_column(Integer, default=0)
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    # The storage host that takes it (the volume's), "" for a copy.
    storage_host: Mapped[str] = mapped_column(String(255), default="")
    status_message: Mapped[str] = mapped_column(String(1024), default="")
    # createVolumePermission's "all" group.
    is_public: Mapped[bool] = mapped_column(Boolean, default=False)
    # Bytes of data held (the allocated extents copied), for the quota issue.
    data_bytes: Mapped[int] = mapped_column(BigInteger, default=0)


class Ec2SnapshotChunk(Base):
    """One piece of a snapshot's data: the bytes at `offset` of the volume are blob `blob_id`
    (`length` bytes). Offsets missing from a snapshot's chunks read as zeros."""

    __tablename__ = "ec2_snapshot_chunks"

    snapshot_id: Mapped[str] = mapped_column(
        String(32), ForeignKey("ec2_snapshots.id", ondelete="CASCADE"), primary_key=True
    )
    offset: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    length: Mapped[int] = mapped_column(Integer)
    # Several snapshots (copies) may share a blob: it is freed when no row names it.
    blob_id: Mapped[str] = mapped_column(String(64), index=True)


class Ec2SnapshotPermission(Base):
    """createVolumePermission: an account (besides the owner) that may use the snapshot."""

    __tablename__ = "ec2_snapshot_permissions"

    snapshot_id: Mapped[str] = mapped_column(
        String(32), ForeignKey("ec2_snapshots.id", ondelete="CASCADE"), primary_key=True
    )
    account_id: Mapped[str] = mapped_column(String(12), primary_key=True, index=True)


class EbsUsage(Base):
    """What an account's volumes hold (every volume not yet `deleted`): their number and GiB.

    Kept by database triggers on ec2_volumes (migration e1b5b00703ef), never by code, as
    node_usage is: a quota on volumes reads this one row instead of summing them.
    """

    __tablename__ = "ebs_usage"

    # No foreign key: the triggers of an account's volumes, deleted with it, still write here.
    account_id: Mapped[str] = mapped_column(String(12), primary_key=True)
    volumes: Mapped[int] = mapped_column(Integer, default=0)
    volume_gib: Mapped[int] = mapped_column(BigInteger, default=0)


class EbsReleasedVolume(Base):
    """A volume whose row was deleted while it still had a file on its storage host (its
    account was deleted: the rows cascade away). Written by a trigger on ec2_volumes (migration
    e1b5b00703ef) in that very transaction; the host's agent deletes the file, then the row.
    Snapshot chunks cascade away with their account too: their blobs, named by no row any
    more, go with the storage agents' orphan sweep (mallee.storage.upkeep)."""

    __tablename__ = "ebs_released_volumes"

    volume_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    storage_host: Mapped[str] = mapped_column(String(255), index=True)
