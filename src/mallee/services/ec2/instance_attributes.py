"""Describe/Modify/ResetInstanceAttribute and DescribeInstanceStatus."""

from __future__ import annotations

import json
import time
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from mallee.api.context import RequestContext
from mallee.registry import components
from mallee.services.base import Operations, Params, Result, Runtime
from mallee.services.ec2 import errors, security_groups
from mallee.services.ec2 import instance_views as views
from mallee.services.ec2.filters import Filter, lookup, matches, parse_filters
from mallee.services.ec2.instance_types import get_type
from mallee.services.ec2.instances import owned
from mallee.services.ec2.launch import user_data, user_data_limit
from mallee.services.ec2.pagination import page
from mallee.store.tables.ebs import Ec2VolumeAttachment
from mallee.store.tables.ec2 import Ec2Image, Ec2Instance


def _value(v: Any) -> dict[str, Any]:
    return {"Value": v}


# attribute name -> (result key, value from the row)
_DESCRIBE: dict[str, tuple[str, Any]] = {
    "instanceType": ("InstanceType", lambda r: _value(r.instance_type)),
    "kernel": ("KernelId", lambda r: _value(r.kernel_id) if r.kernel_id else {}),
    "ramdisk": ("RamdiskId", lambda r: _value(r.ramdisk_id) if r.ramdisk_id else {}),
    "userData": ("UserData", lambda r: _value(r.user_data) if r.user_data else {}),
    "disableApiTermination": (
        "DisableApiTermination",
        lambda r: _value(r.disable_api_termination),
    ),
    "instanceInitiatedShutdownBehavior": (
        "InstanceInitiatedShutdownBehavior",
        lambda r: _value(r.shutdown_behavior),
    ),
    "rootDeviceName": ("RootDeviceName", lambda r: _value(r.root_device_name)),
    "blockDeviceMapping": ("BlockDeviceMappings", lambda r: []),
    "productCodes": ("ProductCodes", lambda r: []),
    "sourceDestCheck": ("SourceDestCheck", lambda r: _value(True)),
    "groupSet": ("Groups", views.groups),
    "ebsOptimized": ("EbsOptimized", lambda r: _value(False)),
    "disableApiStop": ("DisableApiStop", lambda r: _value(False)),
}

# Status filters read the InstanceStatus dict being returned.
_STATUS_FILTERS = {
    "availability-zone": lambda st: st["AvailabilityZone"],
    "instance-state-name": lambda st: st["InstanceState"]["Name"],
    "instance-state-code": lambda st: str(st["InstanceState"]["Code"]),
}


def describe_instance_attribute(rt: Runtime, ctx: RequestContext, params: Params) -> Result:
    name = str(params.get("Attribute", ""))
    if name not in _DESCRIBE:
        raise errors.invalid_value(
            f"Value ({name}) for parameter attribute is invalid. Unknown attribute."
        )
    key, read = _DESCRIBE[name]
    account = ctx.principal.account_id
    with rt.store.read() as s:
        row = owned(s, account, [str(params.get("InstanceId", ""))])[0]
        if name == "blockDeviceMapping":
            devices = views.devices_of(s, account, [row.id]).get(row.id, ())
            return {"InstanceId": row.id, key: [views.device_out(d) for d in devices]}
        return {"InstanceId": row.id, key: read(row)}


def modify_instance_attribute(rt: Runtime, ctx: RequestContext, params: Params) -> Result:
    changes = _requested_changes(params)
    with rt.store.session() as s:
        row = owned(s, ctx.principal.account_id, [str(params.get("InstanceId", ""))])[0]
        for attribute, value in changes:
            if attribute == "userData":
                _require_stopped(row)
                row.user_data = user_data(value, user_data_limit(rt.store))
            else:
                _apply(s, row, attribute, value)
    return {}


def reset_instance_attribute(rt: Runtime, ctx: RequestContext, params: Params) -> Result:
    name = str(params.get("Attribute", ""))
    if name not in ("kernel", "ramdisk", "sourceDestCheck"):
        raise errors.invalid_value(f"Value ({name}) for parameter attribute is invalid.")
    with rt.store.session() as s:
        row = owned(s, ctx.principal.account_id, [str(params.get("InstanceId", ""))])[0]
        if name != "sourceDestCheck":
            _require_stopped(row)
            # Back to the image's own kernel/ramdisk.
            image = s.get(Ec2Image, row.image_id)
            if name == "kernel":
                row.kernel_id = image.kernel_id if image else None
            else:
                row.ramdisk_id = image.ramdisk_id if image else None
    return {}


def describe_instance_status(rt: Runtime, ctx: RequestContext, params: Params) -> Result:
    filters = parse_filters(params.get("Filters"), [*_STATUS_FILTERS, *_HEALTH_FILTERS])
    ids = params.get("InstanceIds") or []
    everything = bool(params.get("IncludeAllInstances")) or bool(ids)
    now = time.time()
    with rt.store.read() as s:
        if ids:
            rows = owned(s, ctx.principal.account_id, ids)
        else:
            rows = list(
                s.scalars(
                    select(Ec2Instance)
                    .where(Ec2Instance.account_id == ctx.principal.account_id)
                    .order_by(Ec2Instance.id)
                ).all()
            )
    # A DISABLED node still runs its instances; only a silent one impairs them.
    alive = {
        r.name
        for r in components.list_services(rt.store, now=now)
        if r.type == "node" and r.state in ("ENABLED", "DISABLED")
    }
    statuses = []
    for row in rows:
        if row.state != "running" and not (everything and row.state != "terminated"):
            continue
        status = _status(row, row.node in alive, now)
        if _keep(filters, status):
            statuses.append(status)
    chosen, token = page(statuses, params, key=lambda st: st["InstanceId"])
    out: Result = {"InstanceStatuses": chosen}
    if token:
        out["NextToken"] = token
    return out


def _status(row: Ec2Instance, node_alive: bool, now: float) -> dict[str, Any]:
    out: dict[str, Any] = {
        "InstanceId": row.id,
        "AvailabilityZone": row.availability_zone,
        "InstanceState": views.state(row.state),
    }
    if row.state == "running":
        # A node that stopped reporting makes every instance on it impaired (system check).
        system = "ok" if node_alive else "impaired"
        booting = now - row.state_changed_at < 60
        instance = "initializing" if booting else system
        out["SystemStatus"] = _summary(system)
        out["InstanceStatus"] = _summary(instance)
    else:
        out["SystemStatus"] = {"Status": "not-applicable"}
        out["InstanceStatus"] = {"Status": "not-applicable"}
    out["Events"] = []
    return out


def _keep(filters: list[Filter], status: dict[str, Any]) -> bool:
    return not filters or matches(filters, lookup(_ALL_STATUS_FILTERS, status), {})


def _summary(status: str) -> dict[str, Any]:
    passed = {"ok": "passed", "impaired": "failed", "initializing": "initializing"}[status]
    return {"Status": status, "Details": [{"Name": "reachability", "Status": passed}]}


_HEALTH_FILTERS = {
    "system-status.status": lambda st: st["SystemStatus"]["Status"],
    "instance-status.status": lambda st: st["InstanceStatus"]["Status"],
    "system-status.reachability": lambda st: [
        d["Status"] for d in st["SystemStatus"].get("Details", [])
    ],
    "instance-status.reachability": lambda st: [
        d["Status"] for d in st["InstanceStatus"].get("Details", [])
    ],
}


_ALL_STATUS_FILTERS = {**_STATUS_FILTERS, **_HEALTH_FILTERS}


def _requested_changes(params: Params) -> list[tuple[str, Any]]:
    """(attribute, value) pairs from either Attribute+Value or the typed members."""
    typed = {
        "InstanceType": "instanceType",
        "Kernel": "kernel",
        "Ramdisk": "ramdisk",
        "UserData": "userData",
        "DisableApiTermination": "disableApiTermination",
        "InstanceInitiatedShutdownBehavior": "instanceInitiatedShutdownBehavior",
        "SourceDestCheck": "sourceDestCheck",
        "EbsOptimized": "ebsOptimized",
    }
    changes: list[tuple[str, Any]] = []
    for member, attribute in typed.items():
        if member in params:
            value = params[member]
            changes.append((attribute, value.get("Value") if isinstance(value, dict) else value))
    if params.get("Attribute"):
        changes.append((str(params["Attribute"]), params.get("Value")))
    if params.get("Groups"):
        changes.append(("groupSet", params["Groups"]))
    if params.get("BlockDeviceMappings"):
        changes.append(("blockDeviceMapping", params["BlockDeviceMappings"]))
    if not changes:
        raise errors.no_attributes()
    return changes


def _require_stopped(row: Ec2Instance) -> None:
    if row.state != "stopped":
        raise errors.not_stopped(row.id)


def _bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).lower()
    if text not in ("true", "false"):
        raise errors.invalid_value(
            f"Value ({value}) for parameter value is invalid. Expected a boolean."
        )
    return text == "true"


def _set_groups(s: Session, row: Ec2Instance, value: Any) -> None:
    """New security groups (ids, the caller's own) for a live instance: membership rows for
    the nodes' firewalls, the JSON column for the Describe views."""
    if row.state in ("shutting-down", "terminated"):
        raise errors.incorrect_state(row.id, "modified")
    ids = [str(g) for g in (value if isinstance(value, list) else [value]) if g]
    if not ids:
        raise errors.missing("groupId")
    groups = [security_groups.own_by_id(s, row.account_id, gid) for gid in dict.fromkeys(ids)]
    security_groups.set_membership(s, row.id, [g.id for g in groups])
    row.security_groups = json.dumps(security_groups.group_refs(groups))


def _set_delete_on_termination(s: Session, row: Ec2Instance, value: Any) -> None:
    """DeleteOnTermination of the instance's volumes, by device (the only part of an EBS
    mapping that changes after launch)."""
    if row.state in ("shutting-down", "terminated"):
        raise errors.incorrect_state(row.id, "modified")
    for item in value if isinstance(value, list) else [value]:
        device = str((item or {}).get("DeviceName") or "")
        ebs = (item or {}).get("Ebs") or {}
        if not device:
            raise errors.missing("BlockDeviceMapping.DeviceName")
        found = s.scalar(
            select(Ec2VolumeAttachment).where(
                Ec2VolumeAttachment.instance_id == row.id, Ec2VolumeAttachment.device == device
            )
        )
        if found is None:
            raise errors.invalid_value(f"No volume is attached to {row.id} at {device}")
        if ebs.get("VolumeId") and ebs["VolumeId"] != found.volume_id:
            raise errors.invalid_value(
                f"Volume {ebs['VolumeId']} is not the one attached to {row.id} at {device}"
            )
        if ebs.get("DeleteOnTermination") is not None:
            found.delete_on_termination = _bool(ebs["DeleteOnTermination"])


def _apply(s: Any, row: Ec2Instance, attribute: str, value: Any) -> None:
    if attribute == "disableApiTermination":
        row.disable_api_termination = _bool(value)
    elif attribute == "instanceInitiatedShutdownBehavior":
        if value not in ("stop", "terminate"):
            raise errors.invalid_value(f"Value ({value}) for parameter value is invalid.")
        row.shutdown_behavior = str(value)
    elif attribute == "instanceType":
        _require_stopped(row)
        itype = get_type(s, str(value))
        row.instance_type = itype.name
        row.cores, row.memory_mb, row.disk_gb = itype.cores, itype.memory_mb, itype.disk_gb
    elif attribute in ("kernel", "ramdisk"):
        _require_stopped(row)
        setattr(row, f"{attribute}_id", str(value) or None)
    elif attribute == "groupSet":
        _set_groups(s, row, value)
    elif attribute == "blockDeviceMapping":
        _set_delete_on_termination(s, row, value)
    elif attribute == "sourceDestCheck":
        if not _bool(value):
            # EDGE does not check source/destination, so only the value it has can be set.
            raise errors.no_source_dest_check()
    elif attribute == "ebsOptimized":
        if _bool(value):
            raise errors.not_ebs_optimized(row.id)
    else:
        raise errors.invalid_value(f"Value ({attribute}) for parameter attribute is invalid.")


OPERATIONS: Operations = {
    "DescribeInstanceAttribute": describe_instance_attribute,
    "DescribeInstanceStatus": describe_instance_status,
    "ModifyInstanceAttribute": modify_instance_attribute,
    "ResetInstanceAttribute": reset_instance_attribute,
}
