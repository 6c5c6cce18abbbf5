"""ValidateTemplate and GetTemplateSummary: what a template declares, without a stack."""

from __future__ import annotations

import json
from typing import Any

from mallee.api.context import RequestContext
from mallee.cfn import validate
from mallee.services.base import Operations, Params, Result, Runtime
from mallee.services.cloudformation import errors, templates


def validate_template(rt: Runtime, ctx: RequestContext, params: Params) -> Result:
    body, url = templates.given(params)
    found = templates.summary(templates.load(templates.text(rt, ctx, body, url)))
    result: Result = {
        "Parameters": [
            _without_none(
                {
                    "ParameterKey": p.key,
                    "DefaultValue": p.default,
                    "NoEcho": p.no_echo,
                    "Description": p.description,
                }
            )
            for p in found.parameters
        ],
        "Capabilities": found.capabilities,
    }
    return result | _common(found)


def get_template_summary(rt: Runtime, ctx: RequestContext, params: Params) -> Result:
    body, url = templates.given(params)
    stack, stack_set = params.get("StackName") or None, params.get("StackSetName") or None
    if sum(x is not None for x in (body, url, stack, stack_set)) != 1:
        raise errors.validation(
            "Exactly one of StackName, StackSetName, TemplateBody or TemplateURL must be specified."
        )
    # No stack or stack set exists before the stack engine makes one.
    if stack is not None:
        raise errors.stack_not_found(stack)
    if stack_set is not None:
        raise errors.stack_set_not_found(stack_set)
    template = templates.load(templates.text(rt, ctx, body, url))
    found = templates.summary(template)
    result: Result = {
        "Parameters": [
            _without_none(
                {
                    "ParameterKey": p.key,
                    "DefaultValue": p.default,
                    "ParameterType": p.type,
                    "NoEcho": p.no_echo,
                    "Description": p.description,
                    "ParameterConstraints": (
                        {"AllowedValues": p.allowed_values} if p.allowed_values else {}
                    ),
                }
            )
            for p in found.parameters
        ],
        "Capabilities": found.capabilities,
        "ResourceTypes": found.resource_types,
        "ResourceIdentifierSummaries": _identifier_summaries(template),
    }
    if found.version is not None:
        result["Version"] = found.version
    if found.metadata is not None:
        result["Metadata"] = json.dumps(found.metadata)
    return result | _common(found)


def _common(found: validate.Summary) -> Result:
    out: Result = {}
    if found.description is not None:
        out["Description"] = found.description
    if found.capabilities_reason is not None:
        out["CapabilitiesReason"] = found.capabilities_reason
    if found.declared_transforms:
        out["DeclaredTransforms"] = found.declared_transforms
    return out


def _identifier_summaries(template: dict[str, Any]) -> list[Result]:
    """Each resource type with the logical ids of its resources, in template order. No
    ResourceIdentifiers: they describe resource import, which mallee does not offer."""
    by_type: dict[str, list[str]] = {}
    for name, definition in (template.get("Resources") or {}).items():
        by_type.setdefault(str(definition["Type"]), []).append(str(name))
    return [{"ResourceType": t, "LogicalResourceIds": ids} for t, ids in by_type.items()]


def _without_none(entry: Result) -> Result:
    return {k: v for k, v in entry.items() if v is not None}


OPERATIONS: Operations = {
    "ValidateTemplate": validate_template,
    "GetTemplateSummary": get_template_summary,
}
