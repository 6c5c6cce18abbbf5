"""Describe/Modify/ResetImageAttribute: description, kernel, ramdisk and launch permissions."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from mallee.api.context import RequestContext
from mallee.services.base import Operations, Params, Result, Runtime
from mallee.services.ec2 import errors
from mallee.services.ec2.images import aux_image, owned_image
from mallee.store.tables.ec2 import Ec2Image, Ec2LaunchPermission


def _permissions(s: Session, image: Ec2Image) -> list[dict[str, str]]:
    users = s.scalars(
        select(Ec2LaunchPermission.account_id)
        .where(Ec2LaunchPermission.image_id == image.id)
        .order_by(Ec2LaunchPermission.account_id)
    ).all()
    out = [{"UserId": u} for u in users]
    return [{"Group": "all"}, *out] if image.is_public else out


def _value(v: str | None) -> dict[str, Any]:
    return {"Value": v} if v else {}


def _read(s: Session, image: Ec2Image, name: str) -> tuple[str, Any]:
    if name == "description":
        return "Description", _value(image.description)
    if name == "kernel":
        return "KernelId", _value(image.kernel_id)
    if name == "ramdisk":
        return "RamdiskId", _value(image.ramdisk_id)
    if name == "launchPermission":
        return "LaunchPermissions", _permissions(s, image)
    if name == "productCodes":
        return "ProductCodes", []
    if name == "blockDeviceMapping":
        return "BlockDeviceMappings", json.loads(image.block_device_mappings or "[]")
    raise errors.invalid_value(
        f"Value ({name}) for parameter attribute is invalid. Unknown attribute."
    )


def _changes(params: Params) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(add, remove) launch permissions from either the structured or the flat form."""
    if params.get("LaunchPermission"):
        perm = params["LaunchPermission"]
        return list(perm.get("Add") or []), list(perm.get("Remove") or [])
    items = [{"UserId": str(u)} for u in params.get("UserIds") or []]
    items += [{"Group": str(g)} for g in params.get("UserGroups") or []]
    operation = params.get("OperationType")
    if operation not in ("add", "remove"):
        raise errors.invalid_value("OperationType must be add or remove")
    return (items, []) if operation == "add" else ([], items)


def describe_image_attribute(rt: Runtime, ctx: RequestContext, params: Params) -> Result:
    name = str(params.get("Attribute", ""))
    with rt.store.read() as s:
        image = owned_image(s, ctx, str(params.get("ImageId", "")))
        key, value = _read(s, image, name)
        return {"ImageId": image.id, key: value}


def modify_image_attribute(rt: Runtime, ctx: RequestContext, params: Params) -> Result:
    with rt.store.session() as s:
        image = owned_image(s, ctx, str(params.get("ImageId", "")))
        attribute = params.get("Attribute")
        if params.get("Description") is not None or attribute == "description":
            desc = params.get("Description") or {"Value": params.get("Value")}
            image.description = str(desc.get("Value") or "")
            return {}
        if attribute in ("kernel", "ramdisk"):
            # Eucalyptus lets the owner point a machine image at another kernel/ramdisk.
            if image.image_type != "machine":
                raise errors.invalid_value(f"Image {image.id} is not a machine image")
            new = aux_image(s, ctx.principal.account_id, params.get("Value"), attribute)
            setattr(image, f"{attribute}_id", new)
            return {}
        add, remove = _changes(params)
        for item, adding in [(i, True) for i in add] + [(i, False) for i in remove]:
            _permission(s, image, item, adding)
    return {}


def _permission(s: Session, image: Ec2Image, item: dict[str, Any], adding: bool) -> None:
    if item.get("Group"):
        if item["Group"] != "all":
            raise errors.bad_attribute_item("group", item["Group"])
        image.is_public = adding
        return
    user = str(item.get("UserId") or "")
    if not (len(user) == 12 and user.isdigit()):
        raise errors.bad_attribute_item("userId", user)
    found = s.get(Ec2LaunchPermission, (image.id, user))
    if adding and found is None:
        s.add(Ec2LaunchPermission(image_id=image.id, account_id=user))
    elif not adding and found is not None:
        s.delete(found)


def reset_image_attribute(rt: Runtime, ctx: RequestContext, params: Params) -> Result:
    if params.get("Attribute") != "launchPermission":
        raise errors.invalid_value("Only the launchPermission attribute can be reset")
    with rt.store.session() as s:
        image = owned_image(s, ctx, str(params.get("ImageId", "")))
        image.is_public = False
        s.execute(delete(Ec2LaunchPermission).where(Ec2LaunchPermission.image_id == image.id))
    return {}


OPERATIONS: Operations = {
    "DescribeImageAttribute": describe_image_attribute,
    "ModifyImageAttribute": modify_image_attribute,
    "ResetImageAttribute": reset_image_attribute,
}
