"""EBS snapshots: the account's own, a page at a time (rows polled by htmx while any is still
being taken), a volume made from one (on the volumes page's form, the snapshot filled in), and
deleting one."""

from __future__ import annotations

from typing import Any

from starlette.responses import Response

from mallee.console.context import BadRequest, Ctx, Route
from mallee.console.pages.listing import Column, Listing, api_page, ec2_filters, listing

# A snapshot being taken: the rows are asked for again until none is.
CHANGING = frozenset({"pending"})

COLUMNS = (
    Column("id", "Id"),
    Column("volume", "Volume"),
    Column("size", "Size (GiB)"),
    Column("state", "State"),
    Column("description", "Description"),
    Column("started", "Started"),
)
FILTERS = (
    ("snapshot-id", "Id"),
    ("volume-id", "Volume"),
    ("status", "State"),
    ("description", "Description"),
)


def _row(s: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": s.get("SnapshotId", ""),
        "volume": s.get("VolumeId", ""),
        "size": s.get("VolumeSize", ""),
        "state": s.get("State", ""),
        "progress": s.get("Progress", ""),
        "description": s.get("Description", ""),
        "started": s.get("StartTime", ""),
    }


def _listing(ctx: Ctx) -> Listing:
    lst = listing(ctx, "/snapshots", COLUMNS, FILTERS)
    ec2 = ctx.client("ec2")

    def fetch(paging: dict[str, Any]) -> tuple[list[dict[str, Any]], str | None]:
        # Only the account's own: every public snapshot of the cloud is not this page's.
        params: dict[str, Any] = {
            "OwnerIds": ["self"],
            "MaxResults": paging["size"],
            "Filters": ec2_filters(lst),
        }
        if "token" in paging:
            params["NextToken"] = paging["token"]
        answer = ec2.describe_snapshots(**params)
        return [_row(s) for s in answer.get("Snapshots", [])], answer.get("NextToken")

    return api_page(lst, fetch)


def _rows(lst: Listing) -> dict[str, Any]:
    changing = any(r["state"] in CHANGING for r in lst.rows)
    return {"lst": lst, "changing": changing}


def list_snapshots(ctx: Ctx) -> Response:
    return ctx.page("snapshots.html", "Snapshots", **_rows(_listing(ctx)))


def rows(ctx: Ctx) -> Response:
    """The list's rows alone (the same page of it), for htmx's polling."""
    return ctx.fragment("_snapshot_rows.html", **_rows(_listing(ctx)))


def delete(ctx: Ctx) -> Response:
    snapshot_id = ctx.arg("id")
    if not snapshot_id:
        raise BadRequest("which snapshot?")
    asked = ctx.confirmed(f"Delete snapshot {snapshot_id}?", "Yes, delete it")
    if asked is not None:
        return asked
    ctx.client("ec2").delete_snapshot(SnapshotId=snapshot_id)
    ctx.ok(f"Deleted snapshot {snapshot_id}")
    return ctx.back()


ROUTES = [
    Route("GET", "/snapshots", list_snapshots, "/snapshots"),
    Route("GET", "/snapshots/rows", rows, "/snapshots"),
    Route("POST", "/snapshots/delete", delete, "/snapshots"),
]
