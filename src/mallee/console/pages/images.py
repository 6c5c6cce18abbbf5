"""Images: the machine images (emi), kernels (eki) and ramdisks (eri) the account may use, a
page at a time, and one image's details."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from starlette.responses import Response

from mallee.console.context import BadRequest, Ctx, Route
from mallee.console.pages.listing import Column, api_page, ec2_filters, listing

KINDS = {"machine": "emi", "kernel": "eki", "ramdisk": "eri"}
COLUMNS = (
    Column("id", "Id"),
    Column("name", "Name"),
    Column("kind", "Kind"),
    Column("state", "State"),
    Column("owner", "Owner"),
    Column("public", "Public"),
)
FILTERS = (
    ("name", "Name"),
    ("image-id", "Id"),
    ("image-type", "Kind (machine, kernel, ramdisk)"),
    ("state", "State"),
    ("owner-id", "Owner"),
    ("description", "Description"),
)


def kind(image: dict[str, Any]) -> str:
    image_id = str(image.get("ImageId", ""))
    return KINDS.get(str(image.get("ImageType", "")), image_id.split("-", 1)[0])


def _row(i: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": i.get("ImageId", ""),
        "name": i.get("Name", ""),
        "kind": kind(i),
        "state": i.get("State", ""),
        "owner": i.get("OwnerId", ""),
        "public": "yes" if i.get("Public") else "no",
    }


def images(ctx: Ctx) -> Response:
    lst = listing(ctx, "/images", COLUMNS, FILTERS)
    ec2 = ctx.client("ec2")

    def fetch(paging: dict[str, Any]) -> tuple[list[dict[str, Any]], str | None]:
        params: dict[str, Any] = {"MaxResults": paging["size"], "Filters": ec2_filters(lst)}
        if "token" in paging:
            params["NextToken"] = paging["token"]
        answer = ec2.describe_images(**params)
        return [_row(i) for i in answer.get("Images", [])], answer.get("NextToken")

    return ctx.page("images.html", "Images", lst=api_page(lst, fetch))


def detail(ctx: Ctx) -> Response:
    image_id = ctx.arg("id")
    if not image_id:
        raise BadRequest("which image?")
    found = ctx.client("ec2").describe_images(ImageIds=[image_id]).get("Images", [])
    if not found:
        raise BadRequest(f"no image {image_id}")
    i = found[0]
    facts = [
        ("Name", i.get("Name", "")),
        ("Description", i.get("Description", "")),
        ("Kind", kind(i)),
        ("State", i.get("State", "")),
        ("Owner", i.get("OwnerId", "")),
        ("Public", "yes" if i.get("Public") else "no"),
        ("Architecture", i.get("Architecture", "")),
        ("Virtualization", i.get("VirtualizationType", "")),
        ("Root device", f"{i.get('RootDeviceName', '')} ({i.get('RootDeviceType', '')})"),
        ("Kernel", i.get("KernelId", "")),
        ("Ramdisk", i.get("RamdiskId", "")),
        ("Platform", i.get("PlatformDetails", "") or i.get("Platform", "")),
        ("Location", i.get("ImageLocation", "")),
        ("Created", i.get("CreationDate", "")),
    ]
    devices = [
        (
            m.get("DeviceName", ""),
            m.get("VirtualName", "")
            or " ".join(
                f"{k}={v}" for k, v in sorted((m.get("Ebs") or {}).items()) if v not in ("", None)
            ),
        )
        for m in i.get("BlockDeviceMappings", [])
    ]
    tags = sorted((t.get("Key", ""), t.get("Value", "")) for t in i.get("Tags") or [])
    launch = "/instances/launch?" + urlencode({"image": image_id})
    return ctx.page(
        "image_detail.html",
        f"Image {image_id}",
        facts=facts,
        devices=devices,
        tags=tags,
        launch=launch if kind(i) == "emi" and i.get("State") == "available" else "",
    )


ROUTES = [
    Route("GET", "/images", images, "/images"),
    Route("GET", "/images/detail", detail, "/images"),
]
