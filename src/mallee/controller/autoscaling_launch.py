"""A group's launches: the activity row first, then EC2 RunInstances through the internal call
with the activity's id as ClientToken, then the instance recorded into the group.

RunInstances answers a repeated ClientToken with the reservation it made the first time, so a
launch whose controller died between the call and the record is called again (`adopt`) and
records the instance it already made: one activity never makes two instances.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import Any

from sqlalchemy import update

from mallee.controller.alarm_actions import AccountCalls, ActionFailed
from mallee.controller.autoscaling_rows import (
    GroupView,
    end_activity,
    join_causes,
    loads,
    new_activity,
    stamp,
)
from mallee.store import Store
from mallee.store.tables.autoscaling import AsActivity, AsInstance, AsLaunchConfiguration
from mallee.store.tables.ec2 import Ec2Tag

log = logging.getLogger(__name__)

GROUP_TAG = "aws:autoscaling:groupName"
STARTED = "Launching a new EC2 instance"


@dataclass(frozen=True, slots=True)
class Spot:
    """Where a launch goes."""

    zone: str
    subnet: str = ""


def launch_cause(capacity_cause: str, before: int, after: int, now: float) -> str:
    return join_causes(
        capacity_cause,
        f"At {stamp(now)} an instance was started in response to a difference between desired "
        f"and actual capacity, increasing the capacity from {before} to {after}.",
    )


def _mapping(m: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {"DeviceName": m.get("DeviceName", "")}
    if m.get("VirtualName"):
        out["VirtualName"] = m["VirtualName"]
    if m.get("NoDevice"):
        out["NoDevice"] = ""
    ebs = m.get("Ebs")
    if isinstance(ebs, dict):
        out["Ebs"] = {k: v for k, v in ebs.items() if v is not None}
    return out


def run_params(view: GroupView, spot: Spot, token: str) -> dict[str, Any]:
    """RunInstances' parameters for one instance of the group in `spot`."""
    group = view.group
    params: dict[str, Any] = {"MinCount": 1, "MaxCount": 1, "ClientToken": token}
    placement: dict[str, Any] = {}
    if not spot.subnet:
        placement["AvailabilityZone"] = spot.zone
    propagated = [{"Key": t.key, "Value": t.value} for t in view.tags if t.propagate_at_launch]
    if propagated:
        params["TagSpecifications"] = [{"ResourceType": "instance", "Tags": propagated}]
    template = loads(group.launch_template, {})
    if template:
        ref = {
            k: str(template[k])
            for k in ("LaunchTemplateId", "LaunchTemplateName", "Version")
            if template.get(k)
        }
        params["LaunchTemplate"] = ref
        if spot.subnet:
            params["SubnetId"] = spot.subnet
        if placement:
            params["Placement"] = placement
        return params
    lc = view.config
    if lc is None:
        raise ActionFailed(
            "ValidationError",
            f"Launch configuration name not found - {group.launch_configuration_name}",
        )
    _from_config(params, lc, spot, placement)
    return params


def _from_config(
    params: dict[str, Any], lc: AsLaunchConfiguration, spot: Spot, placement: dict[str, Any]
) -> None:
    params["ImageId"] = lc.image_id
    params["InstanceType"] = lc.instance_type
    if lc.key_name:
        params["KeyName"] = lc.key_name
    if lc.user_data:
        params["UserData"] = lc.user_data
    if lc.kernel_id:
        params["KernelId"] = lc.kernel_id
    if lc.ramdisk_id:
        params["RamdiskId"] = lc.ramdisk_id
    mappings = [_mapping(m) for m in loads(lc.block_device_mappings, []) if isinstance(m, dict)]
    if mappings:
        params["BlockDeviceMappings"] = mappings
    params["Monitoring"] = {"Enabled": bool(lc.instance_monitoring)}
    if lc.ebs_optimized:
        params["EbsOptimized"] = True
    if lc.iam_instance_profile:
        key = "Arn" if lc.iam_instance_profile.startswith("arn:") else "Name"
        params["IamInstanceProfile"] = {key: lc.iam_instance_profile}
    if lc.placement_tenancy:
        placement["Tenancy"] = lc.placement_tenancy
    if placement:
        params["Placement"] = placement
    groups = [str(g) for g in loads(lc.security_groups, [])]
    ids = [g for g in groups if g.startswith("sg-")]
    names = [g for g in groups if not g.startswith("sg-")]
    if spot.subnet and lc.associate_public_ip is not None:
        # Only an interface takes AssociatePublicIpAddress; its groups go with it.
        interface: dict[str, Any] = {
            "DeviceIndex": 0,
            "SubnetId": spot.subnet,
            "AssociatePublicIpAddress": lc.associate_public_ip,
        }
        if ids:
            interface["Groups"] = ids
        params["NetworkInterfaces"] = [interface]
        return
    if spot.subnet:
        params["SubnetId"] = spot.subnet
    if ids:
        params["SecurityGroupIds"] = ids
    if names:
        params["SecurityGroups"] = names


def begin(store: Store, view: GroupView, spot: Spot, cause: str, now: float) -> AsActivity:
    """The launch's activity, committed before anything is asked of EC2."""
    with store.session() as s:
        row = new_activity(
            s,
            view.group,
            kind="launch",
            description=STARTED,
            cause=cause,
            now=now,
            zone=spot.zone,
            subnet=spot.subnet,
        )
    return row


def call(
    store: Store, calls: AccountCalls, view: GroupView, activity: AsActivity, now: float
) -> str:
    """Runs (or runs again, for an adopted activity) the launch; the instance id recorded,
    or "" when it failed (the activity then ends Failed with EC2's error text)."""
    details = loads(activity.details, {})
    spot = Spot(activity.zone, str(details.get("Subnet ID") or ""))
    try:
        params = run_params(view, spot, activity.id)
        answer = calls(view.group.account_id, "ec2", "RunInstances", params)
    except ActionFailed as err:
        fail(store, activity.id, err.message, now)
        return ""
    instances = answer.get("Instances") or []
    if not instances:
        fail(store, activity.id, "RunInstances launched no instance", now)
        return ""
    first = instances[0]
    instance_id = str(first["InstanceId"])
    zone = str((first.get("Placement") or {}).get("AvailabilityZone") or spot.zone)
    record(store, view, activity, instance_id, zone, now)
    return instance_id


def fail(store: Store, activity_id: str, message: str, now: float) -> None:
    reason = f"{message.rstrip('.')}. Launching EC2 instance failed."
    with store.session() as s:
        end_activity(
            s,
            activity_id,
            ok=False,
            now=now,
            message=reason,
            description=f"{STARTED}.  Status Reason: {reason}",
        )


def record(
    store: Store, view: GroupView, activity: AsActivity, instance_id: str, zone: str, now: float
) -> bool:
    """Names the instance in its activity and adds it to the group, once."""
    group = view.group
    template = loads(group.launch_template, {})
    with store.session() as s:
        result = s.execute(
            update(AsActivity)
            .where(
                AsActivity.id == activity.id,
                AsActivity.status_code == "InProgress",
                AsActivity.instance_id == "",
            )
            .values(
                instance_id=instance_id,
                zone=zone,
                description=f"{STARTED}: {instance_id}",
                progress=30,
            )
            .execution_options(synchronize_session=False)
        )
        if getattr(result, "rowcount", 0) != 1:
            return False
        s.merge(
            AsInstance(
                instance_id=instance_id,
                group_id=group.id,
                account_id=group.account_id,
                zone=zone,
                lifecycle_state="Pending",
                health_status="Healthy",
                launch_configuration_name="" if template else group.launch_configuration_name,
                launch_template=json.dumps(template) if template else "",
                instance_type=view.config.instance_type if view.config and not template else "",
                protected_from_scale_in=group.new_instances_protected,
                launched_at=now,
                registered_lbs="[]",
            )
        )
        # The reserved tag no caller may set: the group's own mark (AWS/EC2's
        # AutoScalingGroupName dimension is read from it).
        s.merge(
            Ec2Tag(
                resource_id=instance_id,
                key=GROUP_TAG,
                value=group.name,
                account_id=group.account_id,
                resource_type="instance",
            )
        )
    return True
