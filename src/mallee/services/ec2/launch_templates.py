"""EC2 launch templates: create, version, describe, modify and delete them.

A template is a name and numbered, immutable versions of RunInstances' parameters
(LaunchTemplateData); RunInstances and Auto Scaling groups launch from one version
(launch_template_merge). As AWS, the data are not validated at creation beyond their shape,
except the image: a template names only an image its account may launch, so no account
keeps another's private image id.
"""

from __future__ import annotations

import datetime as dt
import json

from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from mallee.api.context import RequestContext
from mallee.ids import new_id
from mallee.services.base import Operations, Params, Result, Runtime
from mallee.services.ec2 import errors
from mallee.services.ec2 import launch_template_errors as lt_errors
from mallee.services.ec2 import launch_template_rows as rows
from mallee.services.ec2.filters import lookup, matches, parse_filters
from mallee.services.ec2.images import launchable_image
from mallee.services.ec2.launch_template_versions import (
    delete_launch_template_versions,
    describe_launch_template_versions,
    get_launch_template_data,
)
from mallee.services.ec2.pagination import page
from mallee.services.ec2.tags import (
    apply_tag_specifications,
    delete_all_tags,
    register_resource_check,
    tags_for,
)
from mallee.store.tables.launch_templates import Ec2LaunchTemplate, Ec2LaunchTemplateVersion

# AWS's quotas: templates per account (and region), versions per template.
MAX_TEMPLATES = 5000
MAX_VERSIONS = 10000
MAX_DESCRIPTION = 255

_FILTERS = {
    "launch-template-name": lambda t: t.name,
    "create-time": lambda t: t.created_at.isoformat(),
}


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(microsecond=0)


def _checked_data(s: Session, account: str, params: Params) -> Params:
    data = params.get("LaunchTemplateData")
    if not isinstance(data, dict):
        raise errors.missing("LaunchTemplateData")
    if data.get("ImageId"):
        launchable_image(s, account, str(data["ImageId"]), "machine")
    return data


def _description(params: Params) -> str:
    text = str(params.get("VersionDescription") or "")
    if len(text) > MAX_DESCRIPTION:
        raise lt_errors.description_too_long(MAX_DESCRIPTION)
    return text


def check_template_room(s: Session, account: str) -> None:
    held = s.scalar(
        select(func.count())
        .select_from(Ec2LaunchTemplate)
        .where(Ec2LaunchTemplate.account_id == account)
    )
    if int(held or 0) >= MAX_TEMPLATES:
        raise lt_errors.template_limit(MAX_TEMPLATES)


def check_version_room(s: Session, template_id: str) -> None:
    held = s.scalar(
        select(func.count())
        .select_from(Ec2LaunchTemplateVersion)
        .where(Ec2LaunchTemplateVersion.template_id == template_id)
    )
    if int(held or 0) >= MAX_VERSIONS:
        raise lt_errors.version_limit(MAX_VERSIONS, template_id)


def _view(s: Session, account: str, row: Ec2LaunchTemplate) -> Result:
    return rows.template_view(row, tags_for(s, account, [row.id]).get(row.id, {}))


def _by_token(rt: Runtime, account: str, token: str, name: str) -> Result | None:
    with rt.store.read() as s:
        row = s.scalars(
            select(Ec2LaunchTemplate).where(
                Ec2LaunchTemplate.account_id == account, Ec2LaunchTemplate.client_token == token
            )
        ).first()
        if row is None:
            return None
        if row.name != name:
            raise lt_errors.token_reused()
        return {"LaunchTemplate": _view(s, account, row)}


def create_launch_template(rt: Runtime, ctx: RequestContext, params: Params) -> Result:
    account = ctx.principal.account_id
    name = rows.check_name(str(params.get("LaunchTemplateName") or ""))
    token = str(params.get("ClientToken") or "") or None
    if token and (earlier := _by_token(rt, account, token, name)) is not None:
        return earlier
    try:
        with rt.store.session() as s:
            data = _checked_data(s, account, params)
            description = _description(params)
            taken = s.scalars(
                select(Ec2LaunchTemplate.id).where(
                    Ec2LaunchTemplate.account_id == account, Ec2LaunchTemplate.name == name
                )
            ).first()
            if taken is not None:
                raise lt_errors.name_exists(name)
            check_template_room(s, account)
            now = _now()
            row = Ec2LaunchTemplate(
                id=new_id("lt"), account_id=account, name=name, created_at=now,
                created_by=ctx.principal.arn, default_version=1, latest_version=1,
                client_token=token,
            )  # fmt: skip
            s.add(row)
            s.add(
                Ec2LaunchTemplateVersion(
                    template_id=row.id, version=1, description=description,
                    data=json.dumps(data), created_at=now, created_by=ctx.principal.arn,
                    client_token=token,
                )
            )  # fmt: skip
            s.flush()
            apply_tag_specifications(
                s, account, params.get("TagSpecifications"), {"launch-template": [row.id]}
            )
            return {"LaunchTemplate": _view(s, account, row)}
    except IntegrityError:
        # A concurrent request won: with the same token, answer as it did; else the name.
        if token and (earlier := _by_token(rt, account, token, name)) is not None:
            return earlier
        raise lt_errors.name_exists(name) from None


def _version_by_token(s: Session, template: Ec2LaunchTemplate, token: str) -> Result | None:
    row = s.scalars(
        select(Ec2LaunchTemplateVersion).where(
            Ec2LaunchTemplateVersion.template_id == template.id,
            Ec2LaunchTemplateVersion.client_token == token,
        )
    ).first()
    return {"LaunchTemplateVersion": rows.version_view(template, row)} if row else None


def create_launch_template_version(rt: Runtime, ctx: RequestContext, params: Params) -> Result:
    account = ctx.principal.account_id
    token = str(params.get("ClientToken") or "") or None
    with rt.store.session() as s:
        template = rows.find(s, account, params)
        if token and (earlier := _version_by_token(s, template, token)) is not None:
            return earlier
        data = _checked_data(s, account, params)
        description = _description(params)
        source = params.get("SourceVersion")
        if source is not None and str(source) != "":
            # The new version is the source's data with the request's members on top.
            data = {**rows.data_of(rows.version(s, template, str(source))), **data}
        check_version_room(s, template.id)
        # One UPDATE takes the next number: concurrent requests queue on the row.
        s.execute(
            update(Ec2LaunchTemplate)
            .where(Ec2LaunchTemplate.id == template.id)
            .values(latest_version=Ec2LaunchTemplate.latest_version + 1)
        )
        s.refresh(template)
        row = Ec2LaunchTemplateVersion(
            template_id=template.id, version=template.latest_version, description=description,
            data=json.dumps(data), created_at=_now(), created_by=ctx.principal.arn,
            client_token=token,
        )  # fmt: skip
        s.add(row)
        s.flush()
        return {"LaunchTemplateVersion": rows.version_view(template, row)}


def _named(s: Session, account: str, params: Params) -> list[Ec2LaunchTemplate] | None:
    """The templates DescribeLaunchTemplates names, or None when it names none."""
    ids = [str(i) for i in params.get("LaunchTemplateIds") or []]
    names = [str(n) for n in params.get("LaunchTemplateNames") or []]
    if not (ids or names):
        return None
    for template_id in ids:
        rows.check_id(template_id)
    query = select(Ec2LaunchTemplate).where(Ec2LaunchTemplate.account_id == account)
    found = {r.id: r for r in s.scalars(query.where(Ec2LaunchTemplate.id.in_(ids))).all()}
    missing = [i for i in ids if i not in found]
    if missing:
        raise lt_errors.id_not_found(missing[0])
    by_name = {r.name: r for r in s.scalars(query.where(Ec2LaunchTemplate.name.in_(names)))}
    if any(n not in by_name for n in names):
        raise lt_errors.name_not_found()
    found.update({r.id: r for r in by_name.values()})
    return list(found.values())


def describe_launch_templates(rt: Runtime, ctx: RequestContext, params: Params) -> Result:
    account = ctx.principal.account_id
    filters = parse_filters(params.get("Filters"), _FILTERS)
    with rt.store.read() as s:
        chosen = _named(s, account, params)
        if chosen is None:
            chosen = list(
                s.scalars(
                    select(Ec2LaunchTemplate).where(Ec2LaunchTemplate.account_id == account)
                ).all()
            )
        tags = tags_for(s, account, [r.id for r in chosen], "launch-template")
    kept = [r for r in chosen if matches(filters, lookup(_FILTERS, r), tags.get(r.id, {}))]
    items, token = page(kept, params, key=lambda r: r.id, max_bounds=(1, 200))
    out: Result = {"LaunchTemplates": [rows.template_view(r, tags.get(r.id, {})) for r in items]}
    if token:
        out["NextToken"] = token
    return out


def modify_launch_template(rt: Runtime, ctx: RequestContext, params: Params) -> Result:
    account = ctx.principal.account_id
    with rt.store.session() as s:
        template = rows.find(s, account, params)
        wanted = params.get("DefaultVersion")
        if wanted is not None and str(wanted) != "":
            template.default_version = rows.version(s, template, str(wanted)).version
        return {"LaunchTemplate": _view(s, account, template)}


def delete_launch_template(rt: Runtime, ctx: RequestContext, params: Params) -> Result:
    account = ctx.principal.account_id
    with rt.store.session() as s:
        template = rows.find(s, account, params)
        view = _view(s, account, template)
        view.pop("Tags", None)
        s.execute(
            delete(Ec2LaunchTemplateVersion).where(
                Ec2LaunchTemplateVersion.template_id == template.id
            )
        )
        delete_all_tags(s, [template.id])
        s.delete(template)
        return {"LaunchTemplate": view}


def _check_taggable(s: Session, account: str, resource_id: str) -> None:
    row = s.get(Ec2LaunchTemplate, resource_id)
    if row is None or row.account_id != account:
        raise lt_errors.id_not_found(resource_id)


register_resource_check("launch-template", _check_taggable)


OPERATIONS: Operations = {
    "CreateLaunchTemplate": create_launch_template,
    "CreateLaunchTemplateVersion": create_launch_template_version,
    "DescribeLaunchTemplates": describe_launch_templates,
    "DescribeLaunchTemplateVersions": describe_launch_template_versions,
    "ModifyLaunchTemplate": modify_launch_template,
    "DeleteLaunchTemplate": delete_launch_template,
    "DeleteLaunchTemplateVersions": delete_launch_template_versions,
    "GetLaunchTemplateData": get_launch_template_data,
}
