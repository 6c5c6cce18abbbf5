"""EBS volumes: create, delete, describe, status, attributes and ModifyVolume.

The api only writes what the caller asks (mallee.store.tables.ebs): the storage agent makes and
removes the volumes' data, the node agent plugs them into VMs. Attaching and detaching are in
volume_attachments.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Sequence
from typing import Any, cast

from sqlalchemy import func, select, update
from sqlalchemy.engine import CursorResult
from sqlalchemy.orm import Session

from mallee.api.context import RequestContext
from mallee.ids import is_id, new_id
from mallee.registry.components import derive_state
from mallee.services.base import Operations, Params, Result, Runtime
from mallee.services.ec2 import errors
from mallee.services.ec2.filters import lookup, matches, parse_filters
from mallee.services.ec2.pagination import page
from mallee.services.ec2.snapshot_access import usable_snapshot
from mallee.services.ec2.tags import (
    apply_tag_specifications,
    register_resource_check,
    tag_list,
    tags_for,
)
from mallee.store.tables.compute import NodeRow
from mallee.store.tables.ebs import (
    Ec2Volume,
    Ec2VolumeAttachment,
    Ec2VolumeModification,
    StorageHost,
)
from mallee.store.tables.registry import ServiceRow

# Largest volume per type (GiB), as AWS.
MAX_SIZE = {"standard": 1024, "gp2": 16384, "gp3": 16384}
DEFAULT_TYPE = "gp2"
# What a caller sees: deleted volumes are gone for it.
VISIBLE = ("creating", "available", "in-use", "deleting", "error")


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(microsecond=0)


def rows_changed(result: object) -> int:
    """How many rows an UPDATE changed (a conditional one: 0 when another writer won)."""
    return int(cast("CursorResult[Any]", result).rowcount)


def volume_arn(region: str, account: str, volume_id: str) -> str:
    return f"arn:aws:ec2:{region}:{account}:volume/{volume_id}"


def owned_volume(s: Session, account: str, volume_id: str) -> Ec2Volume:
    """The caller's volume (not deleted); Malformed/NotFound as EC2 answers."""
    if not volume_id:
        raise errors.missing("VolumeId")
    if not is_id(volume_id, "vol"):
        raise errors.malformed("volume", volume_id, "vol")
    row = s.get(Ec2Volume, volume_id)
    if row is None or row.account_id != account or row.state not in VISIBLE:
        raise errors.not_found("volume", volume_id)
    return row


def _check_volume(s: Session, account: str, volume_id: str) -> None:
    owned_volume(s, account, volume_id)


register_resource_check("volume", _check_volume)


def zones(rt: Runtime, s: Session) -> set[str]:
    """Availability zones: the cloud's own, its nodes' and its storage hosts'."""
    found = set(s.scalars(select(NodeRow.zone)).all())
    found |= set(s.scalars(select(StorageHost.zone)).all())
    return found | {rt.settings.zone}


def _check_size(size: int, volume_type: str) -> None:
    high = MAX_SIZE[volume_type]
    if not 1 <= size <= high:
        raise errors.bad_volume_size(size, volume_type, 1, high)


def capacity_gib(s: Session, zone: str) -> int | None:
    """The most a storage host of the zone could ever hold (data is sparse: what is free now
    is no limit, the file system's whole size is); None while no host reported one."""
    capacity = s.scalar(
        select(func.max(StorageHost.capacity_bytes)).where(StorageHost.zone == zone)
    )
    return int(capacity) >> 30 if capacity else None


def _check_capacity(s: Session, zone: str, size: int) -> None:
    """A volume larger than every storage host of its zone could ever hold."""
    capacity = capacity_gib(s, zone)
    if capacity is not None and size > capacity:
        raise errors.beyond_capacity(size, zone, capacity)


def check_storage(s: Session, zone: str, timeout: float) -> None:
    """InsufficientVolumeCapacity unless a storage service of the zone is enabled and alive:
    a volume written now would otherwise wait `creating` until one is."""
    found = s.scalars(
        select(ServiceRow).where(ServiceRow.type == "storage", ServiceRow.partition == zone)
    ).all()
    now = time.time()
    if not any(derive_state(row, now, timeout)[0] == "ENABLED" for row in found):
        raise errors.insufficient_volume_capacity(zone)


def _int(params: Params, name: str) -> int | None:
    raw = params.get(name)
    if raw is None:
        return None
    try:
        return int(raw)
    except (TypeError, ValueError) as err:
        raise errors.invalid_parameter(name, raw) from err


def create_volume(rt: Runtime, ctx: RequestContext, params: Params) -> Result:
    snapshot_id = str(params.get("SnapshotId") or "")
    size = _int(params, "Size")
    if size is None and not snapshot_id:
        raise errors.missing("size")
    volume_type = str(params.get("VolumeType") or DEFAULT_TYPE)
    if volume_type not in MAX_SIZE:
        raise errors.invalid_parameter("volumeType", volume_type, "Supported: standard, gp2, gp3.")
    if size is not None:
        _check_size(size, volume_type)
    if params.get("Encrypted"):
        raise errors.unsupported_operation("Encrypted volumes are not supported.")
    if params.get("MultiAttachEnabled"):
        raise errors.unsupported_operation("Multi-Attach is not supported.")
    zone = str(params.get("AvailabilityZone") or "")
    if not zone:
        raise errors.missing("AvailabilityZone")
    account = ctx.principal.account_id
    volume_id = new_id("vol")
    with rt.store.session() as s:
        if zone not in zones(rt, s):
            raise errors.invalid_zone(zone)
        if snapshot_id:
            # Locked: the snapshot cannot be deleted until this volume names it.
            snapshot = usable_snapshot(s, account, snapshot_id, lock=True)
            if snapshot.state != "completed":
                raise errors.snapshot_not_completed(snapshot_id, snapshot.state)
            if size is None:
                size = snapshot.volume_size_gib
                _check_size(size, volume_type)
            elif size < snapshot.volume_size_gib:
                raise errors.volume_smaller_than_snapshot(
                    size, snapshot_id, snapshot.volume_size_gib
                )
        if size is None:  # neither given: rejected above, said again for the type checker
            raise errors.missing("size")
        _check_capacity(s, zone, size)
        check_storage(s, zone, rt.settings.heartbeat_timeout)
        row = Ec2Volume(
            id=volume_id,
            account_id=account,
            availability_zone=zone,
            size_gib=size,
            volume_type=volume_type,
            snapshot_id=snapshot_id,
            state="creating",
            created_at=now(),
            storage_host="",
            auto_enable_io=False,
            io_enabled=True,
            status_message="",
        )
        s.add(row)
        s.flush()
        apply_tag_specifications(s, account, params.get("TagSpecifications"), {"volume": [row.id]})
        tags = tags_for(s, account, [row.id]).get(row.id, {})
        return volume_out(row, None, tags)


def attachment_out(a: Ec2VolumeAttachment) -> dict[str, Any]:
    return {
        "VolumeId": a.volume_id,
        "InstanceId": a.instance_id,
        "Device": a.device,
        "State": a.state,
        "AttachTime": a.attached_at,
        "DeleteOnTermination": a.delete_on_termination,
    }


def volume_out(
    v: Ec2Volume, attachment: Ec2VolumeAttachment | None, tags: dict[str, str]
) -> dict[str, Any]:
    out: dict[str, Any] = {
        "VolumeId": v.id,
        "Size": v.size_gib,
        "SnapshotId": v.snapshot_id,
        "AvailabilityZone": v.availability_zone,
        "State": v.state,
        "CreateTime": v.created_at,
        "Attachments": [attachment_out(attachment)] if attachment is not None else [],
        "VolumeType": v.volume_type,
        "Encrypted": False,
        "MultiAttachEnabled": False,
    }
    if tags:
        out["Tags"] = tag_list(tags)
    return out


def delete_volume(rt: Runtime, ctx: RequestContext, params: Params) -> Result:
    volume_id = str(params.get("VolumeId") or "")
    with rt.store.session() as s:
        row = owned_volume(s, ctx.principal.account_id, volume_id)
        attachment = s.get(Ec2VolumeAttachment, volume_id)
        if attachment is not None:
            raise errors.volume_in_use(volume_id, attachment.instance_id)
        # Conditional: an AttachVolume racing this one either wins (in-use) or finds deleting.
        moved = rows_changed(
            s.execute(
                update(Ec2Volume)
                .where(
                    Ec2Volume.id == volume_id,
                    Ec2Volume.state.in_(("creating", "available", "error")),
                )
                .values(state="deleting")
            )
        )
        if not moved and row.state != "deleting":
            s.refresh(row)
            raise errors.volume_not_available(volume_id, row.state)
    return {}


def _volume_filters(
    attachments: dict[str, Ec2VolumeAttachment],
) -> dict[str, Callable[[Ec2Volume], Any]]:
    def att(getter: Callable[[Ec2VolumeAttachment], Any]) -> Callable[[Ec2Volume], Any]:
        def value(v: Ec2Volume) -> Any:
            a = attachments.get(v.id)
            return getter(a) if a is not None else None

        return value

    return {
        "volume-id": lambda v: v.id,
        "status": lambda v: v.state,
        "size": lambda v: v.size_gib,
        "availability-zone": lambda v: v.availability_zone,
        "create-time": lambda v: v.created_at.strftime("%Y-%m-%dT%H:%M:%S.000Z"),
        "snapshot-id": lambda v: v.snapshot_id,
        "volume-type": lambda v: v.volume_type,
        "encrypted": lambda v: False,
        "multi-attach-enabled": lambda v: False,
        "attachment.instance-id": att(lambda a: a.instance_id),
        "attachment.device": att(lambda a: a.device),
        "attachment.status": att(lambda a: a.state),
        "attachment.delete-on-termination": att(lambda a: a.delete_on_termination),
        "attachment.attach-time": att(lambda a: a.attached_at.strftime("%Y-%m-%dT%H:%M:%S.000Z")),
    }


# The filter names DescribeVolumes knows (values do not matter here).
_FILTER_NAMES = frozenset(_volume_filters({}))


def _chosen(
    rt: Runtime, ctx: RequestContext, params: Params, filter_names: Sequence[str] | None = None
) -> tuple[list[Ec2Volume], dict[str, Ec2VolumeAttachment], dict[str, dict[str, str]]]:
    """The caller's volumes DescribeVolumes-style: VolumeIds (each must exist), filters."""
    known = _FILTER_NAMES if filter_names is None else frozenset(filter_names)
    filters = parse_filters(params.get("Filters"), known)
    ids = [str(i) for i in params.get("VolumeIds") or []]
    account = ctx.principal.account_id
    with rt.store.read() as s:
        if ids:
            rows = [owned_volume(s, account, i) for i in dict.fromkeys(ids)]
        else:
            rows = list(
                s.scalars(
                    select(Ec2Volume).where(
                        Ec2Volume.account_id == account, Ec2Volume.state.in_(VISIBLE)
                    )
                ).all()
            )
        volume_ids = [r.id for r in rows]
        listed = set(volume_ids)
        attachments = {
            a.volume_id: a
            for a in s.scalars(
                select(Ec2VolumeAttachment)
                .join(Ec2Volume, Ec2Volume.id == Ec2VolumeAttachment.volume_id)
                .where(Ec2Volume.account_id == account)
            ).all()
            if a.volume_id in listed
        }
        tags = tags_for(s, account, volume_ids, "volume") if rows else {}
    lookups = _volume_filters(attachments)
    kept = [
        r for r in rows if not filters or matches(filters, lookup(lookups, r), tags.get(r.id, {}))
    ]
    return kept, attachments, tags


def describe_volumes(rt: Runtime, ctx: RequestContext, params: Params) -> Result:
    if params.get("VolumeIds") and params.get("MaxResults") is not None:
        raise errors.invalid_combination(
            "The parameter volumeSet cannot be used with the parameter maxResults"
        )
    rows, attachments, tags = _chosen(rt, ctx, params)
    items, token = page(rows, params, key=lambda v: v.id, max_bounds=(5, 500))
    out: Result = {
        "Volumes": [volume_out(v, attachments.get(v.id), tags.get(v.id, {})) for v in items]
    }
    if token:
        out["NextToken"] = token
    return out


_STATUS_FILTERS = (
    "availability-zone",
    "volume-status.status",
    "volume-status.details-name",
    "volume-status.details-status",
)


def _status(v: Ec2Volume) -> str:
    if v.state in ("creating", "deleting"):
        return "insufficient-data"
    return "ok" if v.io_enabled and v.state != "error" else "impaired"


def _status_out(v: Ec2Volume) -> dict[str, Any]:
    return {
        "VolumeId": v.id,
        "AvailabilityZone": v.availability_zone,
        "VolumeStatus": {
            "Status": _status(v),
            "Details": [
                {"Name": "io-enabled", "Status": "passed" if v.io_enabled else "failed"},
                {"Name": "io-performance", "Status": "not-applicable"},
            ],
        },
        "Actions": [],
        "Events": [],
    }


def describe_volume_status(rt: Runtime, ctx: RequestContext, params: Params) -> Result:
    wanted = {**params, "Filters": None}
    parse_filters(params.get("Filters"), _STATUS_FILTERS)
    rows, _, _ = _chosen(rt, ctx, wanted)
    statuses = [_status_out(v) for v in rows]
    flat = {
        "availability-zone": lambda st: st["AvailabilityZone"],
        "volume-status.status": lambda st: st["VolumeStatus"]["Status"],
        "volume-status.details-name": lambda st: [d["Name"] for d in st["VolumeStatus"]["Details"]],
        "volume-status.details-status": lambda st: [
            d["Status"] for d in st["VolumeStatus"]["Details"]
        ],
    }
    filters = parse_filters(params.get("Filters"), flat)
    kept = [st for st in statuses if matches(filters, lookup(flat, st), {})]
    items, token = page(kept, params, key=lambda st: str(st["VolumeId"]), max_bounds=(5, 1000))
    out: Result = {"VolumeStatuses": items}
    if token:
        out["NextToken"] = token
    return out


def describe_volume_attribute(rt: Runtime, ctx: RequestContext, params: Params) -> Result:
    attribute = str(params.get("Attribute") or "")
    if attribute not in ("autoEnableIO", "productCodes"):
        raise errors.invalid_parameter("Attribute", attribute)
    with rt.store.read() as s:
        row = owned_volume(s, ctx.principal.account_id, str(params.get("VolumeId") or ""))
    out: Result = {"VolumeId": row.id}
    if attribute == "autoEnableIO":
        out["AutoEnableIO"] = {"Value": row.auto_enable_io}
    else:
        out["ProductCodes"] = []
    return out


def modify_volume_attribute(rt: Runtime, ctx: RequestContext, params: Params) -> Result:
    value = (params.get("AutoEnableIO") or {}).get("Value")
    if value is None:
        raise errors.missing("AutoEnableIO")
    with rt.store.session() as s:
        row = owned_volume(s, ctx.principal.account_id, str(params.get("VolumeId") or ""))
        row.auto_enable_io = bool(value)
    return {}


def enable_volume_io(rt: Runtime, ctx: RequestContext, params: Params) -> Result:
    with rt.store.session() as s:
        row = owned_volume(s, ctx.principal.account_id, str(params.get("VolumeId") or ""))
        row.io_enabled = True
    return {}


def modification_out(m: Ec2VolumeModification) -> dict[str, Any]:
    out: dict[str, Any] = {
        "VolumeId": m.volume_id,
        "ModificationState": m.state,
        "TargetSize": m.target_size,
        "OriginalSize": m.original_size,
        "TargetVolumeType": m.target_type,
        "OriginalVolumeType": m.original_type,
        "TargetMultiAttachEnabled": False,
        "OriginalMultiAttachEnabled": False,
        "Progress": m.progress,
        "StartTime": m.started_at,
    }
    if m.status_message:
        out["StatusMessage"] = m.status_message
    if m.ended_at is not None:
        out["EndTime"] = m.ended_at
    return out


def modify_volume(rt: Runtime, ctx: RequestContext, params: Params) -> Result:
    """Grow a volume (and change its type). The storage agent grows the data and completes the
    modification; an attached volume's guest sees the new size once it is attached again."""
    volume_id = str(params.get("VolumeId") or "")
    size = _int(params, "Size")
    with rt.store.session() as s:
        row = owned_volume(s, ctx.principal.account_id, volume_id)
        if row.state not in ("available", "in-use"):
            raise errors.volume_not_available(volume_id, row.state)
        target_type = str(params.get("VolumeType") or row.volume_type)
        if target_type not in MAX_SIZE:
            raise errors.invalid_parameter("volumeType", target_type)
        target = row.size_gib if size is None else size
        if size is None and target_type == row.volume_type:
            raise errors.missing("Size")
        if target < row.size_gib:
            raise errors.volume_too_small(volume_id, target, row.size_gib)
        _check_size(target, target_type)
        _check_capacity(s, row.availability_zone, target)
        last = s.get(Ec2VolumeModification, volume_id)
        if last is not None and last.state == "modifying":
            raise errors.modification_in_progress(volume_id)
        if last is not None:
            s.delete(last)
            s.flush()
        mod = Ec2VolumeModification(
            volume_id=volume_id,
            state="modifying",
            original_size=row.size_gib,
            target_size=target,
            original_type=row.volume_type,
            target_type=target_type,
            progress=0,
            status_message="",
            started_at=now(),
            ended_at=None,
        )
        s.add(mod)
        s.flush()
        return {"VolumeModification": modification_out(mod)}


_MODIFICATION_FILTERS: dict[str, Callable[[Ec2VolumeModification], Any]] = {
    "volume-id": lambda m: m.volume_id,
    "modification-state": lambda m: m.state,
    "target-size": lambda m: m.target_size,
    "target-volume-type": lambda m: m.target_type,
    "original-size": lambda m: m.original_size,
    "original-volume-type": lambda m: m.original_type,
    "start-time": lambda m: m.started_at.strftime("%Y-%m-%dT%H:%M:%S.000Z"),
}


def describe_volumes_modifications(rt: Runtime, ctx: RequestContext, params: Params) -> Result:
    filters = parse_filters(params.get("Filters"), _MODIFICATION_FILTERS)
    ids = [str(i) for i in params.get("VolumeIds") or []]
    account = ctx.principal.account_id
    with rt.store.read() as s:
        for volume_id in ids:
            owned_volume(s, account, volume_id)
        query = (
            select(Ec2VolumeModification)
            .join(Ec2Volume, Ec2Volume.id == Ec2VolumeModification.volume_id)
            .where(Ec2Volume.account_id == account, Ec2Volume.state.in_(VISIBLE))
        )
        if ids:
            query = query.where(Ec2VolumeModification.volume_id.in_(ids))
        rows = list(s.scalars(query).all())
    kept = [m for m in rows if matches(filters, lookup(_MODIFICATION_FILTERS, m), {})]
    items, token = page(kept, params, key=lambda m: m.volume_id, max_bounds=(1, 500))
    out: Result = {"VolumesModifications": [modification_out(m) for m in items]}
    if token:
        out["NextToken"] = token
    return out


OPERATIONS: Operations = {
    "CreateVolume": create_volume,
    "DeleteVolume": delete_volume,
    "DescribeVolumes": describe_volumes,
    "DescribeVolumeStatus": describe_volume_status,
    "DescribeVolumeAttribute": describe_volume_attribute,
    "ModifyVolumeAttribute": modify_volume_attribute,
    "EnableVolumeIO": enable_volume_io,
    "ModifyVolume": modify_volume,
    "DescribeVolumesModifications": describe_volumes_modifications,
}
