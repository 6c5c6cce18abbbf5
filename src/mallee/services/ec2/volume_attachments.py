"""AttachVolume and DetachVolume, and the ARNs volume operations are authorized on.

AttachVolume moves the volume available -> in-use and writes its attachment `attaching` in one
transaction (the conditional UPDATE makes a second, racing attach fail); the storage agent then
exports the volume and the instance's node plugs it in (`attached`); a stopped instance's is
`attached` at once and plugged at its start, and may be its root. DetachVolume marks the
attachment `detaching`; the node unplugs it, removes the row and makes the volume available.
"""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import select, update

from mallee.api.context import RequestContext
from mallee.services.base import Operations, Params, Result, Runtime
from mallee.services.ec2 import errors
from mallee.services.ec2.block_devices import at_root
from mallee.services.ec2.instances import owned
from mallee.services.ec2.volumes import (
    attachment_out,
    now,
    owned_volume,
    rows_changed,
    volume_arn,
)
from mallee.store import Store
from mallee.store.tables.ebs import Ec2Volume, Ec2VolumeAttachment
from mallee.store.tables.ec2 import Ec2Instance

# AWS's names for data volumes on Linux (sdf-sdp, xvdf-xvdp) and the virtio names the guest
# really gives them; the guest finds a volume by its serial either way.
_DEVICE = re.compile(r"/dev/(?:sd[f-p]|xvd[f-p]|vd[b-z])")
# Hot-plugged virtio-blk devices each take a PCI slot of QEMU's pc machine (32, some used).
MAX_ATTACHMENTS = 16


def attach_volume(rt: Runtime, ctx: RequestContext, params: Params) -> Result:
    volume_id = str(params.get("VolumeId") or "")
    instance_id = str(params.get("InstanceId") or "")
    device = str(params.get("Device") or "")
    if not device:
        raise errors.missing("Device")
    account = ctx.principal.account_id
    with rt.store.session() as s:
        volume = owned_volume(s, account, volume_id)
        if not instance_id:
            raise errors.missing("InstanceId")
        instance = owned(s, account, [instance_id])[0]
        # An EBS instance's root device takes a volume again (AWS's rescue of a root volume:
        # detached while stopped, mended elsewhere, attached back before the start).
        ebs_root = instance.root_device_type == "ebs" and device == instance.root_device_name
        if not (_DEVICE.fullmatch(device) or ebs_root):
            raise errors.bad_device(device)
        if volume.state == "in-use":
            raise errors.volume_in_use(volume_id)
        if volume.state != "available":
            raise errors.volume_not_available(volume_id, volume.state)
        if volume.availability_zone != instance.availability_zone:
            raise errors.zone_mismatch(volume_id, instance_id)
        if instance.state not in ("running", "stopped"):
            raise errors.not_attachable(instance_id)
        others = s.scalars(
            select(Ec2VolumeAttachment).where(Ec2VolumeAttachment.instance_id == instance_id)
        ).all()
        root_taken = instance.root_device_type != "ebs" or any(
            at_root(a.device, instance.root_device_name) for a in others
        )
        if any(a.device == device for a in others) or (
            at_root(device, instance.root_device_name) and root_taken
        ):
            raise errors.device_in_use(device)
        if len(others) >= MAX_ATTACHMENTS:
            raise errors.attachment_limit(instance_id, MAX_ATTACHMENTS)
        taken = rows_changed(
            s.execute(
                update(Ec2Volume)
                .where(Ec2Volume.id == volume_id, Ec2Volume.state == "available")
                .values(state="in-use")
            )
        )
        if not taken:
            raise errors.volume_in_use(volume_id)
        attachment = Ec2VolumeAttachment(
            volume_id=volume_id,
            instance_id=instance_id,
            device=device,
            # A stopped instance has no VM to plug it into: attached now, plugged at its start
            # (the storage agent exports a stopped instance's volumes only then).
            state="attached" if instance.state == "stopped" else "attaching",
            delete_on_termination=False,
            attached_at=now(),
            force=False,
            exported=False,
        )
        s.add(attachment)
        s.flush()
        return attachment_out(attachment)


def detach_volume(rt: Runtime, ctx: RequestContext, params: Params) -> Result:
    volume_id = str(params.get("VolumeId") or "")
    instance_id = str(params.get("InstanceId") or "")
    device = str(params.get("Device") or "")
    account = ctx.principal.account_id
    with rt.store.session() as s:
        volume = owned_volume(s, account, volume_id)
        if instance_id:
            owned(s, account, [instance_id])
        attachment = s.get(Ec2VolumeAttachment, volume_id)
        if attachment is None:
            raise errors.volume_not_available(volume_id, volume.state)
        if (instance_id and attachment.instance_id != instance_id) or (
            device and attachment.device != device
        ):
            raise errors.attachment_not_found(volume_id, instance_id or attachment.instance_id)
        holder = s.get(Ec2Instance, attachment.instance_id)
        if holder is not None and holder.state != "terminated":
            if attachment.device == holder.root_device_name and holder.state != "stopped":
                raise errors.root_volume_attached(volume_id, holder.id)
            if holder.state == "stopped" or holder.node is None:
                # No VM holds it (a stopped instance's volumes are not plugged anywhere).
                s.delete(attachment)
                volume.state = "available"
                s.flush()
                out = attachment_out(attachment)
                return {**out, "State": "detached"}
        force = bool(params.get("Force"))
        values: dict[str, Any] = {"state": "detaching"}
        if force:
            values["force"] = True
        s.execute(
            update(Ec2VolumeAttachment)
            .where(Ec2VolumeAttachment.volume_id == volume_id)
            .values(**values)
        )
        s.refresh(attachment)
        return attachment_out(attachment)


# Operations naming a volume, and those naming an instance too.
_ONE_VOLUME = frozenset(
    {
        "DeleteVolume",
        "DetachVolume",
        "DescribeVolumeAttribute",
        "ModifyVolumeAttribute",
        "EnableVolumeIO",
        "ModifyVolume",
    }
)


def attached_to(store: Store, volume_id: str) -> str:
    """The instance the volume is attached to, "" when none."""
    with store.read() as s:
        found = s.get(Ec2VolumeAttachment, volume_id)
        return found.instance_id if found is not None else ""


def resources(store: Store, ctx: RequestContext) -> list[str] | None:
    """The ARNs a volume operation acts on (AWS's resource types for ec2:*Volume*), or None
    for operations that are not about volumes."""
    name, params = ctx.operation_name, ctx.params
    account, region = ctx.principal.account_id, ctx.region
    if name == "CreateVolume":
        return [volume_arn(region, account, "*")]
    if name == "AttachVolume":
        instance = str(params.get("InstanceId") or "")
        return [
            f"arn:aws:ec2:{region}:{account}:instance/{instance}",
            volume_arn(region, account, str(params.get("VolumeId") or "")),
        ]
    if name in _ONE_VOLUME:
        volume = str(params.get("VolumeId") or "")
        arns = [volume_arn(region, account, volume)]
        if name == "DetachVolume":
            # The instance the volume leaves is authorized too, named or not (as AWS does).
            instance = str(params.get("InstanceId") or "") or attached_to(store, volume)
            if instance:
                arns.insert(0, f"arn:aws:ec2:{region}:{account}:instance/{instance}")
        return arns
    return None


OPERATIONS: Operations = {
    "AttachVolume": attach_volume,
    "DetachVolume": detach_volume,
}
