"""EBS volumes: the list (a page at a time, its rows polled by htmx while any is changing),
creating one (empty or from a snapshot), attaching, detaching, snapshotting and deleting."""

from __future__ import annotations

from typing import Any

from starlette.responses import Response

from mallee.console.context import BadRequest, Ctx, Route
from mallee.console.pages.listing import Column, Listing, api_page, ec2_filters, listing

DEFAULT_DEVICE = "/dev/sdf"
# EBS's own bounds for a volume's size (GiB): refused here before the API is asked.
MIN_SIZE, MAX_SIZE = 1, 16384
# States a volume (or its attachment) leaves by itself: while one is shown, the rows are
# asked for again.
CHANGING = frozenset({"creating", "deleting", "attaching", "detaching"})
# Which actions make sense in which state (the API refuses the others anyway).
_OFFERED = {
    "available": ("attach", "snapshot", "delete"),
    "in-use": ("detach", "snapshot"),
    "error": ("delete",),
}

COLUMNS = (
    Column("id", "Id"),
    Column("size", "Size (GiB)"),
    Column("zone", "Zone"),
    Column("state", "State"),
    Column("instance", "Instance"),
    Column("device", "Device"),
    Column("snapshot", "Snapshot"),
    Column("created", "Created"),
)
# EC2's own filters: the API filters, then pages.
FILTERS = (
    ("volume-id", "Id"),
    ("status", "State"),
    ("availability-zone", "Zone"),
    ("attachment.instance-id", "Instance"),
    ("snapshot-id", "Snapshot"),
    ("size", "Size (GiB)"),
)


def _row(v: dict[str, Any]) -> dict[str, Any]:
    attachment: dict[str, Any] = next(iter(v.get("Attachments") or []), {})
    state = str(v.get("State", ""))
    attaching = str(attachment.get("State", ""))
    return {
        "id": v.get("VolumeId", ""),
        "size": v.get("Size", ""),
        "zone": v.get("AvailabilityZone", ""),
        "state": state,
        # An attachment on its way shows as the volume's state: it is what is changing.
        "shown": attaching if attaching in CHANGING else state,
        "instance": attachment.get("InstanceId", ""),
        "device": attachment.get("Device", ""),
        "snapshot": v.get("SnapshotId") or "",
        "created": v.get("CreateTime", ""),
        "actions": () if attaching in CHANGING else _OFFERED.get(state, ()),
    }


def _listing(ctx: Ctx) -> Listing:
    lst = listing(ctx, "/volumes", COLUMNS, FILTERS)
    ec2 = ctx.client("ec2")

    def fetch(paging: dict[str, Any]) -> tuple[list[dict[str, Any]], str | None]:
        params: dict[str, Any] = {"MaxResults": paging["size"], "Filters": ec2_filters(lst)}
        if "token" in paging:
            params["NextToken"] = paging["token"]
        answer = ec2.describe_volumes(**params)
        return [_row(v) for v in answer.get("Volumes", [])], answer.get("NextToken")

    return api_page(lst, fetch)


def _rows(lst: Listing) -> dict[str, Any]:
    changing = any(r["shown"] in CHANGING for r in lst.rows)
    return {"lst": lst, "changing": changing, "device": DEFAULT_DEVICE}


def zones(ec2: Any) -> list[tuple[str, str]]:
    """The zones a volume may be made in, for a form's choice."""
    found = ec2.describe_availability_zones().get("AvailabilityZones", [])
    names = [str(z["ZoneName"]) for z in found if z.get("State", "available") == "available"]
    return [(n, n) for n in names]


def list_volumes(ctx: Ctx) -> Response:
    ec2 = ctx.client("ec2")
    lst = _listing(ctx)
    return ctx.page(
        "volumes.html", "Volumes", zones=zones(ec2), snapshot=ctx.arg("snapshot"), **_rows(lst)
    )


def rows(ctx: Ctx) -> Response:
    """The list's rows alone (the same page of it), for htmx's polling."""
    return ctx.fragment("_volume_rows.html", **_rows(_listing(ctx)))


def _size(text: str, required: bool) -> int | None:
    if not text:
        if required:
            raise BadRequest("give the volume's size (GiB), or a snapshot to make it from")
        return None
    try:
        size = int(text)
    except ValueError:
        raise BadRequest("the size is not a whole number of GiB") from None
    if not MIN_SIZE <= size <= MAX_SIZE:
        raise BadRequest(f"the size must be {MIN_SIZE} to {MAX_SIZE} GiB")
    return size


def create(ctx: Ctx) -> Response:
    snapshot = ctx.arg("snapshot")
    zone = ctx.arg("zone")
    if not zone:
        raise BadRequest("choose the volume's availability zone")
    params: dict[str, Any] = {"AvailabilityZone": zone}
    # From a snapshot the size may be left out: the snapshot's own.
    size = _size(ctx.arg("size"), required=not snapshot)
    if size is not None:
        params["Size"] = size
    if snapshot:
        params["SnapshotId"] = snapshot
    made = ctx.client("ec2").create_volume(**params)
    source = f" from {snapshot}" if snapshot else ""
    ctx.ok(f"Creating volume {made.get('VolumeId', '')}{source}")
    return ctx.back("/volumes")


def _volume(ctx: Ctx) -> str:
    volume_id = ctx.arg("id")
    if not volume_id:
        raise BadRequest("which volume?")
    return volume_id


def attach(ctx: Ctx) -> Response:
    volume_id, instance_id = _volume(ctx), ctx.arg("instance")
    if not instance_id:
        raise BadRequest("give the instance to attach the volume to")
    device = ctx.arg("device") or DEFAULT_DEVICE
    ctx.client("ec2").attach_volume(VolumeId=volume_id, InstanceId=instance_id, Device=device)
    ctx.ok(f"Attaching {volume_id} to {instance_id} as {device}")
    return ctx.back()


def detach(ctx: Ctx) -> Response:
    volume_id = _volume(ctx)
    # The instance may be writing to it: asked first, as AWS's console does.
    asked = ctx.confirmed(f"Detach volume {volume_id}?", "Yes, detach it")
    if asked is not None:
        return asked
    ctx.client("ec2").detach_volume(VolumeId=volume_id)
    ctx.ok(f"Detaching {volume_id}")
    return ctx.back()


def snapshot(ctx: Ctx) -> Response:
    volume_id = _volume(ctx)
    params: dict[str, Any] = {"VolumeId": volume_id}
    description = ctx.arg("description")
    if description:
        params["Description"] = description
    made = ctx.client("ec2").create_snapshot(**params)
    ctx.ok(f"Snapshot {made.get('SnapshotId', '')} of {volume_id} started")
    return ctx.back()


def delete(ctx: Ctx) -> Response:
    volume_id = _volume(ctx)
    asked = ctx.confirmed(f"Delete volume {volume_id}?", "Yes, delete it")
    if asked is not None:
        return asked
    ctx.client("ec2").delete_volume(VolumeId=volume_id)
    ctx.ok(f"Deleted volume {volume_id}")
    return ctx.back()


ROUTES = [
    Route("GET", "/volumes", list_volumes, "/volumes"),
    Route("GET", "/volumes/rows", rows, "/volumes"),
    Route("POST", "/volumes/create", create, "/volumes"),
    Route("POST", "/volumes/attach", attach, "/volumes"),
    Route("POST", "/volumes/detach", detach, "/volumes"),
    Route("POST", "/volumes/snapshot", snapshot, "/volumes"),
    Route("POST", "/volumes/delete", delete, "/volumes"),
]
