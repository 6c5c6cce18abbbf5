"""ImportInstance: one disk image made into a volume, a snapshot of it, an EBS-backed image of
that snapshot and a stopped instance booting from the volume (Eucalyptus' import-instance).

Everything a launch checks is checked here, at the request: the disk's manifest and parts (as
ImportVolume: read as the caller), the launch specification (instance type, groups, key pair,
user data, zone) and the image's name and kernel/ramdisk. The task row then carries the rows
still to write (`details`: the image's and the instance's columns, with ids chosen now), and
the volume (`creating`, named by the task) and the snapshot (`pending`, no host) exist from the
start. The storage agent converts the disk into the volume, copies it into the snapshot's
chunks and, in one transaction, writes the image and the instance (`stopped`, not placed: its
StartInstances is a launch), attaches the volume as its root and completes the task
(mallee.storage.imports). A cancelled or failed task leaves none of them.

As AWS, an imported volume is not deleted when its instance terminates (DeleteOnTermination
false on the attachment); the image's own mapping says true, as for any registered image.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from mallee.api.context import RequestContext
from mallee.ids import new_id
from mallee.services.base import Operations, Params, Result, Runtime
from mallee.services.ec2 import errors, images, security_groups
from mallee.services.ec2.block_devices import Mapping
from mallee.services.ec2.conversion_tasks import (
    check_import_room,
    description_of,
    disk_image,
    new_task_id,
    task_out,
)
from mallee.services.ec2.ebs_images import ROOT_DEVICE, ebs_image_row
from mallee.services.ec2.import_rows import converting_snapshot, converting_volume, new_task
from mallee.services.ec2.import_sources import parts_json
from mallee.services.ec2.launch import DEFAULT_TYPE, user_data, user_data_limit
from mallee.services.ec2.volumes import now
from mallee.store.tables.ec2 import Ec2Image, Ec2InstanceType, Ec2KeyPair

PLATFORMS = ("Linux",)
_SPEC = "LaunchSpecification"


def image_columns(image: Ec2Image) -> dict[str, Any]:
    """The row's columns as JSON values (its creation time is the agent's to set)."""
    out: dict[str, Any] = {}
    for column in Ec2Image.__table__.columns:
        value = getattr(image, column.name)
        if not isinstance(value, dt.datetime):
            out[column.name] = value
    return out


def _groups(s: Session, account: str, spec: dict[str, Any]) -> list[dict[str, str]]:
    """The groups named (NotFound as RunInstances), else the default one (made if need be)."""
    names = [str(n) for n in spec.get("GroupNames") or []]
    ids = [str(i) for i in spec.get("GroupIds") or []]
    return security_groups.group_refs(security_groups.launch_groups(s, account, names, ids))


def _instance_type(s: Session, name: str) -> Ec2InstanceType:
    found = s.get(Ec2InstanceType, name)
    if found is None:
        raise errors.unknown_instance_type(name)
    return found


def _key(s: Session, account: str, name: str) -> Ec2KeyPair | None:
    if not name:
        return None
    key = s.scalar(
        select(Ec2KeyPair).where(Ec2KeyPair.account_id == account, Ec2KeyPair.name == name)
    )
    if key is None:
        raise errors.not_found("key-pair", name)
    return key


def _spec(rt: Runtime, params: Params) -> dict[str, Any]:
    """The launch specification, checked for what needs no database."""
    spec = dict(params.get(_SPEC) or {})
    arch = str(spec.get("Architecture") or "")
    if not arch:
        raise errors.missing(f"{_SPEC}.Architecture")
    if arch not in images.ARCHITECTURES:
        raise errors.invalid_parameter(f"{_SPEC}.Architecture", arch)
    behavior = str(spec.get("InstanceInitiatedShutdownBehavior") or "stop")
    if behavior not in ("stop", "terminate"):
        raise errors.invalid_parameter(f"{_SPEC}.InstanceInitiatedShutdownBehavior", behavior)
    if spec.get("SubnetId"):
        raise errors.not_found("subnet", str(spec["SubnetId"]))
    if spec.get("PrivateIpAddress"):
        # EDGE gives an instance its address when it is placed.
        raise errors.invalid_parameter(
            f"{_SPEC}.PrivateIpAddress", spec["PrivateIpAddress"], "Only with a subnet (VPC)."
        )
    zone = str((spec.get("Placement") or {}).get("AvailabilityZone") or rt.settings.zone)
    return {**spec, "Architecture": arch, "Behavior": behavior, "Zone": zone}


def import_instance(rt: Runtime, ctx: RequestContext, params: Params) -> Result:
    account = ctx.principal.account_id
    platform = str(params.get("Platform") or "")
    if platform not in PLATFORMS:
        raise errors.invalid_parameter("Platform", platform, "Instances of Linux are imported.")
    spec = _spec(rt, params)
    description = description_of(params)
    disks = list(params.get("DiskImages") or [])
    if not disks:
        raise errors.missing("DiskImages")
    if len(disks) > 1:
        raise errors.invalid_parameter(
            "DiskImages", len(disks), "One disk image (the root volume) is imported."
        )
    text = user_data((spec.get("UserData") or {}).get("Data"), user_data_limit(rt.store))
    with rt.store.read() as s:
        itype = _instance_type(s, str(spec.get("InstanceType") or DEFAULT_TYPE))
        if spec.get("GroupNames") or spec.get("GroupIds"):
            _groups(s, account, spec)
        key = _key(s, account, str(spec.get("KeyName") or ""))
    first = dict(disks[0])
    disk = disk_image(
        rt, ctx, dict(first.get("Image") or {}), dict(first.get("Volume") or {}), spec["Zone"],
        prefix="DiskImage.1.",
    )  # fmt: skip
    task_id = new_task_id("import-i")
    created = now()
    with rt.store.session() as s:
        check_import_room(s, account)
        groups = _groups(s, account, spec)
        volume_id, snapshot_id, instance_id = new_id("vol"), new_id("snap"), new_id("i")
        root = Mapping(
            device=ROOT_DEVICE, ebs=True, snapshot_id=snapshot_id, size=disk.size_gib,
            delete_on_termination=True, volume_type="standard",
        )  # fmt: skip
        image = ebs_image_row(
            s, account, name=task_id, mappings=[root], description=description,
            architecture=spec["Architecture"],
        )  # fmt: skip
        image.platform = platform.lower()
        instance = {
            "id": instance_id,
            "account_id": account,
            "reservation_id": new_id("r"),
            "requester_arn": ctx.principal.arn,
            "launch_index": 0,
            "image_id": image.id,
            "kernel_id": image.kernel_id,
            "ramdisk_id": image.ramdisk_id,
            "instance_type": itype.name,
            "cores": itype.cores,
            "memory_mb": itype.memory_mb,
            "disk_gb": itype.disk_gb,
            "key_name": key.name if key else None,
            "public_key": key.public_key if key else None,
            "user_data": text,
            "availability_zone": spec["Zone"],
            "security_groups": json.dumps(groups),
            "monitoring": bool(spec.get("Monitoring")),
            "shutdown_behavior": spec["Behavior"],
            "root_device_type": "ebs",
            "root_device_name": ROOT_DEVICE,
            "block_device_mappings": "[]",
            "state": "stopped",
        }
        details = {
            "image": image_columns(image),
            "instance": instance,
            "group_ids": [g["GroupId"] for g in groups],
            "device": ROOT_DEVICE,
            "delete_on_termination": False,
        }
        s.add_all(
            [
                converting_volume(
                    volume_id, account, spec["Zone"], disk.size_gib, task_id, created
                ),
                converting_snapshot(
                    snapshot_id,
                    account,
                    volume_id=volume_id,
                    size_gib=disk.size_gib,
                    description=f"Created by {task_id}",
                    created=created,
                ),
            ]
        )
        task = new_task(
            task_id,
            account,
            "import-instance",
            created=created,
            image_format=disk.image_format,
            image_bytes=disk.image_bytes,
            source_url=disk.url,
            parts=parts_json(disk.parts),
            description=description,
            availability_zone=spec["Zone"],
            volume_id=volume_id,
            volume_size_gib=disk.size_gib,
            snapshot_id=snapshot_id,
            platform=platform,
            architecture=spec["Architecture"],
            details=json.dumps(details),
        )
        s.add(task)
        s.flush()
        return {"ConversionTask": task_out(task)}


OPERATIONS: Operations = {"ImportInstance": import_instance}
