"""Images: the machine images (emi), kernels (eki) and ramdisks (eri) the account may use."""

from __future__ import annotations

from typing import Any

from mallee.api.http import HttpResponse
from mallee.console.context import Ctx, Route
from mallee.console.html import section, table
from mallee.console.pages.common import paged

KINDS = {"machine": "emi", "kernel": "eki", "ramdisk": "eri"}


def kind(image: dict[str, Any]) -> str:
    image_id = str(image.get("ImageId", ""))
    return KINDS.get(str(image.get("ImageType", "")), image_id.split("-", 1)[0])


def images(ctx: Ctx) -> HttpResponse:
    rows = [
        (
            i.get("ImageId", ""),
            i.get("Name", ""),
            kind(i),
            i.get("State", ""),
            i.get("OwnerId", ""),
            "yes" if i.get("Public") else "no",
        )
        for i in paged(ctx.client("ec2"), "describe_images", "Images")
    ]
    return ctx.page(
        "Images",
        section(
            "Images you can launch",
            table(["Id", "Name", "Kind", "State", "Owner", "Public"], rows, empty="No images."),
        ),
    )


ROUTES = [Route("GET", "/images", images, "/images")]
