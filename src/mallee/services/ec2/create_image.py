"""CreateImage: an EBS-backed image of an EBS-backed instance, running or stopped.

Every volume attached to the instance is snapshotted and the image's mappings name those
snapshots; the image is `pending` until they complete (the controller, mallee.controller.
images, then makes it `available`, or `failed` when one fails).

- A stopped instance, or NoReboot: the snapshots are written `pending` at once (a running
  guest's disk is then copied crash-consistently, by the storage daemon's point-in-time
  backup).
- A running instance without NoReboot: as AWS reboots it, it is stopped first (so the guest
  flushes and unmounts its file systems), the controller takes the snapshots once it is
  stopped, and starts it again once they are complete.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from mallee.api.context import RequestContext
from mallee.ids import new_id
from mallee.services.base import Operations, Params, Result, Runtime
from mallee.services.ec2 import block_devices, errors, images
from mallee.services.ec2.block_devices import Mapping
from mallee.services.ec2.ebs_images import register_ebs_image
from mallee.services.ec2.instances import move, owned
from mallee.services.ec2.tags import apply_tag_specifications
from mallee.services.ec2.volumes import _check_capacity, now
from mallee.store.tables.ebs import Ec2Snapshot, Ec2Volume, Ec2VolumeAttachment


def _volumes(s: Session, instance_id: str) -> list[tuple[Ec2VolumeAttachment, Ec2Volume]]:
    """The instance's attached volumes (not those on their way out), by device."""
    a, v = Ec2VolumeAttachment, Ec2Volume
    found = s.execute(
        select(a, v)
        .join(v, v.id == a.volume_id)
        .where(a.instance_id == instance_id, a.state != "detaching")
        .order_by(a.device)
    ).all()
    return [(row[0], row[1]) for row in found]


def _snapshot(volume: Ec2Volume, instance_id: str, image_id: str, snapshot_id: str) -> Ec2Snapshot:
    return Ec2Snapshot(
        id=snapshot_id,
        account_id=volume.account_id,
        volume_id=volume.id,
        volume_size_gib=volume.size_gib,
        description=f"Created by CreateImage({instance_id}) for {image_id} from {volume.id}",
        state="pending",
        progress=0,
        started_at=now(),
        storage_host=volume.storage_host,
        status_message="",
        is_public=False,
        data_bytes=0,
    )


def create_image(rt: Runtime, ctx: RequestContext, params: Params) -> Result:
    name = images.check_name(params.get("Name"))
    instance_id = str(params.get("InstanceId") or "")
    if not instance_id:
        raise errors.missing("InstanceId")
    overrides = block_devices.parse(params.get("BlockDeviceMappings"))
    description = str(params.get("Description") or "")
    if len(description) > 255:
        raise errors.invalid_parameter("Description", description[:32] + "...", "At most 255.")
    account = ctx.principal.account_id
    with rt.store.session() as s:
        row = owned(s, account, [instance_id])[0]
        if row.root_device_type != "ebs":
            raise errors.invalid_value(
                f"The instance '{row.id}' is not EBS-backed: only an EBS-backed instance's "
                "volumes can be made an image."
            )
        if row.state not in ("running", "stopped"):
            raise errors.incorrect_state(row.id, "imaged")
        stop_first = row.state == "running" and not params.get("NoReboot")
        attached = _volumes(s, row.id)
        taken: dict[str, str] = {}
        own: list[Mapping] = []
        for attachment, volume in attached:
            snapshot_id = "" if stop_first else new_id("snap")
            if snapshot_id:
                taken[snapshot_id] = volume.id
            own.append(
                Mapping(
                    device=attachment.device,
                    ebs=True,
                    snapshot_id=snapshot_id,
                    size=volume.size_gib,
                    delete_on_termination=attachment.delete_on_termination,
                    volume_type=volume.volume_type,
                )
            )
        own += block_devices.stored(row.block_device_mappings)
        mappings = _with_overrides(s, account, own, overrides)
        if any(m.ebs for m in overrides):
            # Its launches make all of them at once: refused now if no launch could.
            _check_capacity(s, row.availability_zone, sum(m.size or 0 for m in mappings if m.ebs))
        image = register_ebs_image(
            s,
            account,
            name=name,
            mappings=mappings,
            root_device_name=row.root_device_name,
            description=description,
            kernel_id=row.kernel_id,
            ramdisk_id=row.ramdisk_id,
            state="pending",
            source_instance_id=row.id,
            restart_source=stop_first,
        )
        kept = {m.snapshot_id for m in mappings if m.snapshot_id}
        volumes = {v.id: v for _, v in attached}
        for snapshot_id, volume_id in taken.items():
            if snapshot_id in kept:
                s.add(_snapshot(volumes[volume_id], row.id, image.id, snapshot_id))
        s.flush()
        if stop_first:
            move(row, "stopping", f"User initiated (CreateImage {image.id})")
        apply_tag_specifications(
            s,
            account,
            params.get("TagSpecifications"),
            {"image": [image.id], "snapshot": sorted(kept & set(taken))},
        )
        return {"ImageId": image.id}


def _with_overrides(
    s: Session, account: str, own: list[Mapping], overrides: list[Mapping]
) -> list[Mapping]:
    """The instance's mappings with the request's: NoDevice leaves a volume out, an Ebs
    mapping of a device the instance has changes its size or DeleteOnTermination, a new one
    (from a snapshot or a size) is added as RunInstances would make it. Every mapping the
    request gives a snapshot (or turns into an Ebs one) is checked as RegisterImage checks it:
    the account's own snapshot, completed, no larger than its volume."""
    devices = {m.device: m for m in own}
    merged = [m for m in block_devices.merge(own, overrides) if not m.no_device]
    given = {o.device for o in overrides if o.ebs and o.snapshot_id}
    new = [
        m
        for m in merged
        if m.device not in devices or (m.ebs and (m.device in given or not devices[m.device].ebs))
    ]
    resolved = {m.device: m for m in block_devices.resolve(s, account, new, owned_only=True)}
    out: list[Mapping] = []
    for m in merged:
        if m.device in resolved:
            out.append(resolved[m.device])
            continue
        before = devices[m.device]
        if m.ebs and before.size is not None and m.size is not None and m.size < before.size:
            raise block_devices.invalid_mapping(
                f"Volume of size {m.size}GiB for {m.device} is smaller than its volume "
                f"({before.size}GiB)"
            )
        out.append(m)
    return out


OPERATIONS: Operations = {"CreateImage": create_image}
