"""Instance rows as EC2 shows them: the Instance shape, states, DescribeInstances filters."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

from mallee.services.ec2.tags import tag_list
from mallee.store.tables.ec2 import Ec2Instance

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


def groups(row: Ec2Instance) -> list[dict[str, str]]:
    found: list[dict[str, str]] = json.loads(row.security_groups or "[]")
    return found


def private_dns(row: Ec2Instance, region: str) -> str:
    if not row.private_ip:
        return ""
    return f"ip-{row.private_ip.replace('.', '-')}.{region}.compute.internal"


def public_dns(row: Ec2Instance, region: str) -> str:
    if not row.public_ip:
        return ""
    return f"euca-{row.public_ip.replace('.', '-')}.{region}.compute.amazonaws.com"


def instance_out(row: Ec2Instance, tags: Mapping[str, str], region: str) -> dict[str, Any]:
    out: dict[str, Any] = {
        "InstanceId": row.id,
        "ImageId": row.image_id,
        "State": state(row.state),
        "PrivateDnsName": private_dns(row, region),
        "PublicDnsName": public_dns(row, region),
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
        "BlockDeviceMappings": [],
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
        "PrivateIpAddress": row.private_ip,
        "PublicIpAddress": row.public_ip,
    }
    out.update({k: v for k, v in optional.items() if v})
    if row.state_reason_code:
        out["StateReason"] = {
            "Code": row.state_reason_code,
            "Message": row.state_reason_message or row.state_reason_code,
        }
    if tags:
        out["Tags"] = tag_list(tags)
    return out


def _group_values(row: Ec2Instance, key: str) -> list[str]:
    return [g.get(key, "") for g in groups(row)]


# DescribeInstances filter names -> the row's value(s).
FILTERS: dict[str, Callable[[Ec2Instance], Any]] = {
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
    "private-ip-address": lambda r: r.private_ip,
    "ip-address": lambda r: r.public_ip,
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
}


def dns_filters(region: str) -> dict[str, Callable[[Ec2Instance], Any]]:
    return {
        "dns-name": lambda r: public_dns(r, region),
        "private-dns-name": lambda r: private_dns(r, region),
    }
