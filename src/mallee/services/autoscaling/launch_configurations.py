"""CreateLaunchConfiguration, DescribeLaunchConfigurations and DeleteLaunchConfiguration."""

from __future__ import annotations

import base64
import binascii
import json
import uuid
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from mallee.api.context import RequestContext
from mallee.identity.clock import aware, now
from mallee.services import page_tokens
from mallee.services.autoscaling import arns, errors, instance_profiles, launch_checks, rows
from mallee.services.base import Operations, Params, Result, Runtime
from mallee.store.tables.autoscaling import AsGroup, AsLaunchConfiguration
from mallee.store.tables.ec2 import Ec2Instance

# AWS's limit on a launch configuration's user data (base64 text).
USER_DATA_MAX = 21847


def _user_data(raw: Any) -> str:
    if not raw:
        return ""
    text = str(raw)
    try:
        base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        # AWS accepts plain text and encodes it itself.
        text = base64.b64encode(text.encode()).decode()
    if len(text) > USER_DATA_MAX:
        raise errors.validation(f"User data is limited to {USER_DATA_MAX} characters")
    return text


def _from_instance(s: Session, account_id: str, params: Params) -> dict[str, Any]:
    """What InstanceId lends a new launch configuration (AWS: its image, type, key, groups)."""
    instance_id = params.get("InstanceId")
    if not instance_id:
        return {}
    found = s.get(Ec2Instance, str(instance_id))
    if found is None or found.account_id != account_id or found.state == "terminated":
        raise errors.validation(f"Invalid instance id: {instance_id}")
    groups = [g.get("GroupName", "") for g in json.loads(found.security_groups or "[]")]
    return {
        "ImageId": found.image_id,
        "InstanceType": found.instance_type,
        "KeyName": found.key_name or "",
        "SecurityGroups": [g for g in groups if g],
        "KernelId": found.kernel_id or "",
        "RamdiskId": found.ramdisk_id or "",
    }


def _row(s: Session, account_id: str, name: str, params: Params) -> AsLaunchConfiguration:
    given = {k: v for k, v in params.items() if v not in (None, "", [])}
    merged = {**_from_instance(s, account_id, params), **given}
    if not merged.get("ImageId") or not merged.get("InstanceType"):
        raise errors.validation(
            "Valid requests must contain either the InstanceID parameter or both the ImageId "
            "and InstanceType parameters."
        )
    launch_checks.image(s, account_id, str(merged["ImageId"]))
    for key, kind in (("KernelId", "kernel"), ("RamdiskId", "ramdisk")):
        if merged.get(key):
            launch_checks.image(s, account_id, str(merged[key]), kind)
    monitoring = params.get("InstanceMonitoring") or {}
    public_ip = params.get("AssociatePublicIpAddress")
    return AsLaunchConfiguration(
        id=str(uuid.uuid4()),
        account_id=account_id,
        name=name,
        created_at=now(),
        image_id=str(merged["ImageId"]),
        instance_type=launch_checks.instance_type(s, str(merged["InstanceType"])),
        key_name=launch_checks.key_pair(s, account_id, str(merged.get("KeyName") or "")),
        security_groups=rows.dump(
            launch_checks.security_groups(
                s, account_id, [str(g) for g in merged.get("SecurityGroups") or []]
            )
        ),
        user_data=_user_data(params.get("UserData")),
        kernel_id=str(merged.get("KernelId") or ""),
        ramdisk_id=str(merged.get("RamdiskId") or ""),
        block_device_mappings=json.dumps(params.get("BlockDeviceMappings") or [], default=str),
        instance_monitoring=bool(monitoring.get("Enabled", True)),
        iam_instance_profile=str(params.get("IamInstanceProfile") or ""),
        ebs_optimized=bool(params.get("EbsOptimized", False)),
        associate_public_ip=None if public_ip is None else bool(public_ip),
        placement_tenancy=str(params.get("PlacementTenancy") or ""),
    )


def _exists(name: str) -> Exception:
    return errors.already_exists(
        "Launch Configuration by this name already exists - A launch configuration already "
        f"exists with the name {name}"
    )


def create_launch_configuration(rt: Runtime, ctx: RequestContext, params: Params) -> Result:
    account = ctx.principal.account_id
    name = str(params.get("LaunchConfigurationName") or "")
    if not name:
        raise errors.validation("LaunchConfigurationName is required")
    # Before the write transaction: authorizing reads.
    instance_profiles.check(rt, ctx, str(params.get("IamInstanceProfile") or ""))
    try:
        with rt.store.session() as s:
            taken = s.scalar(
                select(AsLaunchConfiguration.id).where(
                    AsLaunchConfiguration.account_id == account,
                    AsLaunchConfiguration.name == name,
                )
            )
            if taken is not None:
                raise _exists(name)
            count = s.scalar(
                select(func.count()).where(AsLaunchConfiguration.account_id == account)
            )
            if (count or 0) >= rows.quota(rt.store, rows.LCS_QUOTA):
                raise errors.limit_exceeded("Max number of launch configurations reached")
            s.add(_row(s, account, name, params))
            s.flush()
    except IntegrityError:
        raise _exists(name) from None
    return {}


def describe(row: AsLaunchConfiguration, region: str) -> dict[str, Any]:
    out: dict[str, Any] = {
        "LaunchConfigurationName": row.name,
        "LaunchConfigurationARN": arns.lc_arn(region, row.account_id, row.id, row.name),
        "ImageId": row.image_id,
        "KeyName": row.key_name,
        "SecurityGroups": rows.names(row.security_groups),
        "ClassicLinkVPCSecurityGroups": [],
        "UserData": row.user_data,
        "InstanceType": row.instance_type,
        "KernelId": row.kernel_id,
        "RamdiskId": row.ramdisk_id,
        "BlockDeviceMappings": rows.names(row.block_device_mappings),
        "InstanceMonitoring": {"Enabled": row.instance_monitoring},
        "CreatedTime": aware(row.created_at),
        "EbsOptimized": row.ebs_optimized,
    }
    if row.iam_instance_profile:
        out["IamInstanceProfile"] = row.iam_instance_profile
    if row.associate_public_ip is not None:
        out["AssociatePublicIpAddress"] = row.associate_public_ip
    if row.placement_tenancy:
        out["PlacementTenancy"] = row.placement_tenancy
    return out


def describe_launch_configurations(rt: Runtime, ctx: RequestContext, params: Params) -> Result:
    account = ctx.principal.account_id
    wanted = rows.strings(params, "LaunchConfigurationNames")
    size = rows.page_size(params)
    start = rows.page_start(params)
    stmt = select(AsLaunchConfiguration).where(AsLaunchConfiguration.account_id == account)
    if wanted:
        stmt = stmt.where(AsLaunchConfiguration.name.in_(wanted))
    if start is not None:
        stmt = stmt.where(AsLaunchConfiguration.name > start)
    with rt.store.read() as s:
        found = list(s.scalars(stmt.order_by(AsLaunchConfiguration.name).limit(size + 1)))
        out: Result = {"LaunchConfigurations": [describe(r, ctx.region) for r in found[:size]]}
    if len(found) > size:
        out["NextToken"] = page_tokens.encode(found[size - 1].name)
    return out


def delete_launch_configuration(rt: Runtime, ctx: RequestContext, params: Params) -> Result:
    account = ctx.principal.account_id
    name = str(params.get("LaunchConfigurationName") or "")
    with rt.store.session() as s:
        row = rows.launch_configuration(s, account, name)
        user = s.scalar(
            select(AsGroup.name).where(
                AsGroup.account_id == account, AsGroup.launch_configuration_name == name
            )
        )
        if user is not None:
            raise errors.in_use(
                f"Cannot delete launch configuration {name} because it is attached to "
                f"AutoScalingGroup {user}"
            )
        s.delete(row)
    return {}


OPERATIONS: Operations = {
    "CreateLaunchConfiguration": create_launch_configuration,
    "DescribeLaunchConfigurations": describe_launch_configurations,
    "DeleteLaunchConfiguration": delete_launch_configuration,
}
