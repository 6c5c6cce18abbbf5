"""A launch template's versions: describing and deleting them, and the data of a new one
taken from a running instance (GetLaunchTemplateData)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from mallee.api.context import RequestContext
from mallee.ids import is_id
from mallee.services.base import Params, Result, Runtime
from mallee.services.ec2 import errors
from mallee.services.ec2 import launch_template_errors as lt_errors
from mallee.services.ec2 import launch_template_rows as rows
from mallee.services.ec2.filters import lookup, matches, parse_filters
from mallee.services.ec2.instance_views import groups
from mallee.services.ec2.pagination import page
from mallee.services.ec2.tags import tag_list, tags_for
from mallee.store.tables.ec2 import Ec2Instance
from mallee.store.tables.launch_templates import Ec2LaunchTemplate, Ec2LaunchTemplateVersion

# AWS: at most 200 versions in one DeleteLaunchTemplateVersions.
MAX_DELETE = 200

Version = tuple[Ec2LaunchTemplate, Ec2LaunchTemplateVersion]


def _data(member: str, *inner: str) -> Callable[[Version], Any]:
    def value(item: Version) -> Any:
        found: Any = rows.data_of(item[1]).get(member)
        for key in inner:
            found = found.get(key) if isinstance(found, dict) else None
        return found

    return value


_FILTERS: Mapping[str, Callable[[Version], Any]] = {
    "create-time": lambda v: v[1].created_at.isoformat(),
    "is-default-version": lambda v: v[1].version == v[0].default_version,
    "image-id": _data("ImageId"),
    "instance-type": _data("InstanceType"),
    "kernel-id": _data("KernelId"),
    "ram-disk-id": _data("RamDiskId"),
    "ebs-optimized": _data("EbsOptimized"),
    "iam-instance-profile": _data("IamInstanceProfile", "Arn"),
    "http-endpoint": _data("MetadataOptions", "HttpEndpoint"),
    "http-tokens": _data("MetadataOptions", "HttpTokens"),
}


def _bound(raw: Any) -> int | None:
    if raw is None or str(raw) == "":
        return None
    text = str(raw)
    value = rows.numeral(text)
    if value is None:
        raise lt_errors.bad_version(text)
    return value


def _all_of(s: Session, template: Ec2LaunchTemplate) -> list[Version]:
    found = s.scalars(
        select(Ec2LaunchTemplateVersion)
        .where(Ec2LaunchTemplateVersion.template_id == template.id)
        .order_by(Ec2LaunchTemplateVersion.version)
    ).all()
    return [(template, v) for v in found]


def _of_one(s: Session, account: str, params: Params) -> list[Version]:
    template = rows.find(s, account, params)
    specs = [str(v) for v in params.get("Versions") or []]
    if not specs:
        low, high = _bound(params.get("MinVersion")), _bound(params.get("MaxVersion"))
        return [
            (t, v)
            for t, v in _all_of(s, template)
            if (low is None or v.version >= low) and (high is None or v.version <= high)
        ]
    chosen = {}
    for spec in specs:
        row = rows.version(s, template, spec)
        chosen[row.version] = (template, row)
    return [chosen[n] for n in sorted(chosen)]


def _of_every(s: Session, account: str, params: Params) -> list[Version]:
    """Without a template named: the $Latest and/or $Default version of each of the account's
    templates (the only versions AWS lets such a request ask for)."""
    specs = {str(v) for v in params.get("Versions") or []}
    if not specs or not specs <= {rows.LATEST, rows.DEFAULT}:
        raise lt_errors.id_or_name()
    templates = s.scalars(
        select(Ec2LaunchTemplate).where(Ec2LaunchTemplate.account_id == account)
    ).all()
    out: list[Version] = []
    for template in templates:
        numbers = sorted({rows.number(template, spec) for spec in specs})
        for n in numbers:
            row = s.get(Ec2LaunchTemplateVersion, (template.id, n))
            if row is not None:
                out.append((template, row))
    return out


def describe_launch_template_versions(rt: Runtime, ctx: RequestContext, params: Params) -> Result:
    account = ctx.principal.account_id
    filters = parse_filters(params.get("Filters"), _FILTERS)
    with rt.store.read() as s:
        if params.get("LaunchTemplateId") or params.get("LaunchTemplateName"):
            found = _of_one(s, account, params)
        else:
            found = _of_every(s, account, params)
        kept = [v for v in found if matches(filters, lookup(_FILTERS, v), {})]
        items, token = page(
            kept,
            params,
            key=lambda v: f"{v[0].id}\x00{v[1].version:08d}",
            max_bounds=(1, 200),
        )
        out: Result = {"LaunchTemplateVersions": [rows.version_view(t, v) for t, v in items]}
    if token:
        out["NextToken"] = token
    return out


def _item(template: Ec2LaunchTemplate, number: int | None) -> dict[str, Any]:
    out: dict[str, Any] = {
        "LaunchTemplateId": template.id,
        "LaunchTemplateName": template.name,
    }
    if number is not None:
        out["VersionNumber"] = number
    return out


def _failed(template: Ec2LaunchTemplate, number: int | None, code: str, message: str) -> Any:
    return {**_item(template, number), "ResponseError": {"Code": code, "Message": message}}


def _exists(s: Session, template_id: str, number: int) -> bool:
    return s.get(Ec2LaunchTemplateVersion, (template_id, number)) is not None


def delete_launch_template_versions(rt: Runtime, ctx: RequestContext, params: Params) -> Result:
    """Each version deleted or refused on its own (AWS's per-version error entries); the
    default version is never deleted."""
    specs = [str(v) for v in params.get("Versions") or []]
    if not specs:
        raise errors.missing("LaunchTemplateVersion")
    if len(specs) > MAX_DELETE:
        raise errors.invalid_value(f"You can delete at most {MAX_DELETE} versions at once.")
    done: list[dict[str, Any]] = []
    failed: list[dict[str, Any]] = []
    with rt.store.session() as s:
        template = rows.find(s, ctx.principal.account_id, params)
        gone: list[int] = []
        for spec in specs:
            number = rows.numeral(spec)
            if number is None or number in gone or not _exists(s, template.id, number):
                failed.append(
                    _failed(
                        template,
                        number,
                        "launchTemplateVersionDoesNotExist",
                        f"Could not find launch template version {spec}",
                    )
                )
            elif number == template.default_version:
                failed.append(
                    _failed(
                        template,
                        number,
                        "unexpectedError",
                        "Cannot delete the default version of a launch template",
                    )
                )
            else:
                gone.append(number)
                done.append(_item(template, number))
        if gone:
            s.execute(
                delete(Ec2LaunchTemplateVersion).where(
                    Ec2LaunchTemplateVersion.template_id == template.id,
                    Ec2LaunchTemplateVersion.version.in_(gone),
                )
            )
            # $Latest is the highest version left (the default always is).
            template.latest_version = rows.highest(s, template.id)
    return {
        "SuccessfullyDeletedLaunchTemplateVersions": done,
        "UnsuccessfullyDeletedLaunchTemplateVersions": failed,
    }


def _instance(s: Session, account: str, instance_id: str) -> Ec2Instance:
    if not is_id(instance_id, "i"):
        raise errors.malformed("instance", instance_id, "i")
    row = s.get(Ec2Instance, instance_id)
    if row is None or row.account_id != account:
        raise errors.instances_not_found([instance_id])
    return row


def instance_data(row: Ec2Instance, tags: Mapping[str, str]) -> dict[str, Any]:
    """The LaunchTemplateData that would launch an instance like `row`."""
    data: dict[str, Any] = {
        "ImageId": row.image_id,
        "InstanceType": row.instance_type,
        "Monitoring": {"Enabled": bool(row.monitoring)},
        "Placement": {"AvailabilityZone": row.availability_zone, "Tenancy": "default"},
        "DisableApiTermination": bool(row.disable_api_termination),
        "InstanceInitiatedShutdownBehavior": row.shutdown_behavior,
    }
    optional = {
        "KeyName": row.key_name,
        "KernelId": row.kernel_id,
        "RamDiskId": row.ramdisk_id,
        "UserData": row.user_data,
    }
    data.update({k: v for k, v in optional.items() if v})
    if row.iam_instance_profile_arn:
        data["IamInstanceProfile"] = {"Arn": row.iam_instance_profile_arn}
    group_ids = [g["GroupId"] for g in groups(row)]
    if row.subnet_id:
        data["NetworkInterfaces"] = [
            {
                "DeviceIndex": 0,
                "SubnetId": row.subnet_id,
                "Groups": group_ids,
                "AssociatePublicIpAddress": bool(row.public_ip_on_launch),
                "DeleteOnTermination": True,
            }
        ]
    elif group_ids:
        data["SecurityGroupIds"] = group_ids
    user_tags = {k: v for k, v in tags.items() if not k.startswith("aws:")}
    if user_tags:
        data["TagSpecifications"] = [{"ResourceType": "instance", "Tags": tag_list(user_tags)}]
    return data


def get_launch_template_data(rt: Runtime, ctx: RequestContext, params: Params) -> Result:
    account = ctx.principal.account_id
    instance_id = str(params.get("InstanceId") or "")
    with rt.store.read() as s:
        row = _instance(s, account, instance_id)
        tags = tags_for(s, account, [row.id]).get(row.id, {})
        return {"LaunchTemplateData": instance_data(row, tags)}
