"""Conversion tasks: ImportVolume, DescribeConversionTasks, CancelConversionTask.

ImportVolume reads the caller's import manifest (as the caller: import_sources), checks every
part it names is readable, and writes the volume `creating` and the task `active` in one
transaction; the storage agent of the zone converts the parts into the volume
(mallee.storage.imports). The volume's `storage_host` names the task until then, so no agent
makes it an empty volume. ImportInstance (phase 2) shares the task rows.
"""

from __future__ import annotations

import datetime as dt
import re
import secrets
import string
import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from mallee.api.context import RequestContext
from mallee.ids import new_id
from mallee.registry.components import derive_state
from mallee.services.base import Operations, Params, Result, Runtime
from mallee.services.ec2 import errors
from mallee.services.ec2.import_rows import converting_volume, marker, new_task
from mallee.services.ec2.import_sources import (
    Part,
    head,
    image_format,
    object_location,
    parse_manifest,
    parts_json,
    read_manifest,
)
from mallee.services.ec2.tags import delete_all_tags
from mallee.services.ec2.volumes import _check_capacity, check_storage, now, rows_changed, zones
from mallee.store.tables.ebs import Ec2Snapshot, Ec2Volume
from mallee.store.tables.imports import Ec2ImportTask
from mallee.store.tables.registry import ServiceRow

MAX_VOLUME_GIB = 1024
_ALNUM = string.ascii_lowercase + string.digits
_TASK_ID = re.compile(r"import-(?:i|vol|snap|ami)-(?:[a-z0-9]{8}|[0-9a-f]{17})")
KINDS = {"import-volume": "import-vol", "import-instance": "import-i"}
# AWS's quota of import tasks an account may have active at once in a region (each holds a
# conversion slot of a storage agent while it runs).
ACTIVE_TASKS = 20


def new_task_id(prefix: str) -> str:
    return f"{prefix}-" + "".join(secrets.choice(_ALNUM) for _ in range(8))


def check_import_room(s: Session, account: str) -> None:
    """ResourceCountLimitExceeded while the account has ACTIVE_TASKS tasks not ended."""
    t = Ec2ImportTask
    active = s.scalar(
        select(func.count())
        .select_from(t)
        .where(t.account_id == account, t.state.in_(("active", "cancelling")))
    )
    if int(active or 0) >= ACTIVE_TASKS:
        raise errors.import_task_limit(ACTIVE_TASKS)


def check_any_storage(s: Session, timeout: float) -> None:
    """As CreateVolume's check_storage, for a task any zone's storage agent converts (a
    snapshot's): InsufficientVolumeCapacity unless one of them is enabled and alive."""
    found = s.scalars(select(ServiceRow).where(ServiceRow.type == "storage")).all()
    now_ = time.time()
    if not any(derive_state(row, now_, timeout)[0] == "ENABLED" for row in found):
        raise errors.insufficient_volume_capacity("any availability zone")


def check_task_id(task_id: str) -> None:
    if not _TASK_ID.fullmatch(task_id):
        raise errors.task_malformed(task_id)


def stamp(when: dt.datetime) -> str:
    return when.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def _int(params: dict[str, Any], container: str, name: str) -> int:
    raw = params.get(name)
    if raw is None:
        raise errors.missing(f"{container}.{name}")
    try:
        return int(raw)
    except (TypeError, ValueError):
        raise errors.invalid_parameter(f"{container}.{name}", raw) from None


def task_out(t: Ec2ImportTask) -> dict[str, Any]:
    disk: dict[str, Any] = {
        "BytesConverted": t.bytes_converted,
        "AvailabilityZone": t.availability_zone,
        "Description": t.description,
        "Image": {
            "Format": t.image_format,
            "Size": t.image_bytes,
            "ImportManifestUrl": t.source_url,
        },
        "Volume": {"Id": t.volume_id, "Size": t.volume_size_gib},
    }
    out: dict[str, Any] = {
        "ConversionTaskId": t.id,
        "ExpirationTime": stamp(t.expires_at),
        "State": t.state,
    }
    if t.status_message:
        out["StatusMessage"] = t.status_message
    if t.kind == "import-volume":
        out["ImportVolume"] = disk
    else:
        instance: dict[str, Any] = {"Description": t.description, "Volumes": [disk]}
        if t.instance_id:
            instance["InstanceId"] = t.instance_id
        if t.platform:
            instance["Platform"] = t.platform
        # The one disk's own status: its volume is made (and the task done) with the instance.
        disk["Status"] = t.state
        if t.status_message:
            disk["StatusMessage"] = t.status_message
        out["ImportInstance"] = instance
    return out


@dataclass(frozen=True, slots=True)
class DiskImage:
    """One disk of an ImportVolume or ImportInstance, checked, its parts pinned."""

    image_format: str
    image_bytes: int
    url: str
    size_gib: int
    parts: list[Part]


def disk_image(
    rt: Runtime,
    ctx: RequestContext,
    image: dict[str, Any],
    volume: dict[str, Any],
    zone: str,
    prefix: str = "",
) -> DiskImage:
    """The disk `image`/`volume` describe, its manifest read as the caller and every part
    headed (InvalidParameterValue/AuthFailure as ImportVolume); `prefix` names the container
    in messages (DiskImage.1.)."""
    fmt = image_format(f"{prefix}Image.Format", image.get("Format"))
    image_bytes = _int(image, f"{prefix}Image", "Bytes")
    url = str(image.get("ImportManifestUrl") or "")
    if not url:
        raise errors.missing(f"{prefix}Image.ImportManifestUrl")
    size = _int(volume, f"{prefix}Volume", "Size")
    if image_bytes <= 0:
        raise errors.invalid_parameter(f"{prefix}Image.Bytes", image_bytes, "It must be positive.")
    if not 1 <= size <= MAX_VOLUME_GIB:
        raise errors.bad_volume_size(size, "standard", 1, MAX_VOLUME_GIB)
    # A raw image is the volume's bytes: it must fit. Other formats' virtual size is known once
    # the storage agent reads them (it fails the task then).
    if fmt == "RAW" and image_bytes > size << 30:
        raise errors.invalid_parameter(
            f"{prefix}Volume.Size", size,
            f"The image ({image_bytes} bytes) does not fit in {size} GiB.",
        )  # fmt: skip
    with rt.store.read() as s:
        if zone not in zones(rt, s):
            raise errors.invalid_zone(zone)
        _check_capacity(s, zone, size)
        # As CreateVolume: no live storage agent of the zone, no task that would wait for one.
        check_storage(s, zone, rt.settings.heartbeat_timeout)
        check_import_room(s, ctx.principal.account_id)
    name = f"{prefix}Image.ImportManifestUrl"
    bucket, key = object_location(name, url)
    data = read_manifest(rt, ctx, name, bucket, key)
    try:
        manifest = parse_manifest(data)
    except ValueError as err:
        raise errors.invalid_parameter(
            name, f"{bucket}/{key}", f"Not a valid import manifest: {err}."
        ) from None
    if manifest.file_format != fmt:
        raise errors.invalid_parameter(
            f"{prefix}Image.Format", fmt, f"The manifest says {manifest.file_format}."
        )
    if manifest.size != image_bytes:
        raise errors.invalid_parameter(
            f"{prefix}Image.Bytes", image_bytes, f"The manifest says {manifest.size} bytes."
        )
    parts = []
    for start, end, part_key in manifest.parts:
        etag, length = head(rt, ctx, name, bucket, part_key)
        if length != end - start + 1:
            raise errors.invalid_parameter(
                name,
                f"{bucket}/{part_key}",
                f"The part holds {length} bytes, the manifest says {end - start + 1}.",
            )
        parts.append(Part(bucket, part_key, etag, start, end))
    return DiskImage(fmt, image_bytes, url, size, parts)


def description_of(params: Params) -> str:
    description = str(params.get("Description") or "")
    if len(description) > 255:
        raise errors.invalid_parameter("Description", description[:32] + "...", "At most 255.")
    return description


def import_volume(rt: Runtime, ctx: RequestContext, params: Params) -> Result:
    zone = str(params.get("AvailabilityZone") or "")
    image = dict(params.get("Image") or {})
    volume_params = dict(params.get("Volume") or {})
    if not zone:
        # The image's own checks come first, as before the zone's.
        image_format("Image.Format", image.get("Format"))
        _int(image, "Image", "Bytes")
        _int(volume_params, "Volume", "Size")
        raise errors.missing("AvailabilityZone")
    description = description_of(params)
    disk = disk_image(rt, ctx, image, volume_params, zone)
    fmt, image_bytes, url, size, parts = (
        disk.image_format, disk.image_bytes, disk.url, disk.size_gib, disk.parts,
    )  # fmt: skip
    task_id = new_task_id("import-vol")
    created = now()
    with rt.store.session() as s:
        check_import_room(s, ctx.principal.account_id)
        volume = converting_volume(
            new_id("vol"), ctx.principal.account_id, zone, size, task_id, created
        )
        task = new_task(
            task_id,
            ctx.principal.account_id,
            "import-volume",
            created=created,
            image_format=fmt,
            image_bytes=image_bytes,
            source_url=url,
            parts=parts_json(parts),
            description=description,
            availability_zone=zone,
            volume_id=volume.id,
            volume_size_gib=size,
        )
        s.add_all([volume, task])
        s.flush()
        return {"ConversionTask": task_out(task)}


def owned_task(s: Session, account: str, task_id: str, kinds: tuple[str, ...]) -> Ec2ImportTask:
    check_task_id(task_id)
    row = s.get(Ec2ImportTask, task_id)
    if row is None or row.account_id != account or row.kind not in kinds:
        raise errors.task_not_found(task_id)
    return row


def describe_conversion_tasks(rt: Runtime, ctx: RequestContext, params: Params) -> Result:
    wanted = [str(i) for i in params.get("ConversionTaskIds") or []]
    kinds = tuple(KINDS)
    with rt.store.read() as s:
        if wanted:
            rows = [owned_task(s, ctx.principal.account_id, i, kinds) for i in wanted]
        else:
            rows = list(
                s.scalars(
                    select(Ec2ImportTask)
                    .where(
                        Ec2ImportTask.account_id == ctx.principal.account_id,
                        Ec2ImportTask.kind.in_(kinds),
                    )
                    .order_by(Ec2ImportTask.created_at, Ec2ImportTask.id)
                )
            )
        return {"ConversionTasks": [task_out(t) for t in rows]}


def cancel(s: Session, task: Ec2ImportTask, reason: str) -> None:
    """Cancel an active task: at once (and what it made deleted) while no agent holds it,
    else `cancelling` for its agent to let go. Raises when it is past cancelling."""
    message = f"User requested: {reason}" if reason else "User requested"
    t = Ec2ImportTask
    if task.state in ("cancelling", "cancelled", "completed"):
        raise errors.task_not_cancellable(task.id, task.state)
    unclaimed = rows_changed(
        s.execute(
            update(t)
            .where(t.id == task.id, t.state == "active", t.storage_host == "")
            .values(state="cancelled", status_message=message[:1000])
        )
    )
    if unclaimed:
        discard_made(s, task)
        return
    claimed = rows_changed(
        s.execute(
            update(t)
            .where(t.id == task.id, t.state == "active")
            .values(state="cancelling", status_message=message[:1000])
        )
    )
    if not claimed:  # it ended meanwhile
        raise errors.task_not_cancellable(task.id, "completed")


def discard_made(s: Session, task: Ec2ImportTask) -> None:
    """Delete the volume and the pending snapshot an unclaimed task made (they have no data
    anywhere). Its image and instance are written only as the task completes."""
    if task.volume_id:
        s.execute(
            update(Ec2Volume)
            .where(
                Ec2Volume.id == task.volume_id,
                Ec2Volume.storage_host == marker(task.id),
                Ec2Volume.state.in_(("creating", "deleting")),
            )
            .values(state="deleted", storage_host="", deleted_at=time.time())
        )
    if task.snapshot_id:
        gone = s.execute(
            delete(Ec2Snapshot).where(
                Ec2Snapshot.id == task.snapshot_id,
                Ec2Snapshot.storage_host == "",
                Ec2Snapshot.state == "pending",
            )
        )
        if rows_changed(gone):
            delete_all_tags(s, [task.snapshot_id])


def cancel_conversion_task(rt: Runtime, ctx: RequestContext, params: Params) -> Result:
    task_id = str(params.get("ConversionTaskId") or "")
    if not task_id:
        raise errors.missing("ConversionTaskId")
    with rt.store.session() as s:
        task = owned_task(s, ctx.principal.account_id, task_id, tuple(KINDS))
        cancel(s, task, str(params.get("ReasonMessage") or ""))
    return {}


OPERATIONS: Operations = {
    "ImportVolume": import_volume,
    "DescribeConversionTasks": describe_conversion_tasks,
    "CancelConversionTask": cancel_conversion_task,
}
