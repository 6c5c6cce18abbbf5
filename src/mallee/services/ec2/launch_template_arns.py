"""The ARNs launch template operations are authorized on (launch-template/<id>, as AWS's
resource type), and RunInstances' when it launches from a template: the template's and those
of the merged request, so a policy on an image or snapshot decides as for a plain launch."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from mallee.api.context import RequestContext
from mallee.api.errors import ServiceError
from mallee.services.base import Params
from mallee.services.ec2 import block_device_arns
from mallee.services.ec2 import launch_template_rows as rows
from mallee.services.ec2.launch_template_merge import merge, template_data
from mallee.store import Store

# Operations that act on the one template the request names.
_ON_ONE = frozenset(
    {
        "CreateLaunchTemplateVersion",
        "DescribeLaunchTemplateVersions",
        "ModifyLaunchTemplate",
        "DeleteLaunchTemplate",
        "DeleteLaunchTemplateVersions",
    }
)


def _template_id(store: Store, ctx: RequestContext, spec: Mapping[str, Any]) -> str:
    """The id of the caller's template `spec` names; the id as given (or "*") when there is
    none, whose error the operation answers after authorization."""
    try:
        with store.read() as s:
            return rows.find(s, ctx.principal.account_id, spec).id
    except ServiceError:
        return str(spec.get("LaunchTemplateId") or "*")


def _launch_data(store: Store, ctx: RequestContext, spec: Mapping[str, Any]) -> Params:
    try:
        with store.read() as s:
            return template_data(s, ctx.principal.account_id, spec)
    except ServiceError:
        return {}


def resources(store: Store, ctx: RequestContext) -> list[str] | None:
    """The ARNs of a launch template operation or a launch from a template; None for others."""
    name, params = ctx.operation_name, ctx.params
    region, account = ctx.region, ctx.principal.account_id
    if name == "CreateLaunchTemplate":
        return [rows.arn(region, account, "*")]
    if name in _ON_ONE:
        if not (params.get("LaunchTemplateId") or params.get("LaunchTemplateName")):
            return [rows.arn(region, account, "*")]
        return [rows.arn(region, account, _template_id(store, ctx, params))]
    if name == "GetLaunchTemplateData":
        return [f"arn:aws:ec2:{region}:{account}:instance/{params.get('InstanceId') or ''}"]
    spec = params.get("LaunchTemplate")
    if name != "RunInstances" or not isinstance(spec, dict) or not spec:
        return None
    merged = dataclasses.replace(ctx, params=merge(params, _launch_data(store, ctx, spec)))
    arns = block_device_arns.resources(store, merged) or []
    return [rows.arn(region, account, _template_id(store, ctx, spec)), *arns]
