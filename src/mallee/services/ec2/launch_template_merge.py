"""RunInstances from a launch template: the template version's data are the request's
defaults, and what the request itself says wins (AWS's rule).

`with_template` runs before any of RunInstances' checks, so each applies to the merged
request (and launch_template_arns gives the authorizer the same merged request's ARNs).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy.orm import Session

from mallee.api.context import RequestContext
from mallee.services.base import Params, Runtime
from mallee.services.ec2 import launch_template_rows as rows

# Template members RunInstances spells otherwise.
_RENAMED = {"RamDiskId": "RamdiskId", "ElasticGpuSpecifications": "ElasticGpuSpecification"}
# Template members RunInstances has no member for: a launch ignores them.
_IGNORED = frozenset({"InstanceRequirements", "TagSpecifications"})
# Request members that replace a whole group of the template's: naming groups by name or by
# id is one choice, and so is where the primary interface goes.
_TOGETHER: tuple[frozenset[str], ...] = (
    frozenset({"SecurityGroupIds", "SecurityGroups"}),
    frozenset({"SubnetId", "NetworkInterfaces", "PrivateIpAddress"}),
)


def _tag_specifications(
    template: Sequence[Mapping[str, Any]], request: Sequence[Mapping[str, Any]]
) -> list[dict[str, Any]]:
    """Per resource type, the template's tags with the request's on top (same key: the
    request's value)."""
    merged: dict[str, dict[str, Any]] = {}
    for spec in [*template, *request]:
        kind = str(spec.get("ResourceType") or "")
        tags = merged.setdefault(kind, {})
        for tag in spec.get("Tags") or []:
            tags[str(tag.get("Key") or "")] = tag.get("Value")
    return [
        {"ResourceType": kind, "Tags": [{"Key": k, "Value": v} for k, v in tags.items()]}
        for kind, tags in merged.items()
    ]


def merge(request: Params, data: Mapping[str, Any]) -> Params:
    """The RunInstances request `request` with the template data `data` as its defaults.

    A structure both give (Placement, Monitoring, ...) is merged one level down, the
    request's members winning; every other member the request gives replaces the template's.
    """
    given = set(request)
    dropped = {m for group in _TOGETHER if group & given for m in group}
    out: Params = {}
    for key, value in data.items():
        name = _RENAMED.get(key, key)
        if name not in _IGNORED and name not in dropped:
            out[name] = value
    for key, value in request.items():
        if key == "LaunchTemplate":
            continue
        before = out.get(key)
        if isinstance(before, dict) and isinstance(value, dict):
            out[key] = {**before, **value}
        else:
            out[key] = value
    specs = _tag_specifications(
        data.get("TagSpecifications") or [], request.get("TagSpecifications") or []
    )
    if specs:
        out["TagSpecifications"] = specs
    else:
        out.pop("TagSpecifications", None)
    return out


def template_data(s: Session, account: str, spec: Mapping[str, Any]) -> Params:
    """The data of the version a LaunchTemplate specification names (AWS's errors)."""
    template = rows.find(s, account, spec)
    version = spec.get("Version")
    return rows.data_of(rows.version(s, template, None if version is None else str(version)))


def with_template(rt: Runtime, ctx: RequestContext, params: Params) -> Params:
    """RunInstances' parameters with its launch template's version merged in (unchanged
    without LaunchTemplate)."""
    spec = params.get("LaunchTemplate")
    if not spec:
        return params
    with rt.store.read() as s:
        data = template_data(s, ctx.principal.account_id, spec)
    return merge(params, data)
