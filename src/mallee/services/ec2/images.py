"""EC2 images: machine (emi), kernel (eki) and ramdisk (eri) images and who may launch them.

Registering: Eucalyptus registers bundles from the object store (the bundle's manifest says
whether it is a machine, kernel or ramdisk image). Until the object store exists, mallee
registers the cloud admin's local files ("file:/abs/path"), and the file says what it is:
- a Linux kernel (x86 boot header "HdrS" at 0x202, arm64 "ARM\\x64" at 0x38) -> kernel (eki);
- a compressed or cpio archive (gzip, xz, zstd, lz4, bzip2, newc cpio) -> ramdisk (eri);
- anything else (qcow2, raw disk) -> machine (emi).
The image Name can force the type when the content is ambiguous (an ELF vmlinux, an
uncompressed initramfs): a Name (or file name) ending in "-kernel" or starting "vmlinu"/"eki-"
is a kernel, one ending in "-ramdisk" or starting "initrd"/"initramfs"/"eri-" a ramdisk.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from pathlib import Path
from typing import Any, Protocol

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from mallee.api.context import RequestContext
from mallee.ids import is_id, new_id
from mallee.objectstore.backends import Backend, make_backend
from mallee.services.base import Operations, Params, Result, Runtime
from mallee.services.ec2 import block_devices, errors
from mallee.services.ec2.filters import lookup, matches, parse_filters
from mallee.services.ec2.image_sources import BLOB_PREFIX, ImageSource, local_file, stored_object
from mallee.services.ec2.pagination import page
from mallee.services.ec2.tags import apply_tag_specifications, delete_all_tags, tag_list, tags_for
from mallee.store import Store
from mallee.store.prepared import Prepared
from mallee.store.tables.ec2 import Ec2Image, Ec2LaunchPermission

PREFIX = {"machine": "emi", "kernel": "eki", "ramdisk": "eri"}
ARCHITECTURES = ("i386", "x86_64", "arm64")
# Owner aliases AWS knows; no image of this cloud has them.
OWNER_ALIASES = ("amazon", "aws-marketplace", "aws-backup-vault", "microsoft")
_NAME = re.compile(r"[A-Za-z0-9()\[\] ./\-'@_]{3,128}")
_RAMDISK_MAGIC = (b"\x1f\x8b", b"\xfd7zXZ\x00", b"\x28\xb5\x2f\xfd", b"\x02\x21\x4c\x18", b"BZh")


def check_image_id(image_id: str) -> None:
    if not any(is_id(image_id, p) for p in (*PREFIX.values(), "ami")):
        raise errors.malformed("image", image_id, "emi")


class Launchable(Protocol):
    """What a launch check reads of an image: an Ec2Image or a plain row."""

    @property
    def id(self) -> str: ...
    @property
    def account_id(self) -> str: ...
    @property
    def is_public(self) -> bool: ...


def may_launch(s: Session, image: Launchable, account_id: str) -> bool:
    """Owned, public, or shared with the account through a launch permission."""
    if image.is_public or image.account_id == account_id:
        return True
    return s.get(Ec2LaunchPermission, (image.id, account_id)) is not None


# Prepared once: every RunInstances checks up to three images.
_LAUNCHABLE = Prepared(
    select(
        Ec2Image.id,
        Ec2Image.account_id,
        Ec2Image.is_public,
        Ec2Image.state,
        Ec2Image.image_type,
        Ec2Image.kernel_id,
        Ec2Image.ramdisk_id,
        Ec2Image.root_device_type,
        Ec2Image.root_device_name,
        Ec2Image.block_device_mappings,
    ).where(Ec2Image.id == bindparam("id"))
)


def launchable_image(s: Session, account_id: str, image_id: str, kind: str) -> Any:
    """The image, as a plain row of the columns a launch needs, if it exists, is available, the
    account may launch it and it is a `kind` image; else AWS's error (InvalidAMIID.Malformed
    for a bad id, InvalidAMIID.NotFound, InvalidParameterValue for another kind)."""
    check_image_id(image_id)
    found = _LAUNCHABLE.first(s.connection(), id=image_id)
    if found is None or found.state != "available" or not may_launch(s, found, account_id):
        raise errors.not_found("image", image_id)
    if found.image_type != kind:
        if kind == "machine":
            raise errors.invalid_value(f"Image {found.id} is not a machine image and cannot be run")
        raise errors.invalid_value(f"Image {found.id} is not a {kind} image")
    return found


def _digest(path: Path) -> tuple[str, int]:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest(), path.stat().st_size


def register_local_image(
    store: Store,
    account_id: str,
    *,
    name: str,
    path: Path,
    image_type: str,
    kernel_id: str | None = None,
    ramdisk_id: str | None = None,
    public: bool = True,
) -> str:
    """Register a file on this host for `account_id`, idempotent by name.

    The same name again returns the existing image's id, with its bits (digest, size, path)
    refreshed from `path`, so a rebuilt default image keeps its id.
    """
    if image_type not in PREFIX:
        raise ValueError(f"unknown image type {image_type!r}")
    digest, size = _digest(path)
    with store.session() as s:
        found = by_name(s, account_id, name)
        if found is None:
            found = new_row(account_id, name, image_type)
            s.add(found)
        found.location = f"file:{path.resolve()}"
        found.digest, found.size_bytes = digest, size
        found.kernel_id, found.ramdisk_id = kernel_id, ramdisk_id
        found.is_public = public
        return found.id


def by_name(s: Session, account_id: str, name: str) -> Ec2Image | None:
    return s.scalar(
        select(Ec2Image).where(
            Ec2Image.account_id == account_id,
            Ec2Image.name == name,
            Ec2Image.state != "deregistered",
        )
    )


def new_row(account_id: str, name: str, image_type: str) -> Ec2Image:
    return Ec2Image(
        id=new_id(PREFIX[image_type]),
        account_id=account_id,
        name=name,
        image_type=image_type,
        state="available",
        created_at=dt.datetime.now(dt.UTC).replace(microsecond=0),
        location="",
    )


HEAD_BYTES = 0x210


def image_type_of(path: Path, name: str = "") -> str:
    """machine, kernel or ramdisk: what the file's first bytes say, else the name's hint."""
    with path.open("rb") as f:
        head = f.read(HEAD_BYTES)
    return image_type_of_head(head, name, path.name)


def image_type_of_head(head: bytes, *hints: str) -> str:
    """The same from an image's first HEAD_BYTES bytes and names that may hint at its type."""
    if head[0x202:0x206] == b"HdrS" or head[0x38:0x3C] == b"ARM\x64":
        return "kernel"
    if head.startswith(_RAMDISK_MAGIC) or head[:6] in (b"070701", b"070702"):
        return "ramdisk"
    for hint in (h.lower() for h in hints):
        if hint.endswith("-kernel") or hint.startswith(("vmlinu", "eki-")):
            return "kernel"
        if hint.endswith("-ramdisk") or hint.startswith(("initrd", "initramfs", "eri-")):
            return "ramdisk"
    return "machine"


def image_out(image: Ec2Image, tags: dict[str, str], viewer: str | None = None) -> dict[str, Any]:
    """DescribeImages' item. Only the owner (or `viewer` None: the cloud admin) sees where the
    bits live; others see "<owner>/<name>", as AWS shows public images."""
    location = image.location
    if viewer is not None and viewer != image.account_id:
        location = f"{image.account_id}/{image.name}"
    out: dict[str, Any] = {
        "ImageId": image.id,
        "ImageLocation": location,
        "State": image.state,
        "OwnerId": image.account_id,
        "CreationDate": image.created_at.strftime("%Y-%m-%dT%H:%M:%S.000Z"),
        "Public": image.is_public,
        "Architecture": image.architecture,
        "ImageType": image.image_type,
        "Name": image.name,
        "Description": image.description,
        "RootDeviceType": image.root_device_type,
        "RootDeviceName": image.root_device_name,
        "VirtualizationType": image.virtualization_type,
        "Hypervisor": "xen",
        "PlatformDetails": "Linux/UNIX",
        "UsageOperation": "RunInstances",
        "BlockDeviceMappings": json.loads(image.block_device_mappings or "[]"),
    }
    for key, value in (
        ("KernelId", image.kernel_id),
        ("RamdiskId", image.ramdisk_id),
        ("Platform", image.platform),
    ):
        if value:
            out[key] = value
    if tags:
        out["Tags"] = tag_list(tags)
    return out


def _mappings(image: Ec2Image, field: str) -> list[Any]:
    out = []
    for m in json.loads(image.block_device_mappings or "[]"):
        value = m.get(field) if field == "DeviceName" else (m.get("Ebs") or {}).get(field)
        if value is not None:
            out.append(value)
    return out


_FILTERS = {
    "image-id": lambda i: i.id,
    "name": lambda i: i.name,
    "state": lambda i: i.state,
    "owner-id": lambda i: i.account_id,
    "owner-alias": lambda i: None,
    "image-type": lambda i: i.image_type,
    "architecture": lambda i: i.architecture,
    "is-public": lambda i: i.is_public,
    "kernel-id": lambda i: i.kernel_id,
    "ramdisk-id": lambda i: i.ramdisk_id,
    "root-device-type": lambda i: i.root_device_type,
    "root-device-name": lambda i: i.root_device_name,
    "virtualization-type": lambda i: i.virtualization_type,
    "description": lambda i: i.description,
    "hypervisor": lambda i: "xen",
    "platform": lambda i: i.platform,
    "manifest-location": lambda i: i.location,
    "creation-date": lambda i: i.created_at.strftime("%Y-%m-%dT%H:%M:%S.000Z"),
    "product-code": lambda i: None,
    "product-code.type": lambda i: None,
    "state-reason-code": lambda i: None,
    "state-reason-message": lambda i: None,
    "block-device-mapping.device-name": lambda i: _mappings(i, "DeviceName"),
    "block-device-mapping.snapshot-id": lambda i: _mappings(i, "SnapshotId"),
    "block-device-mapping.volume-size": lambda i: _mappings(i, "VolumeSize"),
    "block-device-mapping.volume-type": lambda i: _mappings(i, "VolumeType"),
    "block-device-mapping.delete-on-termination": lambda i: _mappings(i, "DeleteOnTermination"),
}


def _account_set(values: list[Any], account: str, extra: tuple[str, ...]) -> set[str]:
    """Owners / ExecutableUsers: "self" is the caller; anything not an account id or a known
    word is AWS's InvalidUserID.Malformed."""
    out = set()
    for raw in values:
        value = str(raw)
        if value == "self":
            value = account
        elif not (re.fullmatch(r"\d{12}", value) or value in extra):
            raise errors.malformed_user_id(value)
        out.add(value)
    return out


def owned_image(s: Session, ctx: RequestContext, image_id: str) -> Ec2Image:
    """An image the caller owns (the cloud admin owns all); AuthFailure for others' images."""
    check_image_id(image_id)
    image = s.get(Ec2Image, image_id)
    if image is None or image.state == "deregistered":
        raise errors.not_found("image", image_id)
    if image.account_id != ctx.principal.account_id and not ctx.principal.is_cloud_admin:
        if may_launch(s, image, ctx.principal.account_id):
            raise errors.auth_failure(f"Not authorized for image:{image_id}")
        raise errors.not_found("image", image_id)
    return image


def _executable_by(s: Session, image: Ec2Image, users: set[str]) -> bool:
    if "all" in users and image.is_public:
        return True
    return any(s.get(Ec2LaunchPermission, (image.id, u)) is not None for u in users)


def aux_image(s: Session, account_id: str, image_id: Any, kind: str) -> str | None:
    """A kernel or ramdisk id given with a machine image: launchable and of that kind."""
    return launchable_image(s, account_id, str(image_id), kind).id if image_id else None


def describe_images(rt: Runtime, ctx: RequestContext, params: Params) -> Result:
    filters = parse_filters(params.get("Filters"), _FILTERS)
    account = ctx.principal.account_id
    ids = [str(i) for i in params.get("ImageIds") or []]
    for image_id in ids:
        check_image_id(image_id)
    owners = _account_set(params.get("Owners") or [], account, OWNER_ALIASES)
    users = _account_set(params.get("ExecutableUsers") or [], account, ("all",))
    with rt.store.read() as s:
        query = select(Ec2Image).where(Ec2Image.state != "deregistered").order_by(Ec2Image.id)
        if ids:
            query = query.where(Ec2Image.id.in_(ids))
        rows = [i for i in s.scalars(query).all() if may_launch(s, i, account)]
        missing = sorted(set(ids) - {r.id for r in rows})
        if missing:
            raise errors.not_found("image", missing[0])
        if owners:
            rows = [i for i in rows if i.account_id in owners]
        if users:
            rows = [i for i in rows if _executable_by(s, i, users)]
        tags = tags_for(s, account, [r.id for r in rows])
    chosen = [i for i in rows if matches(filters, lookup(_FILTERS, i), tags.get(i.id, {}))]
    items, token = page(chosen, params, key=lambda i: i.id)
    viewer = None if ctx.principal.is_cloud_admin else account
    out: Result = {"Images": [image_out(i, tags.get(i.id, {}), viewer) for i in items]}
    if token:
        out["NextToken"] = token
    return out


def register_image(rt: Runtime, ctx: RequestContext, params: Params) -> Result:
    name = check_name(params.get("Name"))
    source = _source(rt, ctx, str(params.get("ImageLocation") or ""), params)
    kind = image_type_of_head(source.head, name, source.hint)
    arch = str(params.get("Architecture") or "x86_64")
    if arch not in ARCHITECTURES:
        raise errors.invalid_parameter("architecture", arch)
    virt = str(params.get("VirtualizationType") or "paravirtual")
    if virt not in ("paravirtual", "hvm"):
        raise errors.invalid_parameter("virtualizationType", virt)
    try:
        return _record(rt, ctx, params, name, kind, source, arch, virt)
    except BaseException:
        if source.location.startswith(BLOB_PREFIX):
            _backend(rt).delete(source.location.removeprefix(BLOB_PREFIX))
        raise


def _record(
    rt: Runtime,
    ctx: RequestContext,
    params: Params,
    name: str,
    kind: str,
    source: ImageSource,
    arch: str,
    virt: str,
) -> Result:
    account = ctx.principal.account_id
    with rt.store.session() as s:
        same = by_name(s, account, name)
        if same is not None:
            raise errors.duplicate_image_name(name, same.id)
        image = new_row(account, name, kind)
        if kind == "machine":
            image.kernel_id = aux_image(s, account, params.get("KernelId"), "kernel")
            image.ramdisk_id = aux_image(s, account, params.get("RamdiskId"), "ramdisk")
        image.location = source.location
        image.digest, image.size_bytes = source.digest, source.size
        image.is_public = False
        image.description = str(params.get("Description") or "")
        image.architecture, image.virtualization_type = arch, virt
        image.root_device_name = str(params.get("RootDeviceName") or "/dev/sda1")
        image.block_device_mappings = json.dumps(_block_devices(s, account, params))
        s.add(image)
        s.flush()
        specs = params.get("TagSpecifications")
        apply_tag_specifications(s, account, specs, {"image": [image.id]})
        return {"ImageId": image.id}


def _backend(rt: Runtime) -> Backend:
    return make_backend(rt.settings, rt.store)


def _source(rt: Runtime, ctx: RequestContext, location: str, params: Params) -> ImageSource:
    if not location:
        raise errors.missing("ImageLocation")
    if location.startswith("file:"):
        return local_file(ctx, location)
    return stored_object(rt, ctx, _backend(rt), location)


def deregister_image(rt: Runtime, ctx: RequestContext, params: Params) -> Result:
    with rt.store.session() as s:
        image = owned_image(s, ctx, str(params.get("ImageId") or ""))
        image.state = "deregistered"
        delete_all_tags(s, [image.id])
    return {"Return": True}


def check_name(raw: Any) -> str:
    name = str(raw or "")
    if not name:
        raise errors.missing("Name")
    if not _NAME.fullmatch(name):
        raise errors.malformed_image_name()
    return name


def _block_devices(s: Session, account: str, params: Params) -> list[dict[str, Any]]:
    # Only the caller's own snapshots (InvalidSnapshot.NotFound, AuthFailure for a shared
    # one), so an image cannot name, hold on to and pass on snapshots of other accounts.
    resolved = block_devices.resolve(
        s, account, block_devices.parse(params.get("BlockDeviceMappings")), owned_only=True
    )
    return [m.out() for m in resolved]


OPERATIONS: Operations = {
    "DeregisterImage": deregister_image,
    "DescribeImages": describe_images,
}
