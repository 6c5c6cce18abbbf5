"""EC2 images: machine (emi), kernel (eki) and ramdisk (eri) images and who may launch them."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from mallee.api.context import RequestContext
from mallee.api.errors import ServiceError
from mallee.ids import is_id, new_id
from mallee.services.base import Params, Provider, Result
from mallee.services.ec2.filters import lookup, matches, parse_filters
from mallee.services.ec2.pagination import page
from mallee.services.ec2.tags import apply_tag_specifications, delete_all_tags, tag_list, tags_for
from mallee.store import Store
from mallee.store.tables.ec2 import Ec2Image, Ec2LaunchPermission

PREFIX = {"machine": "emi", "kernel": "eki", "ramdisk": "eri"}


def _not_found(image_id: str) -> ServiceError:
    return ServiceError("InvalidAMIID.NotFound", f"The image id '[{image_id}]' does not exist", 400)


def _check_id(image_id: str) -> None:
    if not any(is_id(image_id, p) for p in (*PREFIX.values(), "ami")):
        raise ServiceError(
            "InvalidAMIID.Malformed", f'Invalid id: "{image_id}" (expecting "emi-...")', 400
        )


def _may_launch(s: Session, image: Ec2Image, account_id: str) -> bool:
    if image.is_public or image.account_id == account_id:
        return True
    return s.get(Ec2LaunchPermission, (image.id, account_id)) is not None


def launchable_image(s: Session, account_id: str, image_id: str) -> Ec2Image:
    _check_id(image_id)
    image = s.get(Ec2Image, image_id)
    if image is None or image.state != "available" or not _may_launch(s, image, account_id):
        raise _not_found(image_id)
    return image


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
    """Register a file on this host (the admin's path); the same name again updates its bits."""
    digest, size = _digest(path)
    with store.session() as s:
        found = s.scalar(
            select(Ec2Image).where(
                Ec2Image.account_id == account_id,
                Ec2Image.name == name,
                Ec2Image.state == "available",
            )
        )
        if found is None:
            found = Ec2Image(
                id=new_id(PREFIX[image_type]),
                account_id=account_id,
                name=name,
                image_type=image_type,
                state="available",
                created_at=dt.datetime.now(dt.UTC).replace(microsecond=0),
                location="",
            )
            s.add(found)
        found.location = f"file:{path.resolve()}"
        found.digest, found.size_bytes = digest, size
        found.kernel_id, found.ramdisk_id = kernel_id, ramdisk_id
        found.is_public = public
        return found.id


def image_out(image: Ec2Image, tags: dict[str, str]) -> dict[str, Any]:
    out: dict[str, Any] = {
        "ImageId": image.id,
        "ImageLocation": image.location.removeprefix("file:"),
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
        "BlockDeviceMappings": json.loads(image.block_device_mappings or "[]"),
    }
    if image.kernel_id:
        out["KernelId"] = image.kernel_id
    if image.ramdisk_id:
        out["RamdiskId"] = image.ramdisk_id
    if tags:
        out["Tags"] = tag_list(tags)
    return out


_FILTERS = {
    "image-id": lambda i: i.id,
    "name": lambda i: i.name,
    "state": lambda i: i.state,
    "owner-id": lambda i: i.account_id,
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
}


def owned_image(s: Session, ctx: RequestContext, image_id: str) -> Ec2Image:
    """An image the caller owns (the cloud admin owns all); AuthFailure for others' images."""
    _check_id(image_id)
    image = s.get(Ec2Image, image_id)
    if image is None or image.state == "deregistered":
        raise _not_found(image_id)
    if image.account_id != ctx.principal.account_id and not ctx.principal.is_cloud_admin:
        if _may_launch(s, image, ctx.principal.account_id):
            raise ServiceError("AuthFailure", f"Not authorized for image:{image_id}", 400)
        raise _not_found(image_id)
    return image


class ImagesApi(Provider):
    def describe_images(self, ctx: RequestContext, params: Params) -> Result:
        filters = parse_filters(params.get("Filters"), _FILTERS)
        account = ctx.principal.account_id
        ids = [str(i) for i in params.get("ImageIds") or []]
        for image_id in ids:
            _check_id(image_id)
        owners = {account if o == "self" else str(o) for o in params.get("Owners") or []}
        users = {account if u == "self" else str(u) for u in params.get("ExecutableUsers") or []}
        with self.store.read() as s:
            query = select(Ec2Image).where(Ec2Image.state != "deregistered").order_by(Ec2Image.id)
            if ids:
                query = query.where(Ec2Image.id.in_(ids))
            rows = [i for i in s.scalars(query).all() if _may_launch(s, i, account)]
            if ids and len(rows) < len(set(ids)):
                missing = sorted(set(ids) - {r.id for r in rows})
                raise _not_found(missing[0])
            if owners:
                rows = [i for i in rows if i.account_id in owners]
            if users:
                rows = [i for i in rows if self._executable_by(s, i, users)]
            tags = tags_for(s, account, [r.id for r in rows])
        chosen = [i for i in rows if matches(filters, lookup(_FILTERS, i), tags.get(i.id, {}))]
        items, token = page(chosen, params, key=lambda i: i.id)
        out: Result = {"Images": [image_out(i, tags.get(i.id, {})) for i in items]}
        if token:
            out["NextToken"] = token
        return out

    @staticmethod
    def _executable_by(s: Session, image: Ec2Image, users: set[str]) -> bool:
        if "all" in users and image.is_public:
            return True
        return any(s.get(Ec2LaunchPermission, (image.id, u)) is not None for u in users)

    def register_image(self, ctx: RequestContext, params: Params) -> Result:
        location = str(params.get("ImageLocation") or "")
        name = str(params.get("Name") or "")
        if not name:
            raise ServiceError(
                "MissingParameter", "The request must contain the parameter name", 400
            )
        if not location.startswith("file:") and not location.startswith("/"):
            # Bundled images in the object store arrive with the S3 service (issue 5).
            raise ServiceError(
                "InvalidManifest.NotFound",
                f"The manifest {location} was not found in the object store",
                400,
            )
        if not ctx.principal.is_cloud_admin:
            raise ServiceError(
                "AuthFailure", "Only the cloud administrator may register local files", 400
            )
        path = Path(location.removeprefix("file:"))
        if not path.is_file():
            raise ServiceError("InvalidParameterValue", f"No image file at {path}", 400)
        kind = _kind_from(params)
        image_id = register_local_image(
            self.store,
            ctx.principal.account_id,
            name=name,
            path=path,
            image_type=kind,
            kernel_id=params.get("KernelId"),
            ramdisk_id=params.get("RamdiskId"),
            public=False,
        )
        with self.store.session() as s:
            image = s.get(Ec2Image, image_id)
            assert image is not None
            image.description = str(params.get("Description") or "")
            image.architecture = str(params.get("Architecture") or "x86_64")
            image.root_device_name = str(params.get("RootDeviceName") or "/dev/sda1")
            image.block_device_mappings = json.dumps(params.get("BlockDeviceMappings") or [])
            apply_tag_specifications(
                s, ctx.principal.account_id, params.get("TagSpecifications"), {"image": [image_id]}
            )
        return {"ImageId": image_id}

    def deregister_image(self, ctx: RequestContext, params: Params) -> Result:
        with self.store.session() as s:
            image = owned_image(s, ctx, str(params.get("ImageId", "")))
            image.state = "deregistered"
            delete_all_tags(s, [image.id])
        return {}


def _kind_from(params: Params) -> str:
    """Eucalyptus registers kernels and ramdisks by name convention (euca-register --kernel true
    marks the bundle; here the name's suffix or the Architecture-independent prefix decides)."""
    name = str(params.get("Name") or "").lower()
    for kind, prefix in (("kernel", "eki"), ("ramdisk", "eri")):
        if name.startswith(prefix + "-") or name.endswith("-" + kind):
            return kind
    return "machine"
