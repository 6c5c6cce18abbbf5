"""Intrinsic functions and pseudo parameters, evaluated over a template fragment.

The stack engine evaluates a resource's Properties once the resources it refers to exist; the
callbacks in Context give their Ref and GetAtt values, the zones and other stacks' exports, so
this module never looks anything up itself. `AWS::NoValue` (directly or from Fn::If) removes
the key or list item that holds it, as CloudFormation does.
"""

from __future__ import annotations

import base64
import ipaddress
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from mallee.cfn.errors import TemplateError

NO_VALUE_REF = "AWS::NoValue"
PSEUDO_PARAMETERS = frozenset(
    {
        "AWS::AccountId",
        "AWS::Region",
        "AWS::StackId",
        "AWS::StackName",
        "AWS::Partition",
        "AWS::URLSuffix",
        "AWS::NotificationARNs",
        NO_VALUE_REF,
    }
)
FUNCTIONS = frozenset(
    {
        "Ref",
        "Condition",
        "Fn::GetAtt",
        "Fn::Join",
        "Fn::Sub",
        "Fn::Select",
        "Fn::Split",
        "Fn::FindInMap",
        "Fn::GetAZs",
        "Fn::Base64",
        "Fn::ImportValue",
        "Fn::Cidr",
        "Fn::If",
        "Fn::Equals",
        "Fn::And",
        "Fn::Or",
        "Fn::Not",
    }
)
# ${Name}, ${Resource.Attribute} and the escape ${!Literal}, which stays as `${Literal}`.
SUB_VARIABLE = re.compile(r"\$\{([^}]*)\}")


class _NoValue:
    """What `Ref AWS::NoValue` evaluates to until its container drops it."""

    _instance: _NoValue | None = None

    def __new__(cls) -> _NoValue:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "NO_VALUE"


NO_VALUE: Any = _NoValue()


def pseudo_parameters(
    *,
    account_id: str,
    region: str,
    stack_id: str,
    stack_name: str,
    notification_arns: Sequence[str] = (),
    partition: str = "aws",
    url_suffix: str = "amazonaws.com",
) -> dict[str, Any]:
    """The pseudo parameters' values, keyed by their names (`AWS::Region` ...)."""
    return {
        "AWS::AccountId": account_id,
        "AWS::Region": region,
        "AWS::StackId": stack_id,
        "AWS::StackName": stack_name,
        "AWS::Partition": partition,
        "AWS::URLSuffix": url_suffix,
        "AWS::NotificationARNs": list(notification_arns),
    }


def _no_resources(logical_id: str) -> Any:
    raise TemplateError(
        f"Template format error: Unresolved resource dependencies [{logical_id}] "
        "in the Resources block of the template"
    )


def _no_attributes(logical_id: str, attribute: str) -> Any:
    raise TemplateError(
        f"Template error: instance of Fn::GetAtt references undefined resource {logical_id}"
    )


def _no_zones(region: str) -> list[str]:
    return []


def _no_exports(name: str) -> str:
    raise TemplateError(f"No export named {name} found.")


@dataclass
class Context:
    """Everything an intrinsic function may read. `pseudo` comes from pseudo_parameters();
    `conditions` may be a lazy mapping (conditions.evaluate uses one while it resolves)."""

    pseudo: Mapping[str, Any]
    parameters: Mapping[str, str | list[str]] = field(default_factory=dict)
    mappings: Mapping[str, Any] = field(default_factory=dict)
    conditions: Mapping[str, bool] = field(default_factory=dict)
    ref: Callable[[str], Any] = _no_resources
    get_att: Callable[[str, str], Any] = _no_attributes
    azs: Callable[[str], list[str]] = _no_zones
    import_value: Callable[[str], str] = _no_exports


def text(value: Any) -> str:
    """A scalar as CloudFormation stringifies it (booleans lower-case, numbers as written)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str | int | float):
        return str(value)
    raise TemplateError(f"Template error: expected a string value but found {_shape(value)}")


def _shape(value: Any) -> str:
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "a list"
    return "a value of another type"


def function_of(node: Any) -> str | None:
    """The function a node calls, if it is a one-key object naming one (or any `Fn::`)."""
    if isinstance(node, dict) and len(node) == 1:
        (key,) = node
        if key in FUNCTIONS or (isinstance(key, str) and key.startswith("Fn::")):
            return str(key)
    return None


def unsupported_function(name: str) -> TemplateError:
    return TemplateError(
        f"Template format error: Encountered unsupported function: {name} "
        f"Supported functions are: [{', '.join(sorted(FUNCTIONS))}]"
    )


def evaluate(node: Any, ctx: Context) -> Any:
    """The node with every intrinsic function replaced by its value. The result may be
    NO_VALUE when the node itself is `Ref AWS::NoValue` (or an Fn::If choosing it)."""
    name = function_of(node)
    if name is not None:
        handler = _HANDLERS.get(name)
        if handler is None:
            raise unsupported_function(name)
        return handler(node[name], ctx)
    if isinstance(node, dict):
        result: dict[str, Any] = {}
        for key, value in node.items():
            evaluated = evaluate(value, ctx)
            if evaluated is not NO_VALUE:
                result[key] = evaluated
        return result
    if isinstance(node, list):
        return [item for item in (evaluate(i, ctx) for i in node) if item is not NO_VALUE]
    return node


def _ref(argument: Any, ctx: Context) -> Any:
    if not isinstance(argument, str):
        raise TemplateError("Template error: every Ref object must have a single String value.")
    if argument == NO_VALUE_REF:
        return NO_VALUE
    if argument in ctx.pseudo:
        return ctx.pseudo[argument]
    if argument in ctx.parameters:
        return ctx.parameters[argument]
    return ctx.ref(argument)


def _get_att(argument: Any, ctx: Context) -> Any:
    if isinstance(argument, str) and "." in argument:
        argument = argument.split(".", 1)
    if not (isinstance(argument, list) and len(argument) == 2 and isinstance(argument[0], str)):
        raise TemplateError(
            "Template error: every Fn::GetAtt object requires two non-empty parameters"
        )
    attribute = evaluate(argument[1], ctx)
    if not argument[0] or not isinstance(attribute, str) or not attribute:
        raise TemplateError(
            "Template error: every Fn::GetAtt object requires two non-empty parameters"
        )
    return ctx.get_att(argument[0], attribute)


def _join(argument: Any, ctx: Context) -> str:
    problem = TemplateError(
        "Template error: every Fn::Join object requires two parameters, (1) a string "
        "delimiter and (2) a list of strings to be joined or a function that returns a list "
        "of strings (such as Fn::GetAZs) to be joined."
    )
    if not (isinstance(argument, list) and len(argument) == 2):
        raise problem
    delimiter, items = argument[0], evaluate(argument[1], ctx)
    if not isinstance(delimiter, str) or not isinstance(items, list):
        raise problem
    if any(isinstance(item, dict | list) for item in items):
        raise problem
    return delimiter.join(text(item) for item in items)


def _sub(argument: Any, ctx: Context) -> str:
    problem = TemplateError(
        "Template error: One or more Fn::Sub intrinsic functions don't specify expected "
        "arguments. Specify a string as first argument, and an optional second argument to "
        "specify a mapping of values to replace in the string"
    )
    variables: dict[str, Any] = {}
    if isinstance(argument, list):
        if len(argument) != 2 or not isinstance(argument[1], dict):
            raise problem
        argument, raw = argument
        variables = {str(k): evaluate(v, ctx) for k, v in raw.items()}
    if not isinstance(argument, str):
        raise problem

    def replace(match: re.Match[str]) -> str:
        inner = match.group(1)
        if inner.startswith("!"):
            return "${" + inner[1:] + "}"
        name = inner.strip()
        if name in variables:
            value = variables[name]
        elif "." in name and name not in ctx.parameters and name not in ctx.pseudo:
            resource, attribute = name.split(".", 1)
            value = ctx.get_att(resource, attribute)
        else:
            value = _ref(name, ctx)
        if isinstance(value, dict | list) or value is NO_VALUE:
            raise TemplateError(
                f"Template error: variable {name} in Fn::Sub expression does not resolve to "
                "a string"
            )
        return text(value)

    return SUB_VARIABLE.sub(replace, argument)


def _select(argument: Any, ctx: Context) -> Any:
    problem = TemplateError(
        "Template error: Fn::Select requires a list argument with two elements: an integer "
        "index and a list"
    )
    if not (isinstance(argument, list) and len(argument) == 2):
        raise problem
    index, items = evaluate(argument[0], ctx), evaluate(argument[1], ctx)
    try:
        position = int(text(index))
    except (ValueError, TemplateError):
        raise problem from None
    if not isinstance(items, list):
        raise problem
    if not 0 <= position < len(items):
        raise TemplateError(
            f"Template error: Fn::Select cannot select nonexistent value at index {position}"
        )
    return items[position]


def _split(argument: Any, ctx: Context) -> list[str]:
    problem = TemplateError(
        "Template error: every Fn::Split object requires two parameters, (1) a string "
        "delimiter and (2) a string to be split or a function that returns a string to be "
        "split."
    )
    if not (isinstance(argument, list) and len(argument) == 2):
        raise problem
    delimiter, source = argument[0], evaluate(argument[1], ctx)
    if not isinstance(delimiter, str) or not delimiter or not isinstance(source, str):
        raise problem
    return source.split(delimiter)


def _find_in_map(argument: Any, ctx: Context) -> Any:
    if not (isinstance(argument, list) and len(argument) == 3):
        raise TemplateError(
            "Template error: every Fn::FindInMap object requires three parameters, the map "
            "name, map key and the attribute for return value"
        )
    keys = [evaluate(part, ctx) for part in argument]
    if not all(isinstance(k, str | int | float) and not isinstance(k, bool) for k in keys):
        raise TemplateError(
            "Template error: every Fn::FindInMap object requires three parameters, the map "
            "name, map key and the attribute for return value"
        )
    name, top, second = (text(k) for k in keys)
    try:
        value = ctx.mappings[name][top][second]
    except (KeyError, TypeError):
        raise TemplateError(
            f"Template error: Unable to get mapping for {name}::{top}::{second}"
        ) from None
    return value


def _get_azs(argument: Any, ctx: Context) -> list[str]:
    region = evaluate(argument, ctx)
    if not isinstance(region, str):
        raise TemplateError("Template error: Fn::GetAZs requires a string region argument")
    return list(ctx.azs(region or str(ctx.pseudo.get("AWS::Region", ""))))


def _base64(argument: Any, ctx: Context) -> str:
    value = evaluate(argument, ctx)
    if not isinstance(value, str):
        raise TemplateError("Template error: every Fn::Base64 object must have a String value")
    return base64.b64encode(value.encode()).decode()


def _import_value(argument: Any, ctx: Context) -> str:
    name = evaluate(argument, ctx)
    if not isinstance(name, str) or not name:
        raise TemplateError(
            "Template error: every Fn::ImportValue object requires a non-empty string export name"
        )
    return ctx.import_value(name)


def _cidr(argument: Any, ctx: Context) -> list[str]:
    problem = TemplateError(
        "Template error: Fn::Cidr requires a list argument with three elements: an IP block, "
        "a count of subnets and the number of subnet bits"
    )
    if not (isinstance(argument, list) and len(argument) == 3):
        raise problem
    block, count, bits = (evaluate(part, ctx) for part in argument)
    try:
        network = ipaddress.ip_network(text(block), strict=False)
        how_many, subnet_bits = int(text(count)), int(text(bits))
    except (ValueError, TemplateError):
        raise problem from None
    prefix = network.max_prefixlen - subnet_bits
    if not 1 <= how_many <= 256 or subnet_bits < 1 or prefix < network.prefixlen:
        raise TemplateError(
            f"Template error: Fn::Cidr cannot make {how_many} subnets of {subnet_bits} bits "
            f"from {network}"
        )
    subnets: list[str] = []
    for subnet in network.subnets(new_prefix=prefix):
        subnets.append(str(subnet))
        if len(subnets) == how_many:
            return subnets
    raise TemplateError(
        f"Template error: Fn::Cidr cannot make {how_many} subnets of {subnet_bits} bits "
        f"from {network}"
    )


def _condition_value(name: Any, ctx: Context, where: str) -> bool:
    if not isinstance(name, str):
        raise TemplateError("Template format error: Every Condition member must be a string.")
    if name not in ctx.conditions:
        raise TemplateError(f"Template error: unresolved condition dependency {name} in {where}")
    return bool(ctx.conditions[name])


def _if(argument: Any, ctx: Context) -> Any:
    if not (isinstance(argument, list) and len(argument) == 3):
        raise TemplateError("Template error: Fn::If requires a list argument with three elements")
    chosen = argument[1] if _condition_value(argument[0], ctx, "Fn::If") else argument[2]
    return evaluate(chosen, ctx)


def _boolean(node: Any, ctx: Context, function: str) -> bool:
    value = evaluate(node, ctx)
    if not isinstance(value, bool):
        raise TemplateError(
            f"Template error: every {function} member must be a condition: a Condition "
            "reference or a condition function"
        )
    return value


def _equals(argument: Any, ctx: Context) -> bool:
    if not (isinstance(argument, list) and len(argument) == 2):
        raise TemplateError("Template error: Fn::Equals requires a list argument with two elements")
    first, second = (evaluate(part, ctx) for part in argument)
    if isinstance(first, dict | list) or isinstance(second, dict | list):
        return bool(first == second)
    return text(first) == text(second)


def _and(argument: Any, ctx: Context) -> bool:
    return all(_operands(argument, ctx, "Fn::And"))


def _or(argument: Any, ctx: Context) -> bool:
    return any(_operands(argument, ctx, "Fn::Or"))


def _operands(argument: Any, ctx: Context, function: str) -> list[bool]:
    if not (isinstance(argument, list) and 2 <= len(argument) <= 10):
        raise TemplateError(
            f"Template error: {function} requires a list argument with between 2 and 10 conditions"
        )
    # All operands are evaluated (no short-circuit) so a broken one is reported either way.
    return [_boolean(node, ctx, function) for node in argument]


def _not(argument: Any, ctx: Context) -> bool:
    if not (isinstance(argument, list) and len(argument) == 1):
        raise TemplateError("Template error: Fn::Not requires a list argument with one element")
    return not _boolean(argument[0], ctx, "Fn::Not")


def _condition(argument: Any, ctx: Context) -> bool:
    return _condition_value(argument, ctx, "Condition")


_HANDLERS: dict[str, Callable[[Any, Context], Any]] = {
    "Ref": _ref,
    "Condition": _condition,
    "Fn::GetAtt": _get_att,
    "Fn::Join": _join,
    "Fn::Sub": _sub,
    "Fn::Select": _select,
    "Fn::Split": _split,
    "Fn::FindInMap": _find_in_map,
    "Fn::GetAZs": _get_azs,
    "Fn::Base64": _base64,
    "Fn::ImportValue": _import_value,
    "Fn::Cidr": _cidr,
    "Fn::If": _if,
    "Fn::Equals": _equals,
    "Fn::And": _and,
    "Fn::Or": _or,
    "Fn::Not": _not,
}
