"""Image import: conversion tasks (ImportVolume, ImportInstance) and import tasks (ImportSnapshot,
ImportImage), one row each, in one table.

The api writes a task `active` with what it is to convert (the source objects, pinned by ETag,
were readable by the caller when it asked) and the resource it makes: a volume `creating`
whose `storage_host` names the task ("import:<task id>", so no agent makes it an empty volume),
or a snapshot `pending` with no storage host (so no agent takes it as a volume's snapshot).
A storage agent claims the task (its `storage_host`, a conditional UPDATE from ""), converts
the image with qemu-img, and in one transaction makes the resource available/completed and the
task completed. A failure, or a
cancel, ends the task `cancelled` with a StatusMessage and deletes what it made.

state: active -> completed | cancelling (CancelConversionTask/CancelImportTask of a claimed
task: its agent lets go) -> cancelled. Import tasks show these as AWS's Status words
(active, completed, deleting, deleted).

Phase 2 (ImportInstance, ImportImage) uses the same row: `step` records how far a multi-step
task got (converting -> snapshotting -> registering -> launching), `instance_id`/`image_id`
what it made, `details` (JSON) the launch specification or the disk containers.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, DateTime, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from mallee.store.db import Base


class Ec2ImportTask(Base):
    __tablename__ = "ec2_import_tasks"
    __table_args__ = (
        Index("ix_ec2_import_tasks_account_kind", "account_id", "kind"),
        # The storage agents' tick: active tasks unclaimed or theirs.
        Index("ix_ec2_import_tasks_state_host", "state", "storage_host"),
    )

    # import-vol-..., import-i-..., import-snap-..., import-ami-...
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    account_id: Mapped[str] = mapped_column(
        String(12), ForeignKey("iam_accounts.id", ondelete="CASCADE")
    )
    # import-volume | import-instance | import-snapshot | import-image
    kind: Mapped[str] = mapped_column(String(16))
    # active | cancelling | cancelled | completed
    state: Mapped[str] = mapped_column(String(16), default="active")
    status_message: Mapped[str] = mapped_column(String(1024), default="")
    # Phase 2's sub-steps of a task (""; converting, snapshotting, registering, launching).
    step: Mapped[str] = mapped_column(String(32), default="")
    progress: Mapped[int] = mapped_column(Integer, default=0)
    bytes_converted: Mapped[int] = mapped_column(BigInteger, default=0)
    description: Mapped[str] = mapped_column(String(255), default="")
    # The zone the volume is made in ("" for a snapshot: any storage agent may convert it).
    availability_zone: Mapped[str] = mapped_column(String(64), default="")
    # The storage agent converting it; "" until one claims it.
    storage_host: Mapped[str] = mapped_column(String(255), default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    client_token: Mapped[str] = mapped_column(String(64), default="")
    # The source: RAW | VMDK | VHD | QCOW2, its size in bytes, the manifest URL or the object's
    # URL as the caller gave it, and `parts` (JSON: [{bucket, key, etag, start, end}]) in order.
    image_format: Mapped[str] = mapped_column(String(8))
    image_bytes: Mapped[int] = mapped_column(BigInteger, default=0)
    source_url: Mapped[str] = mapped_column(Text, default="")
    parts: Mapped[str] = mapped_column(Text, default="[]")
    # What it makes (its rows may be gone since).
    volume_id: Mapped[str] = mapped_column(String(32), default="")
    volume_size_gib: Mapped[int] = mapped_column(Integer, default=0)
    snapshot_id: Mapped[str] = mapped_column(String(32), default="")
    # Phase 2.
    instance_id: Mapped[str] = mapped_column(String(32), default="")
    image_id: Mapped[str] = mapped_column(String(32), default="")
    platform: Mapped[str] = mapped_column(String(16), default="")
    architecture: Mapped[str] = mapped_column(String(16), default="")
    details: Mapped[str] = mapped_column(Text, default="{}")
