"""ImportImage, DescribeImportImageTasks: a disk image in an S3 object made into an EBS-backed
AMI (`import-ami-...`): a snapshot, as ImportSnapshot makes one, and the image registered from
it (mallee.storage.imports does both, then completes the task in the same transaction as the
image's row). CancelImportTask (import_tasks) cancels it like an ImportSnapshot.

The image is checked and its row made here (name, kernel and ramdisk: the cloud's defaults, as
RegisterImage from a snapshot), kept in the task's `details` for the agent to write; only its
root mapping's VolumeSize waits for the image's virtual size, which the agent reads.
"""

from __future__ import annotations

import json
import math
from typing import Any

from sqlalchemy import select

from mallee.api.context import RequestContext
from mallee.ids import new_id
from mallee.services.base import Operations, Params, Result, Runtime
from mallee.services.ec2 import errors, images
from mallee.services.ec2.block_devices import Mapping
from mallee.services.ec2.conversion_tasks import (
    check_any_storage,
    check_import_room,
)
from mallee.services.ec2.ebs_images import ROOT_DEVICE, ebs_image_row
from mallee.services.ec2.import_instances import image_columns
from mallee.services.ec2.import_rows import converting_snapshot, new_task
from mallee.services.ec2.import_sources import Part, parts_json
from mallee.services.ec2.import_tasks import (
    NO_VOLUME,
    STATUS,
    describe_tasks,
    detail,
    disk_source,
    head_source,
)
from mallee.services.ec2.volumes import now
from mallee.store.tables.imports import Ec2ImportTask

GIB = 1 << 30
PLATFORMS = ("Linux",)


def image_task_out(t: Ec2ImportTask) -> dict[str, Any]:
    snapshot = detail(t)
    snapshot["DeviceName"] = ROOT_DEVICE
    out: dict[str, Any] = {
        "ImportTaskId": t.id,
        "Architecture": t.architecture,
        "Description": t.description,
        "Platform": t.platform,
        "SnapshotDetails": [snapshot],
        "Status": STATUS[t.state],
    }
    if t.state == "active":
        out["Progress"] = str(t.progress)
    if t.status_message:
        out["StatusMessage"] = t.status_message
    if t.state == "completed" and t.image_id:
        out["ImageId"] = t.image_id
    return out


def import_image(rt: Runtime, ctx: RequestContext, params: Params) -> Result:
    account = ctx.principal.account_id
    token = str(params.get("ClientToken") or "")
    if token:
        with rt.store.read() as s:
            earlier = s.scalar(
                select(Ec2ImportTask).where(
                    Ec2ImportTask.account_id == account,
                    Ec2ImportTask.kind == "import-image",
                    Ec2ImportTask.client_token == token,
                )
            )
            if earlier is not None:
                return image_task_out(earlier)
    if params.get("Encrypted"):
        raise errors.unsupported_operation("Encrypted images are not supported.")
    arch = str(params.get("Architecture") or "x86_64")
    if arch not in images.ARCHITECTURES:
        raise errors.invalid_parameter("Architecture", arch)
    platform = str(params.get("Platform") or "Linux")
    if platform not in PLATFORMS:
        raise errors.invalid_parameter("Platform", platform, "Images of Linux are imported.")
    containers = list(params.get("DiskContainers") or [])
    if not containers:
        raise errors.missing("DiskContainers")
    if len(containers) > 1:
        raise errors.invalid_parameter(
            "DiskContainers", len(containers), "One disk (the root volume) is imported."
        )
    disk = dict(containers[0])
    if disk.get("SnapshotId"):
        raise errors.invalid_parameter(
            "DiskContainer.1.SnapshotId", disk["SnapshotId"], "Import the disk from S3."
        )
    fmt, bucket, key, source = disk_source(disk, "DiskContainer.1")
    description = str(params.get("Description") or disk.get("Description") or "")
    if len(description) > 255:
        raise errors.invalid_parameter("Description", description[:32] + "...", "At most 255.")
    with rt.store.read() as s:
        # As CreateVolume: a task no live storage agent would convert is not taken.
        check_any_storage(s, rt.settings.heartbeat_timeout)
        check_import_room(s, account)
    etag, size = head_source(rt, ctx, "DiskContainer.1", bucket, key)
    task_id = new_id("import-ami")
    created = now()
    gib = max(1, math.ceil(size / GIB))
    with rt.store.session() as s:
        check_import_room(s, account)
        snapshot = converting_snapshot(
            new_id("snap"),
            account,
            volume_id=NO_VOLUME,
            # Until the agent reads the image's virtual size.
            size_gib=gib,
            description=f"Created by {task_id}",
            created=created,
        )
        root = Mapping(
            device=ROOT_DEVICE, ebs=True, snapshot_id=snapshot.id, size=gib,
            delete_on_termination=True, volume_type="standard",
        )  # fmt: skip
        image = ebs_image_row(
            s, account, name=task_id, mappings=[root], description=description, architecture=arch
        )
        image.platform = platform.lower()
        task = new_task(
            task_id,
            account,
            "import-image",
            created=created,
            image_format=fmt,
            image_bytes=size,
            source_url=source,
            parts=parts_json([Part(bucket, key, etag, 0, size - 1)]),
            status_message="pending",
            description=description,
            client_token=token[:64],
            snapshot_id=snapshot.id,
            platform=platform,
            architecture=arch,
            details=json.dumps({"image": image_columns(image)}),
        )
        s.add_all([snapshot, task])
        s.flush()
        return image_task_out(task)


def describe_import_image_tasks(rt: Runtime, ctx: RequestContext, params: Params) -> Result:
    return describe_tasks(rt, ctx, params, "import-image", ("ImportImageTasks", image_task_out))


OPERATIONS: Operations = {
    "ImportImage": import_image,
    "DescribeImportImageTasks": describe_import_image_tasks,
}
