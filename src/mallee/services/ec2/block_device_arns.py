"""The ARNs RunInstances, RegisterImage and CreateImage are authorized on: as AWS lists their
resource types, and every snapshot their block device mappings make volumes of or put in an
image, so a policy denying a snapshot denies them as it denies CreateVolume and CopySnapshot."""

from __future__ import annotations

from typing import Any

from mallee.api.context import RequestContext
from mallee.api.errors import ServiceError
from mallee.services.ec2 import block_devices
from mallee.services.ec2.block_devices import Mapping
from mallee.services.ec2.snapshot_access import snapshot_arn
from mallee.services.ec2.volumes import volume_arn
from mallee.store import Store
from mallee.store.tables.ec2 import Ec2Image


def _image_arn(region: str, image_id: str) -> str:
    # As AWS's: an image ARN names no account.
    return f"arn:aws:ec2:{region}::image/{image_id}"


def _requested(raw: Any) -> list[Mapping]:
    """The request's mappings; for a malformed list (the operation refuses it later), every
    snapshot it names, so nothing it names escapes the policy."""
    try:
        return block_devices.parse(raw)
    except ServiceError:
        found: list[Mapping] = []
        for item in raw if isinstance(raw, list) else []:
            ebs = item.get("Ebs") if isinstance(item, dict) else None
            if isinstance(ebs, dict) and ebs.get("SnapshotId"):
                found.append(Mapping(device="", ebs=True, snapshot_id=str(ebs["SnapshotId"])))
        return found


def _launch_mappings(store: Store, image_id: str, requested: list[Mapping]) -> list[Mapping]:
    """The image's mappings with the request's on top, as the launch merges them (the
    request's alone when the image is not found: the launch then fails anyway)."""
    with store.read() as s:
        image = s.get(Ec2Image, image_id) if image_id else None
        stored = image.block_device_mappings if image is not None else None
    try:
        own = block_devices.stored(stored)
    except ServiceError:
        own = []
    return block_devices.merge(own, requested)


def _snapshots(region: str, mappings: list[Mapping]) -> list[str]:
    ids = sorted({m.snapshot_id for m in mappings if m.ebs and not m.no_device and m.snapshot_id})
    return [snapshot_arn(region, i) for i in ids]


def resources(store: Store, ctx: RequestContext) -> list[str] | None:
    """The ARNs of a launch or an image registration, or None for other operations."""
    name, params = ctx.operation_name, ctx.params
    region, account = ctx.region, ctx.principal.account_id
    requested = _requested(params.get("BlockDeviceMappings"))
    if name == "RunInstances":
        image_id = str(params.get("ImageId") or "")
        mappings = _launch_mappings(store, image_id, requested)
        arns = [f"arn:aws:ec2:{region}:{account}:instance/*", _image_arn(region, image_id)]
        if any(m.ebs and not m.no_device for m in mappings):
            arns.append(volume_arn(region, account, "*"))
        return arns + _snapshots(region, mappings)
    if name == "RegisterImage":
        return [_image_arn(region, "*"), *_snapshots(region, requested)]
    if name == "CreateImage":
        instance = str(params.get("InstanceId") or "")
        return [
            _image_arn(region, "*"),
            f"arn:aws:ec2:{region}:{account}:instance/{instance}",
            # The snapshots it takes of the instance's volumes, and those the request names.
            snapshot_arn(region, "*"),
            *_snapshots(region, requested),
        ]
    return None
