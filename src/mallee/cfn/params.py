"""Stack parameter values: given, previous (UpdateStack's UsePreviousValue) or Default,
checked against the declared Type and constraints.

AWS-specific types (`AWS::EC2::KeyPair::KeyName`, `List<AWS::EC2::Subnet::Id>` ...) are
checked against the account through a Lookups the caller passes in; SSM parameter types are
refused because mallee has no Systems Manager.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any, Protocol

from mallee.cfn.errors import TemplateError

NO_ECHO_MASK = "****"

# AWS-specific type -> the Lookups method that says which of some values exist.
AWS_TYPES = {
    "AWS::EC2::KeyPair::KeyName": "key_pairs",
    "AWS::EC2::SecurityGroup::Id": "security_groups",
    "AWS::EC2::SecurityGroup::GroupName": "security_group_names",
    "AWS::EC2::Subnet::Id": "subnets",
    "AWS::EC2::VPC::Id": "vpcs",
    "AWS::EC2::Image::Id": "images",
    "AWS::EC2::Instance::Id": "instances",
    "AWS::EC2::AvailabilityZone::Name": "zones",
    "AWS::EC2::Volume::Id": "volumes",
}
SCALAR_TYPES = frozenset({"String", "Number", *AWS_TYPES})
LIST_TYPES = frozenset(
    {"List<Number>", "CommaDelimitedList", *(f"List<{kind}>" for kind in AWS_TYPES)}
)
TYPES = SCALAR_TYPES | LIST_TYPES
PROPERTIES = frozenset(
    {
        "Type",
        "Default",
        "Description",
        "AllowedValues",
        "AllowedPattern",
        "MinLength",
        "MaxLength",
        "MinValue",
        "MaxValue",
        "ConstraintDescription",
        "NoEcho",
    }
)
_NUMBER = re.compile(r"\s*[-+]?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?\s*")


class Lookups(Protocol):
    """Which of the given values exist in the caller's account (each returns a subset)."""

    def key_pairs(self, names: set[str]) -> set[str]: ...
    def security_groups(self, ids: set[str]) -> set[str]: ...
    def security_group_names(self, names: set[str]) -> set[str]: ...
    def subnets(self, ids: set[str]) -> set[str]: ...
    def vpcs(self, ids: set[str]) -> set[str]: ...
    def images(self, ids: set[str]) -> set[str]: ...
    def instances(self, ids: set[str]) -> set[str]: ...
    def zones(self, names: set[str]) -> set[str]: ...
    def volumes(self, ids: set[str]) -> set[str]: ...


def declarations(template: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """The Parameters section, checked for shape: known properties and types, names."""
    section = template.get("Parameters") or {}
    if not isinstance(section, dict):
        raise TemplateError("Template format error: Parameters must be an object")
    for name, spec in section.items():
        if not isinstance(name, str) or not name.isalnum() or not name.isascii():
            raise TemplateError(
                f"Template format error: Parameter name {name} is non alphanumeric."
            )
        if not isinstance(spec, dict):
            raise TemplateError(
                f"Template format error: Every Parameters object must contain a Type member."
                f" (parameter {name})"
            )
        for key in spec:
            if key not in PROPERTIES:
                raise TemplateError(
                    f"Template format error: Invalid template parameter property '{key}'"
                )
        kind = spec.get("Type")
        if kind is None:
            raise TemplateError(
                f"Template format error: Every Parameters object must contain a Type member."
                f" (parameter {name})"
            )
        if kind not in TYPES:
            raise TemplateError(f"Template format error: Unrecognized parameter type: {kind}")
        allowed = spec.get("AllowedValues")
        if allowed is not None and not isinstance(allowed, list):
            raise TemplateError(
                f"Template format error: Every AllowedValues of parameter {name} must be a list"
            )
        _check_constraints(name, spec)
    return section


def _check_constraints(name: str, spec: Mapping[str, Any]) -> None:
    """The constraint values themselves are usable (so resolve never trips on them)."""
    for key, convert in (
        ("MinLength", int),
        ("MaxLength", int),
        ("MinValue", float),
        ("MaxValue", float),
    ):
        if key in spec:
            try:
                convert(_text(spec[key]))
            except ValueError:
                raise TemplateError(
                    f"Template format error: {key} of parameter {name} must be a number"
                ) from None
    if "AllowedPattern" in spec:
        try:
            re.compile(_text(spec["AllowedPattern"]))
        except re.error:
            raise TemplateError(
                f"Template format error: AllowedPattern of parameter {name} is not a valid "
                "regular expression"
            ) from None


def _member_type(kind: str) -> str | None:
    if kind == "CommaDelimitedList":
        return "String"
    if kind.startswith("List<"):
        return kind[5:-1]
    return None


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return ",".join(_text(v) for v in value)
    return str(value)


def _split(value: str) -> list[str]:
    # Members are trimmed, as CloudFormation documents for CommaDelimitedList.
    return [] if value == "" else [part.strip() for part in value.split(",")]


def _check(name: str, spec: Mapping[str, Any], kind: str, value: str) -> None:
    """One scalar (or list member) against the constraints; raises AWS's message."""
    description = spec.get("ConstraintDescription")

    def fail(message: str) -> TemplateError:
        if description is not None:
            return TemplateError(f"Parameter '{name}' failed to satisfy constraint: {description}")
        return TemplateError(message)

    if kind == "Number":
        if not _NUMBER.fullmatch(value):
            raise TemplateError(f"Parameter '{name}' must be a number")
        number = float(value)
        low, high = spec.get("MinValue"), spec.get("MaxValue")
        if low is not None and number < float(_text(low)):
            raise fail(f"Parameter '{name}' must be a number not less than {_text(low)}")
        if high is not None and number > float(_text(high)):
            raise fail(f"Parameter '{name}' must be a number not greater than {_text(high)}")
    else:
        shortest, longest = spec.get("MinLength"), spec.get("MaxLength")
        if shortest is not None and len(value) < int(_text(shortest)):
            raise fail(f"Parameter '{name}' must contain at least {_text(shortest)} characters")
        if longest is not None and len(value) > int(_text(longest)):
            raise fail(f"Parameter '{name}' must contain at most {_text(longest)} characters")
        pattern = spec.get("AllowedPattern")
        if pattern is not None and re.fullmatch(_text(pattern), value) is None:
            raise fail(f"Parameter '{name}' must match pattern {pattern}")
    allowed = spec.get("AllowedValues")
    if allowed is not None and value not in [_text(v) for v in allowed]:
        raise fail(f"Parameter '{name}' must be one of AllowedValues")


def resolve(
    template: Mapping[str, Any],
    given: Mapping[str, str],
    lookups: Lookups,
    previous: Mapping[str, str] | None = None,
    use_previous: Iterable[str] = (),
) -> dict[str, str | list[str]]:
    """Every declared parameter's value: a string, or a list for the List types. `previous`
    holds the stack's last values (UpdateStack) for the names in `use_previous`."""
    specs = declarations(template)
    keep = set(use_previous)
    unknown = [n for n in [*given, *sorted(keep - set(given))] if n not in specs]
    if unknown:
        raise TemplateError(f"Parameters: [{', '.join(unknown)}] do not exist in the template")
    previous = previous or {}
    raw: dict[str, str] = {}
    missing: list[str] = []
    for name, spec in specs.items():
        if name in keep:
            if name not in previous:
                raise TemplateError(
                    f"Invalid input for parameter key {name}. Cannot specify usePreviousValue "
                    "as true for a parameter key not in the previous template"
                )
            raw[name] = previous[name]
        elif name in given:
            raw[name] = given[name]
        elif "Default" in spec:
            raw[name] = _text(spec["Default"])
        else:
            missing.append(name)
    if missing:
        raise TemplateError(f"Parameters: [{', '.join(missing)}] must have values")

    values: dict[str, str | list[str]] = {}
    wanted: dict[str, set[str]] = {}
    owners: dict[tuple[str, str], str] = {}
    for name, value in raw.items():
        spec = specs[name]
        kind = str(spec["Type"])
        member = _member_type(kind)
        if member is None:
            _check(name, spec, "Number" if kind == "Number" else "String", value)
            values[name] = value
            members = [value]
        else:
            members = _split(value)
            for item in members:
                _check(name, spec, "Number" if member == "Number" else "String", item)
            values[name] = members
        method = AWS_TYPES.get(member or kind)
        if method is not None:
            wanted.setdefault(method, set()).update(members)
            for item in members:
                owners.setdefault((method, item), name)
    for method, asked in sorted(wanted.items()):
        found = getattr(lookups, method)(set(asked))
        for item in sorted(asked - set(found)):
            raise TemplateError(
                f"Parameter validation failed: parameter value {item} for parameter name "
                f"{owners[(method, item)]} does not exist"
            )
    return values


def masked(template: Mapping[str, Any], values: Mapping[str, str | list[str]]) -> dict[str, str]:
    """Values as DescribeStacks shows them: NoEcho ones as ****, lists comma-joined."""
    specs = template.get("Parameters") or {}
    shown: dict[str, str] = {}
    for name, value in values.items():
        no_echo = _text(specs.get(name, {}).get("NoEcho", "false")).lower() == "true"
        shown[name] = NO_ECHO_MASK if no_echo else _text(value)
    return shown
