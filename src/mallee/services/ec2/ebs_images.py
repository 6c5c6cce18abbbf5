"""EBS-backed images: RegisterImage from a root snapshot (and, with an ImageLocation, the
instance-store images of mallee.services.ec2.images).

An EBS-backed image is only rows: its block device mappings name snapshots, and each launch
makes volumes of them. As Eucalyptus, it boots paravirtually: the KernelId/RamdiskId given,
else the cloud's default eki/eri. `register_ebs_image` is what other modules (CreateImage,
ImportInstance) call within their own transaction.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from mallee.api.context import RequestContext
from mallee.services.base import Operations, Params, Result, Runtime
from mallee.services.ec2 import block_devices, errors, images
from mallee.services.ec2.block_devices import Mapping, invalid_mapping
from mallee.services.ec2.tags import apply_tag_specifications
from mallee.store.tables.ec2 import Ec2Image

# What `mallee up` registers the default image's kernel and ramdisk as (cli/up.py).
DEFAULT_KERNEL = "mallee-default-kernel"
DEFAULT_RAMDISK = "mallee-default-ramdisk"
ROOT_DEVICE = "/dev/sda"


def default_aux(s: Session, kind: str) -> str | None:
    """The cloud's default eki or eri: the public one `mallee up` registered, if any."""
    name = DEFAULT_KERNEL if kind == "kernel" else DEFAULT_RAMDISK
    found = s.scalar(
        select(Ec2Image.id)
        .where(
            Ec2Image.name == name,
            Ec2Image.image_type == kind,
            Ec2Image.state == "available",
            Ec2Image.is_public.is_(True),
        )
        .order_by(Ec2Image.created_at)
        .limit(1)
    )
    return str(found) if found else None


def register_ebs_image(
    s: Session,
    account: str,
    *,
    name: str,
    mappings: list[Mapping],
    root_device_name: str = ROOT_DEVICE,
    description: str = "",
    kernel_id: str | None = None,
    ramdisk_id: str | None = None,
    architecture: str = "x86_64",
    state: str = "available",
    source_instance_id: str | None = None,
    restart_source: bool = False,
) -> Ec2Image:
    """Write an EBS-backed machine image of `mappings` (as `resolve` made them, or, for a
    pending CreateImage, Ebs mappings whose snapshots are still to be taken). Checks the name
    (InvalidAMIName.*), the root mapping and the kernel/ramdisk; adds the row to `s`."""
    image = ebs_image_row(
        s,
        account,
        name=name,
        mappings=mappings,
        root_device_name=root_device_name,
        description=description,
        kernel_id=kernel_id,
        ramdisk_id=ramdisk_id,
        architecture=architecture,
        state=state,
        source_instance_id=source_instance_id,
        restart_source=restart_source,
    )
    s.add(image)
    s.flush()
    return image


def ebs_image_row(
    s: Session,
    account: str,
    *,
    name: str,
    mappings: list[Mapping],
    root_device_name: str = ROOT_DEVICE,
    description: str = "",
    kernel_id: str | None = None,
    ramdisk_id: str | None = None,
    architecture: str = "x86_64",
    state: str = "available",
    source_instance_id: str | None = None,
    restart_source: bool = False,
) -> Ec2Image:
    """The row `register_ebs_image` writes, checked, not added to `s` (an import's storage
    agent writes it once the snapshot is made)."""
    images.check_name(name)
    same = images.by_name(s, account, name)
    if same is not None:
        raise errors.duplicate_image_name(name, same.id)
    if not block_devices.DEVICE.fullmatch(root_device_name):
        raise errors.invalid_parameter("RootDeviceName", root_device_name)
    root = block_devices.root_of(mappings, root_device_name)
    if root is None:
        raise invalid_mapping(f"The root device {root_device_name} must have an Ebs mapping.")
    if not root.snapshot_id and source_instance_id is None:
        raise invalid_mapping(
            f"The Ebs mapping of the root device {root_device_name} must name a snapshot."
        )
    image = images.new_row(account, name, "machine")
    image.kernel_id = images.aux_image(s, account, kernel_id or default_aux(s, "kernel"), "kernel")
    image.ramdisk_id = images.aux_image(
        s, account, ramdisk_id or default_aux(s, "ramdisk"), "ramdisk"
    )
    image.state = state
    image.location = ""
    image.is_public = False
    image.description = description
    image.architecture = architecture
    image.virtualization_type = "paravirtual"
    image.root_device_type = "ebs"
    image.root_device_name = root_device_name
    image.block_device_mappings = block_devices.to_json(mappings)
    image.source_instance_id = source_instance_id
    image.restart_source = restart_source
    return image


def register_image(rt: Runtime, ctx: RequestContext, params: Params) -> Result:
    """RegisterImage: from a root snapshot when no ImageLocation is given, else the bundle or
    file it names."""
    if params.get("ImageLocation") or not params.get("BlockDeviceMappings"):
        return images.register_image(rt, ctx, params)
    name = images.check_name(params.get("Name"))
    arch = str(params.get("Architecture") or "x86_64")
    if arch not in images.ARCHITECTURES:
        raise errors.invalid_parameter("architecture", arch)
    if str(params.get("VirtualizationType") or "paravirtual") != "paravirtual":
        raise errors.invalid_parameter(
            "virtualizationType",
            params["VirtualizationType"],
            "EBS-backed images boot paravirtually (their kernel and ramdisk).",
        )
    root_device = str(params.get("RootDeviceName") or "")
    if not root_device:
        raise errors.missing("RootDeviceName")
    parsed = block_devices.parse(params.get("BlockDeviceMappings"))
    account = ctx.principal.account_id
    with rt.store.session() as s:
        # As AWS: only the account's own snapshots (a shared one is copied first).
        mappings = block_devices.resolve(s, account, parsed, owned_only=True)
        image = register_ebs_image(
            s,
            account,
            name=name,
            mappings=mappings,
            root_device_name=root_device,
            description=str(params.get("Description") or ""),
            kernel_id=params.get("KernelId"),
            ramdisk_id=params.get("RamdiskId"),
            architecture=arch,
        )
        apply_tag_specifications(s, account, params.get("TagSpecifications"), {"image": [image.id]})
        return {"ImageId": image.id}


OPERATIONS: Operations = {"RegisterImage": register_image}
