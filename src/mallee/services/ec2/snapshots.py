"""EBS snapshots: create, copy, delete, describe, and their createVolumePermission.

The api writes rows only (mallee.store.tables.ebs): CreateSnapshot a snapshot `pending`, which
the storage agent holding the volume copies into the object store chunk by chunk until it is
`completed`. A copy shares its source's chunks (blobs are immutable), so it is completed at
once. Deleting a snapshot removes its rows in one transaction and then, once that committed,
frees the blobs no other snapshot's chunks name: a crash in between leaves an unreferenced blob,
never a chunk whose blob is gone.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from sqlalchemy import delete, insert, literal, select, update
from sqlalchemy.orm import Session

from mallee.api.context import RequestContext
from mallee.ids import new_id
from mallee.objectstore.backends import Backend, make_backend
from mallee.services.base import Operations, Params, Result, Runtime
from mallee.services.ec2 import errors
from mallee.services.ec2.filters import lookup, matches, parse_filters
from mallee.services.ec2.pagination import page
from mallee.services.ec2.snapshot_access import (
    check_snapshot_id,
    owned_snapshot,
    restorable_by,
    snapshot_arn,
    usable_snapshot,
)
from mallee.services.ec2.tags import (
    apply_tag_specifications,
    delete_all_tags,
    register_resource_check,
    tag_list,
    tags_for,
)
from mallee.services.ec2.volumes import now, owned_volume, volume_arn
from mallee.store.tables.ebs import (
    Ec2Snapshot,
    Ec2SnapshotChunk,
    Ec2SnapshotPermission,
    Ec2Volume,
)
from mallee.store.tables.ec2 import Ec2Image

log = logging.getLogger(__name__)

_JANITOR = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ec2-snapshot-free")
PERMISSION = "createVolumePermission"


def snapshot_out(row: Ec2Snapshot, tags: dict[str, str]) -> dict[str, Any]:
    out: dict[str, Any] = {
        "SnapshotId": row.id,
        "VolumeId": row.volume_id,
        "State": row.state,
        "StartTime": row.started_at,
        "Progress": f"{row.progress}%",
        "OwnerId": row.account_id,
        "Description": row.description,
        "VolumeSize": row.volume_size_gib,
        "Encrypted": False,
        "StorageTier": "standard",
    }
    if row.status_message:
        out["StateMessage"] = row.status_message
    if tags:
        out["Tags"] = tag_list(tags)
    return out


def _check_snapshot(s: Session, account: str, snapshot_id: str) -> None:
    owned_snapshot(s, account, snapshot_id)


register_resource_check("snapshot", _check_snapshot)


def create_snapshot(rt: Runtime, ctx: RequestContext, params: Params) -> Result:
    account = ctx.principal.account_id
    description = str(params.get("Description") or "")
    if len(description) > 255:
        raise errors.invalid_parameter("Description", description[:32] + "...", "At most 255.")
    with rt.store.session() as s:
        volume = owned_volume(s, account, str(params.get("VolumeId") or ""))
        if volume.state not in ("available", "in-use"):
            raise errors.volume_not_available(volume.id, volume.state)
        row = Ec2Snapshot(
            id=new_id("snap"),
            account_id=account,
            volume_id=volume.id,
            volume_size_gib=volume.size_gib,
            description=description,
            state="pending",
            progress=0,
            started_at=now(),
            # The host holding the volume's data takes it.
            storage_host=volume.storage_host,
            status_message="",
            is_public=False,
            data_bytes=0,
        )
        s.add(row)
        s.flush()
        apply_tag_specifications(
            s, account, params.get("TagSpecifications"), {"snapshot": [row.id]}
        )
        return snapshot_out(row, tags_for(s, account, [row.id]).get(row.id, {}))


def copy_snapshot(rt: Runtime, ctx: RequestContext, params: Params) -> Result:
    """A copy in the same region: a new snapshot naming the same chunks."""
    region = str(params.get("SourceRegion") or ctx.region)
    if region != ctx.region:
        raise errors.other_region(region)
    if params.get("Encrypted") or params.get("KmsKeyId"):
        raise errors.unsupported_operation("Encrypted snapshots are not supported.")
    account = ctx.principal.account_id
    source_id = str(params.get("SourceSnapshotId") or "")
    with rt.store.session() as s:
        # Locked: a DeleteSnapshot of the source waits until the copy names its chunks.
        source = usable_snapshot(s, account, source_id, lock=True)
        if source.state != "completed":
            raise errors.snapshot_not_completed(source.id, source.state)
        copy_id = new_id("snap")
        description = params.get("Description")
        s.add(
            Ec2Snapshot(
                id=copy_id,
                account_id=account,
                # As AWS shows a copy: the source's volume (maybe another account's) is not
                # the copy owner's to know.
                volume_id=COPIED_VOLUME,
                volume_size_gib=source.volume_size_gib,
                description=str(
                    description
                    if description is not None
                    else f"[Copied {source.id} from {ctx.region}] {source.description}".strip()
                ),
                state="completed",
                progress=100,
                started_at=now(),
                storage_host="",
                status_message="",
                is_public=False,
                data_bytes=source.data_bytes,
            )
        )
        s.flush()
        c = Ec2SnapshotChunk
        s.execute(
            insert(c).from_select(
                ["snapshot_id", "offset", "length", "blob_id"],
                select(literal(copy_id), c.offset, c.length, c.blob_id).where(
                    c.snapshot_id == source.id
                ),
            )
        )
        apply_tag_specifications(
            s, account, params.get("TagSpecifications"), {"snapshot": [copy_id]}
        )
        tags = tags_for(s, account, [copy_id]).get(copy_id, {})
    out: Result = {"SnapshotId": copy_id}
    if tags:
        out["Tags"] = tag_list(tags)
    return out


# The VolumeId AWS gives a copied snapshot.
COPIED_VOLUME = "vol-ffffffff"


def _in_use_by(s: Session, account: str, snapshot_id: str) -> str | None:
    """What still needs the snapshot's data: one of its owner's images mapping it, a volume
    being made of it. Only the owner's images count: another account's image naming the
    snapshot must not keep its owner from deleting it."""
    image = s.scalar(
        select(Ec2Image.id)
        .where(
            Ec2Image.account_id == account,
            Ec2Image.state != "deregistered",
            Ec2Image.block_device_mappings.contains(snapshot_id),
        )
        .limit(1)
    )
    if image:
        return str(image)
    volume = s.scalar(
        select(Ec2Volume.id)
        .where(Ec2Volume.snapshot_id == snapshot_id, Ec2Volume.state == "creating")
        .limit(1)
    )
    return str(volume) if volume else None


def delete_snapshot(rt: Runtime, ctx: RequestContext, params: Params) -> Result:
    account = ctx.principal.account_id
    with rt.store.session() as s:
        row = owned_snapshot(s, account, str(params.get("SnapshotId") or ""))
        user = _in_use_by(s, account, row.id)
        if user:
            raise errors.snapshot_in_use(row.id, user)
        blobs = set(
            s.scalars(
                select(Ec2SnapshotChunk.blob_id).where(Ec2SnapshotChunk.snapshot_id == row.id)
            )
        )
        # The chunks and permissions go explicitly: the row's cascade is not every database's.
        s.execute(delete(Ec2SnapshotChunk).where(Ec2SnapshotChunk.snapshot_id == row.id))
        s.execute(delete(Ec2SnapshotPermission).where(Ec2SnapshotPermission.snapshot_id == row.id))
        delete_all_tags(s, [row.id])
        s.execute(delete(Ec2Snapshot).where(Ec2Snapshot.id == row.id))
    free_unreferenced(rt, blobs)
    return {}


def _backend(rt: Runtime) -> Backend:
    return rt.shared("ec2.snapshot-blobs", lambda: make_backend(rt.settings, rt.store))


def free_unreferenced(rt: Runtime, blob_ids: Iterable[str]) -> None:
    """Delete the blobs among these that no snapshot's chunk names (their rows committed)."""
    wanted = set(blob_ids)
    if not wanted:
        return
    still: set[str] = set()
    listed = sorted(wanted)
    with rt.store.read() as s:
        for start in range(0, len(listed), 500):
            chunk = listed[start : start + 500]
            still |= set(
                s.scalars(
                    select(Ec2SnapshotChunk.blob_id)
                    .where(Ec2SnapshotChunk.blob_id.in_(chunk))
                    .distinct()
                )
            )
    gone = sorted(wanted - still)
    if gone:
        _JANITOR.submit(_delete_quietly, _backend(rt), gone)


def _delete_quietly(backend: Backend, blob_ids: list[str]) -> None:
    for blob_id in blob_ids:
        try:
            backend.delete(blob_id)
        except Exception:  # the snapshot is gone all the same; the blob is left behind
            log.exception("could not delete snapshot blob %s", blob_id)


_FILTERS: dict[str, Callable[[Ec2Snapshot], Any]] = {
    "description": lambda r: r.description,
    "encrypted": lambda r: False,
    "owner-alias": lambda r: None,
    "owner-id": lambda r: r.account_id,
    "progress": lambda r: f"{r.progress}%",
    "snapshot-id": lambda r: r.id,
    "start-time": lambda r: r.started_at.strftime("%Y-%m-%dT%H:%M:%S.000Z"),
    "status": lambda r: r.state,
    "storage-tier": lambda r: "standard",
    "volume-id": lambda r: r.volume_id,
    "volume-size": lambda r: r.volume_size_gib,
}


def _restorable(row: Ec2Snapshot, who: set[str], shared: dict[str, set[str]]) -> bool:
    """Whether any of `who` (account ids, or "all") may make volumes from the snapshot."""
    if row.is_public:
        return True
    return row.account_id in who or bool(shared.get(row.id, set()) & who)


def describe_snapshots(rt: Runtime, ctx: RequestContext, params: Params) -> Result:
    filters = parse_filters(params.get("Filters"), _FILTERS)
    account = ctx.principal.account_id
    ids = [str(i) for i in params.get("SnapshotIds") or []]
    owners = {account if o == "self" else str(o) for o in params.get("OwnerIds") or []}
    restorers = {
        account if r == "self" else str(r) for r in params.get("RestorableByUserIds") or []
    }
    for snapshot_id in ids:
        check_snapshot_id(snapshot_id)
    with rt.store.read() as s:
        query = select(Ec2Snapshot).where(restorable_by(account))
        if ids:
            query = query.where(Ec2Snapshot.id.in_(ids))
        rows = list(s.scalars(query).all())
        missing = sorted(set(ids) - {r.id for r in rows})
        if missing:
            raise errors.not_found("snapshot", missing[0])
        if owners:
            rows = [r for r in rows if r.account_id in owners]
        shared: dict[str, set[str]] = {}
        if restorers:
            p = Ec2SnapshotPermission
            owned = {r.id for r in rows if r.account_id == account}
            for snapshot_id, user in s.execute(
                select(p.snapshot_id, p.account_id).where(p.account_id.in_(restorers))
            ):
                # Whom another account shares its snapshot with is its business: the caller
                # learns only about itself there (and everything about its own snapshots).
                if snapshot_id in owned or user == account:
                    shared.setdefault(snapshot_id, set()).add(user)
            rows = [r for r in rows if _restorable(r, restorers, shared)]
        tags = tags_for(s, account, [r.id for r in rows], "snapshot") if rows else {}
    kept = [r for r in rows if matches(filters, lookup(_FILTERS, r), tags.get(r.id, {}))]
    items, token = page(kept, params, key=lambda r: r.id, max_bounds=(5, 1000))
    out: Result = {"Snapshots": [snapshot_out(r, tags.get(r.id, {})) for r in items]}
    if token:
        out["NextToken"] = token
    return out


def _permissions(s: Session, row: Ec2Snapshot) -> list[dict[str, str]]:
    users = s.scalars(
        select(Ec2SnapshotPermission.account_id)
        .where(Ec2SnapshotPermission.snapshot_id == row.id)
        .order_by(Ec2SnapshotPermission.account_id)
    ).all()
    out = [{"UserId": u} for u in users]
    return [{"Group": "all"}, *out] if row.is_public else out


def _attribute(params: Params) -> str:
    name = str(params.get("Attribute") or "")
    if name not in (PERMISSION, "productCodes"):
        raise errors.bad_snapshot_attribute(name)
    return name


def describe_snapshot_attribute(rt: Runtime, ctx: RequestContext, params: Params) -> Result:
    name = _attribute(params)
    with rt.store.read() as s:
        row = owned_snapshot(s, ctx.principal.account_id, str(params.get("SnapshotId") or ""))
        if name == "productCodes":
            return {"SnapshotId": row.id, "ProductCodes": []}
        return {"SnapshotId": row.id, "CreateVolumePermissions": _permissions(s, row)}


def _changes(params: Params) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(add, remove) createVolumePermission items, from the structured or the flat form."""
    structured = params.get("CreateVolumePermission")
    if structured:
        return list(structured.get("Add") or []), list(structured.get("Remove") or [])
    items = [{"UserId": str(u)} for u in params.get("UserIds") or []]
    items += [{"Group": str(g)} for g in params.get("GroupNames") or []]
    operation = params.get("OperationType")
    if operation not in ("add", "remove"):
        raise errors.invalid_parameter("OperationType", operation, "Expecting add or remove.")
    return (items, []) if operation == "add" else ([], items)


def _permission(s: Session, row: Ec2Snapshot, item: dict[str, Any], adding: bool) -> None:
    if item.get("Group"):
        if item["Group"] != "all":
            raise errors.bad_permission_group(str(item["Group"]))
        row.is_public = adding
        return
    user = str(item.get("UserId") or "")
    if not (len(user) == 12 and user.isdigit()):
        raise errors.malformed_user_id(user)
    found = s.get(Ec2SnapshotPermission, (row.id, user))
    if adding and found is None and user != row.account_id:
        s.add(Ec2SnapshotPermission(snapshot_id=row.id, account_id=user))
    elif not adding and found is not None:
        s.delete(found)


def modify_snapshot_attribute(rt: Runtime, ctx: RequestContext, params: Params) -> Result:
    if params.get("Attribute") not in (None, PERMISSION):
        raise errors.bad_snapshot_attribute(str(params.get("Attribute")))
    add, remove = _changes(params)
    with rt.store.session() as s:
        row = owned_snapshot(s, ctx.principal.account_id, str(params.get("SnapshotId") or ""))
        for item, adding in [(i, True) for i in add] + [(i, False) for i in remove]:
            _permission(s, row, item, adding)
            s.flush()
    return {}


def reset_snapshot_attribute(rt: Runtime, ctx: RequestContext, params: Params) -> Result:
    if params.get("Attribute") != PERMISSION:
        raise errors.bad_snapshot_attribute(str(params.get("Attribute") or ""))
    with rt.store.session() as s:
        row = owned_snapshot(s, ctx.principal.account_id, str(params.get("SnapshotId") or ""))
        s.execute(update(Ec2Snapshot).where(Ec2Snapshot.id == row.id).values(is_public=False))
        s.execute(delete(Ec2SnapshotPermission).where(Ec2SnapshotPermission.snapshot_id == row.id))
    return {}


_ONE_SNAPSHOT = frozenset(
    {
        "DeleteSnapshot",
        "DescribeSnapshotAttribute",
        "ModifySnapshotAttribute",
        "ResetSnapshotAttribute",
    }
)


def resources(ctx: RequestContext) -> list[str] | None:
    """The ARNs a snapshot operation acts on (AWS's resource types for ec2:*Snapshot*, and
    CreateVolume's source snapshot), or None for operations that are not about snapshots."""
    name, params, region = ctx.operation_name, ctx.params, ctx.region
    if name == "CreateSnapshot":
        volume = str(params.get("VolumeId") or "")
        return [
            snapshot_arn(region, "*"),
            volume_arn(region, ctx.principal.account_id, volume),
        ]
    if name == "CopySnapshot":
        # The copy (a new id) and its source: a policy on the source governs copying it.
        source = str(params.get("SourceSnapshotId") or "")
        return [snapshot_arn(region, "*"), snapshot_arn(region, source)]
    if name in _ONE_SNAPSHOT:
        return [snapshot_arn(region, str(params.get("SnapshotId") or ""))]
    if name == "CreateVolume" and params.get("SnapshotId"):
        return [
            volume_arn(region, ctx.principal.account_id, "*"),
            snapshot_arn(region, str(params["SnapshotId"])),
        ]
    return None


OPERATIONS: Operations = {
    "CreateSnapshot": create_snapshot,
    "CopySnapshot": copy_snapshot,
    "DeleteSnapshot": delete_snapshot,
    "DescribeSnapshots": describe_snapshots,
    "DescribeSnapshotAttribute": describe_snapshot_attribute,
    "ModifySnapshotAttribute": modify_snapshot_attribute,
    "ResetSnapshotAttribute": reset_snapshot_attribute,
}
