"""Finding launch templates and their versions as a request names them, and their views.

A request names a template by LaunchTemplateId or LaunchTemplateName (exactly one), and a
version by number, `$Latest` or `$Default`; every miss is AWS's error.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from mallee.ids import is_id
from mallee.services.base import Params, Result
from mallee.services.ec2 import launch_template_errors as lt_errors
from mallee.services.ec2.tags import tag_list
from mallee.store.tables.launch_templates import Ec2LaunchTemplate, Ec2LaunchTemplateVersion

LATEST = "$Latest"
DEFAULT = "$Default"
_NAME = re.compile(r"[a-zA-Z0-9().\-/_]{3,128}")
_NUMERAL = re.compile(r"[0-9]{1,10}")
MAX_NUMBER = 2**31 - 1


def arn(region: str, account: str, template_id: str) -> str:
    return f"arn:aws:ec2:{region}:{account}:launch-template/{template_id}"


def check_name(name: str) -> str:
    if not _NAME.fullmatch(name):
        raise lt_errors.name_malformed()
    return name


def check_id(template_id: str) -> str:
    if not is_id(template_id, "lt"):
        raise lt_errors.id_malformed(template_id)
    return template_id


def named(params: Mapping[str, Any]) -> tuple[str, str]:
    """(id, name) the request names its template by, exactly one of them non-empty."""
    template_id = str(params.get("LaunchTemplateId") or "")
    name = str(params.get("LaunchTemplateName") or "")
    if template_id and name:
        raise lt_errors.id_and_name()
    if not (template_id or name):
        raise lt_errors.id_or_name()
    return template_id, name


def find(s: Session, account: str, params: Mapping[str, Any]) -> Ec2LaunchTemplate:
    """The account's template the request names (NotFound / Malformed as AWS)."""
    template_id, name = named(params)
    if template_id:
        row = s.get(Ec2LaunchTemplate, check_id(template_id))
        if row is None or row.account_id != account:
            raise lt_errors.id_not_found(template_id)
        return row
    found = s.scalars(
        select(Ec2LaunchTemplate).where(
            Ec2LaunchTemplate.account_id == account, Ec2LaunchTemplate.name == name
        )
    ).first()
    if found is None:
        raise lt_errors.name_not_found(name)
    return found


def number(template: Ec2LaunchTemplate, spec: str | None) -> int:
    """The version number `spec` names ($Default when None); not checked to exist."""
    text = DEFAULT if spec is None or spec == "" else str(spec)
    if text == DEFAULT:
        return template.default_version
    if text == LATEST:
        return template.latest_version
    value = numeral(text)
    if value is None or value < 1:
        raise lt_errors.bad_version(text)
    return value


def numeral(text: str) -> int | None:
    """The number `text` spells in ASCII digits, or None. str.isdigit also takes "²" (which
    int() refuses) and numbers past what the version column holds."""
    if not _NUMERAL.fullmatch(text):
        return None
    value = int(text)
    return value if value <= MAX_NUMBER else None


def version(s: Session, template: Ec2LaunchTemplate, spec: str | None) -> Ec2LaunchTemplateVersion:
    wanted = number(template, spec)
    row = s.get(Ec2LaunchTemplateVersion, (template.id, wanted))
    if row is None:
        raise lt_errors.version_not_found(str(spec if spec else wanted), template.id)
    return row


def highest(s: Session, template_id: str) -> int:
    """The highest version number the template still has (0 when none)."""
    top = s.scalar(
        select(func.max(Ec2LaunchTemplateVersion.version)).where(
            Ec2LaunchTemplateVersion.template_id == template_id
        )
    )
    return int(top or 0)


def data_of(row: Ec2LaunchTemplateVersion) -> Params:
    loaded: Params = json.loads(row.data)
    return loaded


def template_view(row: Ec2LaunchTemplate, tags: Mapping[str, str]) -> Result:
    out: Result = {
        "LaunchTemplateId": row.id,
        "LaunchTemplateName": row.name,
        "CreateTime": row.created_at,
        "CreatedBy": row.created_by,
        "DefaultVersionNumber": row.default_version,
        "LatestVersionNumber": row.latest_version,
    }
    if tags:
        out["Tags"] = tag_list(tags)
    return out


def version_view(template: Ec2LaunchTemplate, row: Ec2LaunchTemplateVersion) -> Result:
    out: Result = {
        "LaunchTemplateId": template.id,
        "LaunchTemplateName": template.name,
        "VersionNumber": row.version,
        "CreateTime": row.created_at,
        "CreatedBy": row.created_by,
        "DefaultVersion": row.version == template.default_version,
        "LaunchTemplateData": data_of(row),
    }
    if row.description:
        out["VersionDescription"] = row.description
    return out
