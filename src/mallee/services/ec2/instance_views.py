"""Instance rows as EC2 shows them: the Instance shape, states, DescribeInstances filters."""

from __future__ import annotations

import json
from collections.abc import Callable, Collection, Mapping
from datetime import datetime
from functools import lru_cache
from types import SimpleNamespace
from typing import Any, Protocol, cast

from sqlalchemy import Row, Select, select
from sqlalchemy.orm import Session

from mallee.api.protocol.frozen import Frozen
from mallee.dns_names import DnsDomains
from mallee.services.ec2.interface_views import FILTERS as INTERFACE_FILTERS
from mallee.services.ec2.interface_views import (
    INSTANCE_FILTERS,
    Interface,
    dns_filter,
    instance_interface_out,
)
from mallee.services.ec2.tags import tag_list
from mallee.store.tables.ebs import Ec2Volume, Ec2VolumeAttachment
from mallee.store.tables.ec2 import Ec2Instance


class InstanceView(Protocol):
    """What the views read of an instance: an Ec2Instance, or a row of view_query()."""

    @property
    def id(self) -> str: ...
    @property
    def account_id(self) -> str: ...
    @property
    def reservation_id(self) -> str: ...
    @property
    def client_token(self) -> str | None: ...
    @property
    def launch_index(self) -> int: ...
    @property
    def image_id(self) -> str: ...
    @property
    def kernel_id(self) -> str | None: ...
    @property
    def ramdisk_id(self) -> str | None: ...
    @property
    def instance_type(self) -> str: ...
    @property
    def cores(self) -> int: ...
    @property
    def key_name(self) -> str | None: ...
    @property
    def availability_zone(self) -> str: ...
    @property
    def security_groups(self) -> str: ...
    @property
    def monitoring(self) -> bool: ...
    @property
    def root_device_type(self) -> str: ...
    @property
    def root_device_name(self) -> str: ...
    @property
    def state(self) -> str: ...
    @property
    def state_reason_code(self) -> str | None: ...
    @property
    def state_reason_message(self) -> str | None: ...
    @property
    def transition_reason(self) -> str: ...
    @property
    def private_ip(self) -> str | None: ...
    @property
    def public_ip(self) -> str | None: ...
    @property
    def launch_time(self) -> datetime: ...
    @property
    def iam_instance_profile_arn(self) -> str | None: ...
    @property
    def iam_instance_profile_id(self) -> str | None: ...
    @property
    def vpc_id(self) -> str | None: ...
    @property
    def subnet_id(self) -> str | None: ...


_VIEW_FIELDS = [name for name in vars(InstanceView) if not name.startswith("_")]


def view_query(account_id: str) -> Select[Any]:
    """Plain rows of just the viewed columns, for the Core connection: a DescribeInstances of
    thousands of instances reads no user data or keys and builds no ORM objects."""
    t = Ec2Instance.__table__.c
    return (
        select(*(t[name] for name in _VIEW_FIELDS))
        .where(t.account_id == account_id)
        .order_by(t.reservation_id, t.launch_index)
    )


STATE_CODES = {
    "pending": 0,
    "running": 16,
    "shutting-down": 32,
    "terminated": 48,
    "stopping": 64,
    "stopped": 80,
}
# States in which an instance holds node resources.
LIVE_STATES = ("pending", "running", "stopping", "shutting-down")


def state(name: str) -> dict[str, Any]:
    return {"Code": STATE_CODES[name], "Name": name}


def groups(row: InstanceView) -> list[dict[str, str]]:
    return _parsed_groups(row.security_groups or "[]")


@lru_cache(maxsize=4096)
def _parsed_groups(text: str) -> list[dict[str, str]]:
    # Shared between rows with the same groups: callers only read it.
    found: list[dict[str, str]] = json.loads(text)
    return found


def private_ip(row: InstanceView) -> str | None:
    """A terminated instance holds no address (AWS drops them): the row keeps what it had,
    which a new instance may hold now."""
    return row.private_ip if row.state != "terminated" else None


def public_ip(row: InstanceView) -> str | None:
    return row.public_ip if row.state != "terminated" else None


def private_dns(row: InstanceView, names: DnsDomains) -> str:
    return names.private_name(private_ip(row))


def public_dns(row: InstanceView, names: DnsDomains) -> str:
    return names.public_name(public_ip(row))


# One EBS mapping of an instance: (device, volume id, attachment state, attach time,
# DeleteOnTermination).
Device = tuple[str, str, str, datetime, bool]


def devices_of(
    s: Session, account: str, ids: Collection[str] | None = None
) -> dict[str, tuple[Device, ...]]:
    """Instance id -> its EBS mappings (its volume attachments), for the account's instances
    (one query whatever their number) or those of `ids`."""
    a, v = Ec2VolumeAttachment, Ec2Volume
    query = (
        select(
            a.instance_id, a.device, a.volume_id, a.state, a.attached_at, a.delete_on_termination
        )
        .join(v, v.id == a.volume_id)
        .where(v.account_id == account)
        .order_by(a.instance_id, a.device)
    )
    if ids is not None:
        query = query.where(a.instance_id.in_(list(ids)))
    out: dict[str, list[Device]] = {}
    for instance_id, *device in s.execute(query).all():
        out.setdefault(instance_id, []).append(cast(Device, tuple(device)))
    return {k: tuple(found) for k, found in out.items()}


def device_out(device: Device) -> dict[str, Any]:
    """AWS's InstanceBlockDeviceMapping."""
    name, volume_id, status, attached_at, delete = device
    return {
        "DeviceName": name,
        "Ebs": {
            "VolumeId": volume_id,
            "Status": status,
            "AttachTime": attached_at,
            "DeleteOnTermination": delete,
        },
    }


def instance_out(
    row: InstanceView,
    tags: Mapping[str, str],
    names: DnsDomains,
    devices: tuple[Device, ...] = (),
    interfaces: tuple[Interface, ...] = (),
) -> Frozen:
    """The Instance shape; rendered once per distinct set of values (see Frozen)."""
    values = tuple(row) if isinstance(row, Row) else tuple(getattr(row, f) for f in _VIEW_FIELDS)
    return _instance_out(values, tuple(tags.items()), names, devices, interfaces)


@lru_cache(maxsize=8192)
def _instance_out(
    values: tuple[Any, ...],
    tag_items: tuple[tuple[str, str], ...],
    names: DnsDomains,
    devices: tuple[Device, ...] = (),
    interfaces: tuple[Interface, ...] = (),
) -> Frozen:
    row = cast(InstanceView, SimpleNamespace(**dict(zip(_VIEW_FIELDS, values, strict=True))))
    out: dict[str, Any] = {
        "InstanceId": row.id,
        "ImageId": row.image_id,
        "State": state(row.state),
        "PrivateDnsName": private_dns(row, names),
        "PublicDnsName": public_dns(row, names),
        "StateTransitionReason": row.transition_reason,
        "AmiLaunchIndex": row.launch_index,
        "ProductCodes": [],
        "InstanceType": row.instance_type,
        "LaunchTime": row.launch_time,
        "Placement": {"AvailabilityZone": row.availability_zone, "Tenancy": "default"},
        "Monitoring": {"State": "enabled" if row.monitoring else "disabled"},
        "Architecture": "x86_64",
        "RootDeviceType": row.root_device_type,
        "RootDeviceName": row.root_device_name,
        "BlockDeviceMappings": [device_out(d) for d in devices],
        "VirtualizationType": "paravirtual",
        "Hypervisor": "xen",
        "ClientToken": row.client_token or "",
        "SecurityGroups": groups(row),
        "SourceDestCheck": True,
        "EbsOptimized": False,
        "CpuOptions": {"CoreCount": row.cores, "ThreadsPerCore": 1},
    }
    optional = {
        "KernelId": row.kernel_id,
        "RamdiskId": row.ramdisk_id,
        "KeyName": row.key_name,
        "PrivateIpAddress": private_ip(row),
        "PublicIpAddress": public_ip(row),
        # A terminated instance has left its subnet (its interface went with it).
        "VpcId": row.vpc_id if row.state != "terminated" else None,
        "SubnetId": row.subnet_id if row.state != "terminated" else None,
    }
    out.update({k: v for k, v in optional.items() if v})
    if row.iam_instance_profile_arn:
        out["IamInstanceProfile"] = {
            "Arn": row.iam_instance_profile_arn,
            "Id": row.iam_instance_profile_id,
        }
    if row.state_reason_code:
        out["StateReason"] = {
            "Code": row.state_reason_code,
            "Message": row.state_reason_message or row.state_reason_code,
        }
    if row.vpc_id and row.state != "terminated":
        out["NetworkInterfaces"] = [instance_interface_out(e, names) for e in interfaces]
    if tag_items:
        out["Tags"] = tag_list(dict(tag_items))
    return Frozen(out)


def _group_values(row: InstanceView, key: str) -> list[str]:
    return [g.get(key, "") for g in groups(row)]


# DescribeInstances filter names -> the row's value(s).
FILTERS: dict[str, Callable[[InstanceView], Any]] = {
    "instance-id": lambda r: r.id,
    "instance-state-name": lambda r: r.state,
    "instance-state-code": lambda r: str(STATE_CODES[r.state]),
    "instance-type": lambda r: r.instance_type,
    "image-id": lambda r: r.image_id,
    "kernel-id": lambda r: r.kernel_id,
    "ramdisk-id": lambda r: r.ramdisk_id,
    "key-name": lambda r: r.key_name,
    "availability-zone": lambda r: r.availability_zone,
    "placement-availability-zone": lambda r: r.availability_zone,
    "reservation-id": lambda r: r.reservation_id,
    "owner-id": lambda r: r.account_id,
    "launch-index": lambda r: str(r.launch_index),
    "private-ip-address": private_ip,
    "ip-address": public_ip,
    "root-device-type": lambda r: r.root_device_type,
    "root-device-name": lambda r: r.root_device_name,
    "monitoring-state": lambda r: "enabled" if r.monitoring else "disabled",
    "client-token": lambda r: r.client_token,
    "architecture": lambda r: "x86_64",
    "virtualization-type": lambda r: "paravirtual",
    "hypervisor": lambda r: "xen",
    "launch-time": lambda r: r.launch_time.strftime("%Y-%m-%dT%H:%M:%S.000Z"),
    "state-reason-code": lambda r: r.state_reason_code,
    "state-reason-message": lambda r: r.state_reason_message,
    "group-id": lambda r: _group_values(r, "GroupId"),
    "group-name": lambda r: _group_values(r, "GroupName"),
    "instance.group-id": lambda r: _group_values(r, "GroupId"),
    "instance.group-name": lambda r: _group_values(r, "GroupName"),
    "tenancy": lambda r: "default",
    "vpc-id": lambda r: r.vpc_id if r.state != "terminated" else None,
    "subnet-id": lambda r: r.subnet_id if r.state != "terminated" else None,
    "iam-instance-profile.arn": lambda r: r.iam_instance_profile_arn,
    "iam-instance-profile.id": lambda r: r.iam_instance_profile_id,
}


def dns_filters(names: DnsDomains) -> dict[str, Callable[[InstanceView], Any]]:
    return {
        "dns-name": lambda r: public_dns(r, names),
        "private-dns-name": lambda r: private_dns(r, names),
    }


def interface_filters(
    interfaces: Mapping[str, tuple[Interface, ...]], names: DnsDomains
) -> dict[str, Callable[[InstanceView], Any]]:
    """DescribeInstances' network-interface.* filters: the values of the instance's
    interfaces (`interfaces`: instance id -> its interfaces)."""
    by_name = {**INTERFACE_FILTERS, "private-dns-name": dns_filter(names)}

    def on_interfaces(name: str) -> Callable[[InstanceView], Any]:
        if not name:  # network-interface.addresses.primary: each has a primary address
            return lambda r: ["true"] if interfaces.get(r.id) else []
        fn = by_name[name]
        return lambda r: [fn(e) for e in interfaces.get(r.id, ())]

    return {key: on_interfaces(name) for key, name in INSTANCE_FILTERS.items()}
