"""A group's LaunchTemplate: the caller's EC2 launch template (by id or name) and a version it
has ($Default, $Latest or a number), kept as given with both id and name filled in. Naming one
needs what launching from it needs (AWS): ec2:RunInstances on the template, and iam:PassRole
on the role of the profile its version names, since the group launches as the account."""

from __future__ import annotations

import json
import re
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from mallee.api.context import RequestContext
from mallee.api.errors import ServiceError
from mallee.identity.authz import Authorizer, OneAction
from mallee.services.autoscaling import errors, instance_profiles
from mallee.services.base import Runtime
from mallee.store.tables.launch_templates import Ec2LaunchTemplate, Ec2LaunchTemplateVersion

_PREFIX = "You must use a valid fully-formed launch template."
_NUMERAL = re.compile(r"[0-9]{1,10}")
_MAX_VERSION = 2**31 - 1


def checked(s: Session, account_id: str, spec: dict[str, Any]) -> str:
    """The group's launch_template column for LaunchTemplate `spec`."""
    template_id = str(spec.get("LaunchTemplateId") or "")
    name = str(spec.get("LaunchTemplateName") or "")
    if bool(template_id) == bool(name):
        raise errors.validation(f"{_PREFIX} Specify either LaunchTemplateId or LaunchTemplateName.")
    stmt = select(Ec2LaunchTemplate).where(Ec2LaunchTemplate.account_id == account_id)
    stmt = stmt.where(
        Ec2LaunchTemplate.id == template_id if template_id else Ec2LaunchTemplate.name == name
    )
    found = s.scalars(stmt).first()
    if found is None:
        said = f"template ID {template_id}" if template_id else f"template name {name}"
        raise errors.validation(
            f"{_PREFIX} The specified launch template, with {said}, does not exist."
        )
    version = str(spec.get("Version") or "$Default")
    if version not in ("$Default", "$Latest"):
        # ASCII digits only (str.isdigit takes "²"), no more than the column holds.
        number = int(version) if _NUMERAL.fullmatch(version) else 0
        number = number if number <= _MAX_VERSION else 0
        if s.get(Ec2LaunchTemplateVersion, (found.id, number)) is None:
            raise errors.validation(
                f"{_PREFIX} The specified launch template version, version {version}, does "
                "not exist."
            )
    return json.dumps(
        {"LaunchTemplateId": found.id, "LaunchTemplateName": found.name, "Version": version}
    )


def authorize(rt: Runtime, ctx: RequestContext, spec: Any) -> None:
    """Before the group's write transaction: the rights a launch from `spec` takes."""
    if not isinstance(spec, dict) or not spec:
        return
    account = ctx.principal.account_id
    with rt.store.read() as s:
        found = json.loads(checked(s, account, spec))
        template = s.get(Ec2LaunchTemplate, found["LaunchTemplateId"])
        assert template is not None
        version = found["Version"]
        number = (
            template.default_version
            if version == "$Default"
            else template.latest_version
            if version == "$Latest"
            else int(version)
        )
        row = s.get(Ec2LaunchTemplateVersion, (template.id, number))
        data = json.loads(row.data) if row is not None else {}
    arn = f"arn:aws:ec2:{ctx.region}:{account}:launch-template/{template.id}"
    authorizer = rt.shared("autoscaling.authorizer", lambda: Authorizer(rt.store))
    try:
        authorizer.authorize(ctx, OneAction("ec2:RunInstances", [arn]))
    except ServiceError as refused:
        raise ServiceError("AccessDenied", refused.message, 403) from None
    profile = data.get("IamInstanceProfile") or {}
    if isinstance(profile, dict):
        instance_profiles.check(rt, ctx, str(profile.get("Arn") or profile.get("Name") or ""))
