"""Block device mappings (RegisterImage, RunInstances, CreateImage): parsing, validation, and
the volumes an instance's EBS mappings become.

A mapping gives a device name exactly one of: `Ebs` (a volume made for the instance, from
`SnapshotId` or empty of `VolumeSize`), `VirtualName: ephemeralN` (an instance-store disk the
node makes, sized by the instance type) or `NoDevice` (drops the image's mapping of that
device at launch). As AWS and Eucalyptus 3.3+, an EBS-backed image's root device (/dev/sda)
is one of its Ebs mappings, and images get no ephemeral disk unless they name one.

Everything is checked before anything is written: a launch that fails leaves no volume behind.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, replace
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from mallee.api.errors import ServiceError
from mallee.ids import new_id
from mallee.services.ec2 import errors
from mallee.services.ec2.snapshot_access import usable_snapshot
from mallee.services.ec2.volumes import DEFAULT_TYPE, MAX_SIZE, now
from mallee.store.tables.ebs import Ec2Volume, Ec2VolumeAttachment

# Linux device names EC2 takes: sda-sdz (a partition digit allowed: /dev/sda1 roots),
# xvda-xvdzz, and the virtio names the guest really gives.
DEVICE = re.compile(r"/dev/(?:sd[a-z][1-9]?|xvd[a-z]{1,2}[1-9]?|vd[a-z])")
EPHEMERAL = re.compile(r"ephemeral(?:[0-9]|1[0-9]|2[0-3])")
# Disks of one instance: hot-plugged ones take PCI slots of QEMU's pc machine too.
MAX_MAPPINGS = 16


def invalid_mapping(message: str) -> ServiceError:
    return errors.invalid_block_device_mapping(message)


@dataclass(frozen=True, slots=True)
class Mapping:
    """One mapping. For an Ebs mapping parsed from a request, None/"" mean "not given" (an
    override at launch keeps the image's value); `resolve` fills them in."""

    device: str
    ebs: bool = False
    virtual_name: str = ""
    no_device: bool = False
    snapshot_id: str = ""
    size: int | None = None
    delete_on_termination: bool | None = None
    volume_type: str = ""

    def out(self) -> dict[str, Any]:
        """AWS's BlockDeviceMapping shape (DescribeImages, DescribeImageAttribute)."""
        if self.no_device:
            return {"DeviceName": self.device, "NoDevice": ""}
        if not self.ebs:
            return {"DeviceName": self.device, "VirtualName": self.virtual_name}
        ebs: dict[str, Any] = {"Encrypted": False}
        if self.snapshot_id:
            ebs["SnapshotId"] = self.snapshot_id
        if self.size is not None:
            ebs["VolumeSize"] = self.size
        if self.delete_on_termination is not None:
            ebs["DeleteOnTermination"] = self.delete_on_termination
        if self.volume_type:
            ebs["VolumeType"] = self.volume_type
        return {"DeviceName": self.device, "Ebs": ebs}


def _bool(raw: Any, name: str) -> bool:
    if isinstance(raw, bool):
        return raw
    text = str(raw).lower()
    if text not in ("true", "false"):
        raise errors.invalid_parameter(name, raw)
    return text == "true"


def _ebs(device: str, raw: dict[str, Any]) -> Mapping:
    if raw.get("Encrypted") or raw.get("KmsKeyId"):
        raise errors.unsupported_operation("Encrypted volumes are not supported.")
    size: int | None = None
    if raw.get("VolumeSize") is not None:
        try:
            size = int(raw["VolumeSize"])
        except (TypeError, ValueError) as err:
            raise errors.invalid_parameter("VolumeSize", raw["VolumeSize"]) from err
    volume_type = str(raw.get("VolumeType") or "")
    if volume_type and volume_type not in MAX_SIZE:
        raise errors.invalid_parameter("volumeType", volume_type, "Supported: standard, gp2, gp3.")
    dot = raw.get("DeleteOnTermination")
    return Mapping(
        device=device,
        ebs=True,
        snapshot_id=str(raw.get("SnapshotId") or ""),
        size=size,
        delete_on_termination=None if dot is None else _bool(dot, "DeleteOnTermination"),
        volume_type=volume_type,
    )


def parse(raw: Any) -> list[Mapping]:
    """The mappings of a request (or of a stored image), checked for form only."""
    out: list[Mapping] = []
    for item in raw or []:
        if not isinstance(item, dict):
            raise invalid_mapping("A block device mapping must name a device and what it maps.")
        device = str(item.get("DeviceName") or "")
        if not device:
            raise errors.missing("BlockDeviceMapping.DeviceName")
        if not DEVICE.fullmatch(device):
            raise invalid_mapping(f"Invalid device name {device}")
        given = [k for k in ("Ebs", "VirtualName", "NoDevice") if item.get(k) is not None]
        if len(given) != 1:
            raise invalid_mapping(
                f"The mapping of {device} must specify exactly one of Ebs, VirtualName or NoDevice."
            )
        if given[0] == "NoDevice":
            out.append(Mapping(device=device, no_device=True))
        elif given[0] == "VirtualName":
            name = str(item["VirtualName"])
            if not EPHEMERAL.fullmatch(name):
                raise invalid_mapping(f"Invalid virtual name {name} for {device}")
            out.append(Mapping(device=device, virtual_name=name))
        else:
            out.append(_ebs(device, dict(item["Ebs"] or {})))
    devices = [m.device for m in out]
    repeated = sorted({d for d in devices if devices.count(d) > 1})
    if repeated:
        raise invalid_mapping(f"The device {repeated[0]} is mapped more than once.")
    if len(out) > MAX_MAPPINGS:
        raise invalid_mapping(f"At most {MAX_MAPPINGS} block device mappings are supported.")
    return out


def stored(text: str | None) -> list[Mapping]:
    """An image's mappings as it keeps them (JSON of AWS's shape)."""
    return parse(json.loads(text or "[]"))


def to_json(mappings: list[Mapping]) -> str:
    return json.dumps([m.out() for m in mappings])


def merge(base: list[Mapping], overrides: list[Mapping]) -> list[Mapping]:
    """An image's mappings with a launch's on top: NoDevice drops a device, an Ebs mapping
    over an Ebs one changes only what it gives, anything else replaces it."""
    by_device = {m.device: m for m in base}
    for o in overrides:
        b = by_device.get(o.device)
        if o.no_device:
            by_device.pop(o.device, None)
        elif o.ebs and b is not None and b.ebs:
            by_device[o.device] = replace(
                b,
                snapshot_id=o.snapshot_id or b.snapshot_id,
                size=o.size if o.size is not None else b.size,
                delete_on_termination=(
                    o.delete_on_termination
                    if o.delete_on_termination is not None
                    else b.delete_on_termination
                ),
                volume_type=o.volume_type or b.volume_type,
            )
        else:
            by_device[o.device] = o
    return list(by_device.values())


def resolve(
    s: Session,
    account: str,
    mappings: list[Mapping],
    *,
    checked_as: dict[str, str] | None = None,
    owned_only: bool = False,
) -> list[Mapping]:
    """Every Ebs mapping made whole: its snapshot one the account may use (locked until the
    transaction ends, so it cannot be deleted meanwhile) and completed, its size the
    snapshot's unless given (never smaller), within its type's range; DeleteOnTermination true
    and the default volume type unless given. NoDevice mappings are left out.

    `checked_as` names snapshots checked as another account: an image's own snapshots are its
    owner's to use (as AWS, the image's launch permission is enough to launch it). With
    `owned_only` a snapshot must be the account's own: an image names only its owner's
    snapshots, or sharing it would hand on snapshots only shared with that owner."""
    out: list[Mapping] = []
    for m in mappings:
        if m.no_device:
            continue
        if not m.ebs:
            out.append(m)
            continue
        size = m.size
        if m.snapshot_id:
            user = (checked_as or {}).get(m.snapshot_id, account)
            snapshot = usable_snapshot(s, user, m.snapshot_id, lock=True)
            if owned_only and snapshot.account_id != account:
                raise errors.auth_failure(f"Not authorized for snapshot:{snapshot.id}")
            if snapshot.state != "completed":
                raise errors.snapshot_not_completed(snapshot.id, snapshot.state)
            if size is None:
                size = snapshot.volume_size_gib
            elif size < snapshot.volume_size_gib:
                raise invalid_mapping(
                    f"Volume of size {size}GiB for {m.device} is smaller than snapshot "
                    f"'{snapshot.id}', expect size >= {snapshot.volume_size_gib}GiB"
                )
        elif size is None:
            raise invalid_mapping(
                f"The Ebs mapping of {m.device} must specify a snapshot id or a volume size."
            )
        volume_type = m.volume_type or DEFAULT_TYPE
        high = MAX_SIZE[volume_type]
        if not 1 <= size <= high:
            raise errors.bad_volume_size(size, volume_type, 1, high)
        dot = True if m.delete_on_termination is None else m.delete_on_termination
        out.append(replace(m, size=size, delete_on_termination=dot, volume_type=volume_type))
    return out


def root_of(mappings: list[Mapping], root_device: str) -> Mapping | None:
    """The Ebs mapping of the root device, if there is one (the kernel's /dev/sda1 root of an
    instance-store image is also found by its disk's name, /dev/sda)."""
    for m in mappings:
        if m.ebs and at_root(m.device, root_device):
            return m
    return None


def at_root(device: str, root_device: str) -> bool:
    """Whether `device` is the root device (a /dev/sda1 root is also /dev/sda's disk)."""
    return device in (root_device, root_device.rstrip("0123456789"))


def root_attached(s: Session, instance_id: str, root_device: str) -> bool:
    """Whether a volume is attached (and not leaving) at the instance's root device."""
    a = Ec2VolumeAttachment
    devices = s.scalars(
        select(a.device).where(a.instance_id == instance_id, a.state != "detaching")
    ).all()
    return any(at_root(d, root_device) for d in devices)


def create_volumes(
    s: Session, account: str, zone: str, instance_ids: list[str], mappings: list[Mapping]
) -> list[str]:
    """For each instance, a volume (`creating`) per resolved Ebs mapping, attached at its
    device (`attaching`): the storage agent makes and exports it, the node boots or plugs it.
    Returns the new volume ids."""
    made: list[str] = []
    at = now()
    for instance_id in instance_ids:
        for m in mappings:
            if not m.ebs:
                continue
            volume_id = new_id("vol")
            s.add(
                Ec2Volume(
                    id=volume_id,
                    account_id=account,
                    availability_zone=zone,
                    size_gib=m.size,
                    volume_type=m.volume_type or DEFAULT_TYPE,
                    snapshot_id=m.snapshot_id,
                    state="creating",
                    created_at=at,
                    storage_host="",
                    auto_enable_io=False,
                    io_enabled=True,
                    status_message="",
                )
            )
            s.add(
                Ec2VolumeAttachment(
                    volume_id=volume_id,
                    instance_id=instance_id,
                    device=m.device,
                    state="attaching",
                    delete_on_termination=bool(m.delete_on_termination),
                    attached_at=at,
                    force=False,
                    exported=False,
                )
            )
            made.append(volume_id)
    s.flush()
    return made
