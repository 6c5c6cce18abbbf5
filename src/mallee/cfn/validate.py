"""Template validation: what ValidateTemplate and GetTemplateSummary answer, or the first
problem CloudFormation would report. Nothing here needs parameter values or the account, so
CreateStack runs it before resolving parameters.

The resource type catalog is passed in (the supported type names and a function saying which
capability a resource needs) so this module does not depend on it.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from mallee.cfn import graph, params, parse
from mallee.cfn.errors import TemplateError
from mallee.cfn.intrinsics import FUNCTIONS, PSEUDO_PARAMETERS, SUB_VARIABLE, unsupported_function

TEMPLATE_VERSION = "2010-09-09"
SECTIONS = frozenset(
    {
        "AWSTemplateFormatVersion",
        "Description",
        "Metadata",
        "Parameters",
        "Mappings",
        "Conditions",
        "Transform",
        "Resources",
        "Outputs",
    }
)
RESOURCE_ATTRIBUTES = frozenset(
    {
        "Type",
        "Properties",
        "DependsOn",
        "Condition",
        "DeletionPolicy",
        "UpdateReplacePolicy",
        "CreationPolicy",
        "UpdatePolicy",
        "Metadata",
    }
)
POLICIES = frozenset({"Delete", "Retain", "Snapshot"})
OUTPUT_PROPERTIES = frozenset({"Value", "Description", "Export", "Condition"})
CAPABILITY_ORDER = ("CAPABILITY_IAM", "CAPABILITY_NAMED_IAM")

NeedsCapability = Callable[[str, Mapping[str, Any]], str | None]
# (resource type, attribute) -> whether Fn::GetAtt may read it.
HasAttribute = Callable[[str, str], bool]


@dataclass(frozen=True)
class ParameterSummary:
    key: str
    type: str
    default: str | None
    no_echo: bool
    description: str | None
    allowed_values: list[str]


@dataclass(frozen=True)
class Summary:
    parameters: list[ParameterSummary]
    description: str | None
    capabilities: list[str]
    capabilities_reason: str | None
    resource_types: list[str]
    version: str | None
    metadata: Any = None
    declared_transforms: list[str] = field(default_factory=list)


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return ",".join(_text(v) for v in value)
    return str(value)


def _unresolved(names: list[str], block: str) -> TemplateError:
    return TemplateError(
        f"Template format error: Unresolved resource dependencies [{', '.join(names)}] "
        f"in the {block} block of the template"
    )


def _section(template: Mapping[str, Any], name: str) -> dict[str, Any]:
    value = template.get(name)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise TemplateError(f"Template format error: {name} must be an object")
    return value


def _functions(node: Any) -> Iterator[tuple[str, Any]]:
    """Every (function, argument) in a fragment, outermost first."""
    if isinstance(node, list):
        for item in node:
            yield from _functions(item)
    elif isinstance(node, dict):
        if len(node) == 1:
            ((key, value),) = node.items()
            if key in FUNCTIONS or (isinstance(key, str) and key.startswith("Fn::")):
                yield key, value
        for value in node.values():
            yield from _functions(value)


class _Checker:
    def __init__(self, template: Mapping[str, Any], has_attribute: HasAttribute | None) -> None:
        self.has_attribute = has_attribute
        self.resources = _section(template, "Resources")
        self.parameters = params.declarations(template)
        self.conditions = _section(template, "Conditions")
        self.names = set(self.resources) | set(self.parameters) | PSEUDO_PARAMETERS

    def fragment(self, node: Any, block: str, *, in_conditions: bool = False) -> None:
        """Functions known, their Refs and GetAtts resolvable, their conditions defined."""
        missing: list[str] = []
        for name, argument in _functions(node):
            if name not in FUNCTIONS:
                raise unsupported_function(name)
            if name == "Ref":
                if not isinstance(argument, str):
                    raise TemplateError(
                        "Template error: every Ref object must have a single String value."
                    )
                missing += self._missing(argument, in_conditions)
            elif name == "Fn::GetAtt":
                self._get_att(argument, in_conditions)
            elif name == "Fn::Sub":
                missing += self._sub(argument, in_conditions)
            elif name == "Fn::If":
                if not (isinstance(argument, list) and len(argument) == 3):
                    raise TemplateError(
                        "Template error: Fn::If requires a list argument with three elements"
                    )
                self.condition_name(argument[0], "Fn::If")
            elif name == "Condition":
                self.condition_name(argument, "Condition")
        if missing:
            names = list(dict.fromkeys(missing))
            if in_conditions:
                raise TemplateError(
                    f"Template format error: Unresolved dependencies [{', '.join(names)}]. "
                    "Cannot reference resources in the Conditions block of the template"
                )
            raise _unresolved(names, block)

    def _missing(self, name: str, in_conditions: bool) -> list[str]:
        known = self.names - set(self.resources) if in_conditions else self.names
        return [] if name in known else [name]

    def _get_att(self, argument: Any, in_conditions: bool) -> None:
        if isinstance(argument, str):
            argument = argument.split(".", 1)
        if not (isinstance(argument, list) and len(argument) == 2 and argument[0]):
            raise TemplateError(
                "Template error: every Fn::GetAtt object requires two non-empty parameters"
            )
        name, attribute = argument
        if in_conditions or name not in self.resources:
            raise TemplateError(
                f"Template error: instance of Fn::GetAtt references undefined resource {name}"
            )
        kind = self.resources[name].get("Type") if isinstance(self.resources[name], dict) else None
        # A computed attribute name (an intrinsic function) can only be checked when the
        # stack is made.
        if (
            self.has_attribute is not None
            and isinstance(kind, str)
            and isinstance(attribute, str)
            and not self.has_attribute(kind, attribute)
        ):
            raise TemplateError(
                f"Template error: resource {name} does not support attribute type "
                f"{attribute} in Fn::GetAtt"
            )

    def _sub(self, argument: Any, in_conditions: bool) -> list[str]:
        variables: Mapping[str, Any] = {}
        if isinstance(argument, list) and len(argument) == 2 and isinstance(argument[1], dict):
            argument, variables = argument
        if not isinstance(argument, str):
            raise TemplateError(
                "Template error: One or more Fn::Sub intrinsic functions don't specify "
                "expected arguments. Specify a string as first argument, and an optional "
                "second argument to specify a mapping of values to replace in the string"
            )
        missing: list[str] = []
        for match in SUB_VARIABLE.finditer(argument):
            inner = match.group(1).strip()
            if inner.startswith("!") or inner in variables:
                continue
            if "." in inner and inner not in self.names:
                self._get_att(inner.split(".", 1), in_conditions)
            else:
                missing += self._missing(inner, in_conditions)
        return missing

    def condition_name(self, name: Any, where: str) -> None:
        if not isinstance(name, str):
            raise TemplateError("Template format error: Every Condition member must be a string.")
        if name not in self.conditions:
            raise TemplateError(
                f"Template error: unresolved condition dependency {name} in {where}"
            )


def _condition_cycles(conditions: Mapping[str, Any]) -> None:
    uses = {
        name: {
            str(arg)
            for function, arg in _functions(body)
            if function == "Condition" and isinstance(arg, str)
        }
        for name, body in conditions.items()
    }
    try:
        graph.order(uses)
    except TemplateError:
        raise TemplateError(
            "Template error: circular condition dependency between conditions "
            f"[{', '.join(sorted(uses))}]"
        ) from None


def _check_count(what: str, count: int, limit: int) -> None:
    if count > limit:
        raise TemplateError(
            f"Template format error: Number of {what}, {count}, is greater than maximum "
            f"allowed, {limit}"
        )


def validate(
    template: Mapping[str, Any],
    supported: Collection[str],
    needs_capability: NeedsCapability,
    has_attribute: HasAttribute | None = None,
) -> Summary:
    """The template's summary, or TemplateError with the first problem AWS would report.
    `supported` names the resource types the catalog has; `has_attribute`, when given,
    checks each literal Fn::GetAtt attribute against the catalog too."""
    unknown = sorted(str(key) for key in template if key not in SECTIONS)
    if unknown:
        raise TemplateError(
            f"Template format error: Invalid template property or properties [{', '.join(unknown)}]"
        )
    version = template.get("AWSTemplateFormatVersion")
    if version is not None and _text(version) != TEMPLATE_VERSION:
        raise TemplateError(
            f"Template format error: '{_text(version)}' is not a valid template version"
        )
    if "Transform" in template:
        raise TemplateError("Transform is not supported")
    description = template.get("Description")
    if description is not None and not isinstance(description, str):
        raise TemplateError("Template format error: Description must be a string")
    if isinstance(description, str) and len(description.encode()) > parse.MAX_DESCRIPTION_BYTES:
        raise TemplateError(
            "Template format error: Description must be no longer than "
            f"{parse.MAX_DESCRIPTION_BYTES} bytes"
        )

    checker = _Checker(template, has_attribute)
    resources, parameters = checker.resources, checker.parameters
    outputs = _section(template, "Outputs")
    mappings = _section(template, "Mappings")
    if not resources:
        raise TemplateError("Template format error: At least one Resources member must be defined.")
    _check_count("resources", len(resources), parse.MAX_RESOURCES)
    _check_count("parameters", len(parameters), parse.MAX_PARAMETERS)
    _check_count("outputs", len(outputs), parse.MAX_OUTPUTS)
    _check_count("mappings", len(mappings), parse.MAX_MAPPINGS)
    for name, entries in mappings.items():
        if not isinstance(entries, dict) or not all(isinstance(v, dict) for v in entries.values()):
            raise TemplateError(
                f"Template format error: Every Mappings member {name} must be a map of maps"
            )

    for body in checker.conditions.values():
        checker.fragment(body, "Conditions", in_conditions=True)
    _condition_cycles(checker.conditions)

    types: list[str] = []
    unrecognized: list[str] = []
    for name, definition in resources.items():
        if not isinstance(name, str) or not name.isalnum() or not name.isascii():
            raise TemplateError(f"Template format error: Resource name {name} is non alphanumeric.")
        if not isinstance(definition, dict) or not isinstance(definition.get("Type"), str):
            raise TemplateError(
                "Template format error: [/Resources/"
                f"{name}] Every Resources object must contain a Type member."
            )
        for key in definition:
            if key not in RESOURCE_ATTRIBUTES:
                raise TemplateError(
                    f"Template format error: Invalid template resource property '{key}'"
                )
        for policy in ("DeletionPolicy", "UpdateReplacePolicy"):
            if policy in definition and definition[policy] not in POLICIES:
                raise TemplateError(
                    f"Template format error: Unrecognized {policy} {definition[policy]} "
                    f"for resource {name}"
                )
        if not isinstance(definition.get("Properties", {}), dict):
            raise TemplateError(
                f"Template format error: [/Resources/{name}/Properties] must be an object"
            )
        kind = definition["Type"]
        if kind not in types:
            types.append(kind)
        if kind not in supported and kind not in unrecognized:
            unrecognized.append(kind)
        if "Condition" in definition:
            checker.condition_name(definition["Condition"], name)
        missing = [d for d in graph.depends_on(definition) if d not in resources]
        if missing:
            raise _unresolved(missing, "Resources")
        checker.fragment(
            {k: v for k, v in definition.items() if k not in ("Type", "DependsOn", "Condition")},
            "Resources",
        )
    if unrecognized:
        raise TemplateError(
            f"Template format error: Unrecognized resource types: [{', '.join(unrecognized)}]"
        )

    for name, output in outputs.items():
        if not isinstance(name, str) or not name.isalnum() or not name.isascii():
            raise TemplateError(f"Template format error: Output name {name} is non alphanumeric.")
        if not isinstance(output, dict) or "Value" not in output:
            raise TemplateError(
                "Template format error: Every Outputs member must contain a Value object "
                f"(output {name})"
            )
        for key in output:
            if key not in OUTPUT_PROPERTIES:
                raise TemplateError(
                    f"Template format error: Invalid template output property '{key}'"
                )
        if "Condition" in output:
            checker.condition_name(output["Condition"], name)
        checker.fragment({k: v for k, v in output.items() if k != "Condition"}, "Outputs")

    graph.order(graph.dependencies(template))

    needed: dict[str, list[str]] = {}
    for definition in resources.values():
        capability = needs_capability(definition["Type"], definition.get("Properties") or {})
        if capability is not None:
            needed.setdefault(capability, [])
            if definition["Type"] not in needed[capability]:
                needed[capability].append(definition["Type"])
    capabilities = [c for c in CAPABILITY_ORDER if c in needed]
    capabilities += sorted(set(needed) - set(CAPABILITY_ORDER))
    reason = None
    if needed:
        kinds = list(dict.fromkeys(k for c in capabilities for k in needed[c]))
        reason = f"The following resource(s) require capabilities: [{', '.join(kinds)}]"

    return Summary(
        parameters=[_parameter(name, spec) for name, spec in parameters.items()],
        description=description,
        capabilities=capabilities,
        capabilities_reason=reason,
        resource_types=types,
        version=None if version is None else _text(version),
        metadata=template.get("Metadata"),
    )


def _parameter(name: str, spec: Mapping[str, Any]) -> ParameterSummary:
    return ParameterSummary(
        key=name,
        type=str(spec["Type"]),
        default=None if "Default" not in spec else _text(spec["Default"]),
        no_echo=_text(spec.get("NoEcho", "false")).lower() == "true",
        description=None if spec.get("Description") is None else str(spec["Description"]),
        allowed_values=[_text(v) for v in spec.get("AllowedValues") or []],
    )
