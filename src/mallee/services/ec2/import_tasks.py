"""Import tasks: ImportSnapshot, DescribeImportSnapshotTasks, CancelImportTask.

ImportSnapshot heads the caller's object (as the caller: import_sources) and writes a snapshot
`pending` and the task `active` in one transaction; any storage agent converts the object and
stores the result as the snapshot's chunks, like CreateSnapshot's (mallee.storage.imports).
ImportImage (phase 2) shares the task rows and CancelImportTask.

The rows keep the conversion tasks' states; an import task shows them as AWS's Status words.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from sqlalchemy import select

from mallee.api.context import RequestContext
from mallee.ids import new_id
from mallee.services.base import Operations, Params, Result, Runtime
from mallee.services.ec2 import errors
from mallee.services.ec2.conversion_tasks import (
    cancel,
    check_any_storage,
    check_import_room,
    owned_task,
)
from mallee.services.ec2.filters import lookup, matches, parse_filters
from mallee.services.ec2.import_rows import converting_snapshot, new_task
from mallee.services.ec2.import_sources import (
    Part,
    head,
    image_format,
    object_location,
    parts_json,
)
from mallee.services.ec2.pagination import page
from mallee.services.ec2.volumes import now
from mallee.store.tables.imports import Ec2ImportTask

STATUS = {
    "active": "active",
    "cancelling": "deleting",
    "cancelled": "deleted",
    "completed": "completed",
}
KINDS = ("import-snapshot", "import-image")
# AWS's imported snapshots name no volume.
NO_VOLUME = "vol-ffffffff"


def detail(t: Ec2ImportTask) -> dict[str, Any]:
    detail: dict[str, Any] = {
        "Description": t.description,
        "DiskImageSize": float(t.image_bytes),
        "Encrypted": False,
        "Format": t.image_format,
        "Status": STATUS[t.state],
    }
    if t.state == "active":
        detail["Progress"] = str(t.progress)
    if t.status_message:
        detail["StatusMessage"] = t.status_message
    if t.state == "completed" and t.snapshot_id:
        detail["SnapshotId"] = t.snapshot_id
    if t.source_url.startswith("s3://"):
        bucket, _, key = t.source_url[5:].partition("/")
        detail["UserBucket"] = {"S3Bucket": bucket, "S3Key": key}
    else:
        detail["Url"] = t.source_url
    return detail


def snapshot_task_out(t: Ec2ImportTask) -> dict[str, Any]:
    return {"ImportTaskId": t.id, "Description": t.description, "SnapshotTaskDetail": detail(t)}


def disk_source(disk: dict[str, Any], name: str) -> tuple[str, str, str, str]:
    """A disk container's (format, bucket, key, source URL as given)."""
    fmt = image_format(f"{name}.Format", disk.get("Format") or "RAW")
    bucket_ref = dict(disk.get("UserBucket") or {})
    url = str(disk.get("Url") or "")
    if bucket_ref and url:
        raise errors.invalid_combination(f"Give {name}.UserBucket or {name}.Url.")
    if bucket_ref:
        bucket, key = str(bucket_ref.get("S3Bucket") or ""), str(bucket_ref.get("S3Key") or "")
        if not bucket or not key:
            raise errors.missing(f"{name}.UserBucket.S3Bucket and S3Key")
        return fmt, bucket, key, f"s3://{bucket}/{key}"
    if url:
        bucket, key = object_location(f"{name}.Url", url)
        return fmt, bucket, key, url
    raise errors.missing(f"{name}.UserBucket")


def head_source(
    rt: Runtime, ctx: RequestContext, name: str, bucket: str, key: str
) -> tuple[str, int]:
    """The object's (ETag, size) when the caller may read it and it is not empty."""
    etag, size = head(rt, ctx, name, bucket, key)
    if size <= 0:
        raise errors.invalid_parameter(name, f"{bucket}/{key}", "The object is empty.")
    return etag, size


def import_snapshot(rt: Runtime, ctx: RequestContext, params: Params) -> Result:
    if params.get("Encrypted"):
        raise errors.unsupported_operation("Encrypted snapshots are not supported.")
    account = ctx.principal.account_id
    token = str(params.get("ClientToken") or "")
    if token:
        with rt.store.read() as s:
            earlier = s.scalar(
                select(Ec2ImportTask).where(
                    Ec2ImportTask.account_id == account,
                    Ec2ImportTask.kind == "import-snapshot",
                    Ec2ImportTask.client_token == token,
                )
            )
            if earlier is not None:
                return snapshot_task_out(earlier)
    disk = dict(params.get("DiskContainer") or {})
    fmt, bucket, key, source = disk_source(disk, "DiskContainer")
    description = str(params.get("Description") or disk.get("Description") or "")
    if len(description) > 255:
        raise errors.invalid_parameter("Description", description[:32] + "...", "At most 255.")
    with rt.store.read() as s:
        # As CreateVolume: a task no live storage agent would convert is not taken.
        check_any_storage(s, rt.settings.heartbeat_timeout)
        check_import_room(s, account)
    etag, size = head_source(rt, ctx, "DiskContainer", bucket, key)
    task_id = new_id("import-snap")
    created = now()
    with rt.store.session() as s:
        check_import_room(s, account)
        snapshot = converting_snapshot(
            new_id("snap"),
            account,
            volume_id=NO_VOLUME,
            # Until the agent reads the image's virtual size.
            size_gib=max(1, math.ceil(size / (1 << 30))),
            description=description,
            created=created,
        )
        task = new_task(
            task_id,
            account,
            "import-snapshot",
            created=created,
            image_format=fmt,
            image_bytes=size,
            source_url=source,
            parts=parts_json([Part(bucket, key, etag, 0, size - 1)]),
            status_message="pending",
            description=description,
            client_token=token[:64],
            snapshot_id=snapshot.id,
        )
        s.add_all([snapshot, task])
        s.flush()
        return snapshot_task_out(task)


_FILTERS: dict[str, Any] = {"task-state": lambda t: STATUS[t.state]}


def describe_tasks(
    rt: Runtime,
    ctx: RequestContext,
    params: Params,
    kind: str,
    shown_as: tuple[str, Callable[[Ec2ImportTask], dict[str, Any]]],
) -> Result:
    """DescribeImport{Snapshot,Image}Tasks: the caller's tasks of `kind`, by id or all,
    filtered by task-state and paged; `shown_as` is the answer's list key and each task's shape."""
    filters = parse_filters(params.get("Filters"), _FILTERS)
    wanted = [str(i) for i in params.get("ImportTaskIds") or []]
    account = ctx.principal.account_id
    with rt.store.read() as s:
        if wanted:
            rows = [owned_task(s, account, i, (kind,)) for i in wanted]
        else:
            t = Ec2ImportTask
            rows = list(s.scalars(select(t).where(t.account_id == account, t.kind == kind)))
    rows = [t for t in rows if matches(filters, lookup(_FILTERS, t), {})]
    shown, token = page(sorted(rows, key=lambda t: t.id), params, key=lambda t: t.id)
    key, out_of = shown_as
    out: dict[str, Any] = {key: [out_of(t) for t in shown]}
    if token:
        out["NextToken"] = token
    return out


def describe_import_snapshot_tasks(rt: Runtime, ctx: RequestContext, params: Params) -> Result:
    return describe_tasks(
        rt, ctx, params, "import-snapshot", ("ImportSnapshotTasks", snapshot_task_out)
    )


def cancel_import_task(rt: Runtime, ctx: RequestContext, params: Params) -> Result:
    task_id = str(params.get("ImportTaskId") or "")
    if not task_id:
        raise errors.missing("ImportTaskId")
    with rt.store.session() as s:
        task = owned_task(s, ctx.principal.account_id, task_id, KINDS)
        previous = STATUS[task.state]
        cancel(s, task, str(params.get("CancelReason") or ""))
        s.refresh(task)
        return {"ImportTaskId": task.id, "PreviousState": previous, "State": STATUS[task.state]}


OPERATIONS: Operations = {
    "ImportSnapshot": import_snapshot,
    "DescribeImportSnapshotTasks": describe_import_snapshot_tasks,
    "CancelImportTask": cancel_import_task,
}
