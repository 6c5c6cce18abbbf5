"""The rows an import request writes: its task, and the volume or snapshot the task fills.

Every column is given at construction (not left to the INSERT's defaults) because the answer
to the request is built from the objects before they are read back.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from mallee.store.tables.ebs import Ec2Snapshot, Ec2Volume
from mallee.store.tables.imports import Ec2ImportTask

# How long a task may wait for its parts, as AWS's conversion tasks show it (ExpirationTime).
EXPIRES = dt.timedelta(days=30)

_TASK_DEFAULTS: dict[str, Any] = {
    "state": "active",
    "status_message": "Pending",
    "step": "",
    "progress": 0,
    "bytes_converted": 0,
    "description": "",
    "availability_zone": "",
    "storage_host": "",
    "client_token": "",
    "volume_id": "",
    "volume_size_gib": 0,
    "snapshot_id": "",
    "instance_id": "",
    "image_id": "",
    "platform": "",
    "architecture": "",
    "details": "{}",
}


def marker(task_id: str) -> str:
    """The storage_host of a volume an import fills: no agent makes it an empty volume."""
    return f"import:{task_id}"


def new_task(
    task_id: str,
    account: str,
    kind: str,
    *,
    created: dt.datetime,
    image_format: str,
    image_bytes: int,
    source_url: str,
    parts: str,
    **made: Any,
) -> Ec2ImportTask:
    """An `active` task of `kind`; `made` sets what differs from an empty task (the volume or
    snapshot it fills, its zone, description, client token, details...)."""
    unknown = set(made) - set(_TASK_DEFAULTS)
    if unknown:
        raise TypeError(f"not columns of an import task: {sorted(unknown)}")
    return Ec2ImportTask(
        id=task_id,
        account_id=account,
        kind=kind,
        created_at=created,
        expires_at=created + EXPIRES,
        image_format=image_format,
        image_bytes=image_bytes,
        source_url=source_url,
        parts=parts,
        **{**_TASK_DEFAULTS, **made},
    )


def converting_volume(
    volume_id: str, account: str, zone: str, size_gib: int, task_id: str, created: dt.datetime
) -> Ec2Volume:
    """The volume an ImportVolume/ImportInstance fills: `creating` until its task completes."""
    return Ec2Volume(
        id=volume_id,
        account_id=account,
        availability_zone=zone,
        size_gib=size_gib,
        volume_type="standard",
        snapshot_id="",
        state="creating",
        created_at=created,
        storage_host=marker(task_id),
        auto_enable_io=False,
        io_enabled=True,
        status_message="",
    )


def converting_snapshot(
    snapshot_id: str,
    account: str,
    *,
    volume_id: str,
    size_gib: int,
    description: str,
    created: dt.datetime,
) -> Ec2Snapshot:
    """The snapshot an import fills: `pending` with no storage host, so no agent takes it as
    an attached volume's snapshot and none fails it as a dead host's; its task's agent fills
    it."""
    return Ec2Snapshot(
        id=snapshot_id,
        account_id=account,
        volume_id=volume_id,
        volume_size_gib=size_gib,
        description=description,
        state="pending",
        progress=0,
        started_at=created,
        storage_host="",
        status_message="",
        is_public=False,
        data_bytes=0,
    )
