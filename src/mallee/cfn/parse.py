"""Template bodies (JSON or YAML) into plain dicts, with YAML's short-form tags expanded.

A body whose first non-blank character is `{` is JSON, as CloudFormation decides, so a
malformed JSON template reports a JSON position rather than a YAML one. YAML's implicit
timestamps are read as strings: `AWSTemplateFormatVersion: 2010-09-09` must stay text.
"""

from __future__ import annotations

import json
from typing import Any

import yaml

from mallee.cfn.errors import TemplateError

# The API applies the two body limits (it knows where the body came from); the rest are
# CloudFormation's template quotas, checked by validate.
MAX_BODY_BYTES = 51_200
MAX_URL_BODY_BYTES = 1_048_576
MAX_RESOURCES = 500
MAX_PARAMETERS = 200
MAX_OUTPUTS = 200
MAX_MAPPINGS = 200
MAX_NAME_LENGTH = 255
MAX_DESCRIPTION_BYTES = 1024
# Not an AWS quota: it keeps the recursive walks in validate and intrinsics far from Python's
# recursion limit. Real templates nest a dozen levels.
MAX_DEPTH = 100

_BaseLoader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _Loader(_BaseLoader):  # type: ignore[misc]
    """Safe loading plus CloudFormation's tags; a subclass so the global loaders stay clean."""


# Tag -> long-form key; !GetAtt and !Ref/!Condition are handled on their own below.
_FUNCTION_TAGS = {
    "Sub": "Fn::Sub",
    "If": "Fn::If",
    "Join": "Fn::Join",
    "Select": "Fn::Select",
    "Split": "Fn::Split",
    "FindInMap": "Fn::FindInMap",
    "GetAZs": "Fn::GetAZs",
    "Base64": "Fn::Base64",
    "ImportValue": "Fn::ImportValue",
    "Cidr": "Fn::Cidr",
    "Equals": "Fn::Equals",
    "And": "Fn::And",
    "Or": "Fn::Or",
    "Not": "Fn::Not",
    "Ref": "Ref",
    "Condition": "Condition",
}


def _node_value(loader: Any, node: yaml.Node) -> Any:
    if isinstance(node, yaml.ScalarNode):
        return loader.construct_scalar(node)
    if isinstance(node, yaml.SequenceNode):
        return loader.construct_sequence(node, deep=True)
    return loader.construct_mapping(node, deep=True)


def _function(key: str) -> Any:
    def construct(loader: Any, node: yaml.Node) -> dict[str, Any]:
        return {key: _node_value(loader, node)}

    return construct


def _get_att(loader: Any, node: yaml.Node) -> dict[str, Any]:
    value = _node_value(loader, node)
    if isinstance(value, str):
        # Only the first dot splits: `!GetAtt Db.Endpoint.Address` names attribute
        # `Endpoint.Address`.
        name, _, attribute = value.partition(".")
        return {"Fn::GetAtt": [name, attribute]}
    return {"Fn::GetAtt": value}


def _mapping(loader: Any, node: yaml.MappingNode) -> dict[Any, Any]:
    # PyYAML keeps the last of repeated keys silently; CloudFormation refuses the template.
    seen: set[Any] = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=True)
        if key in seen:
            raise TemplateError(_yaml_message(key_node.start_mark))
        seen.add(key)
    loader.flatten_mapping(node)
    return dict(loader.construct_pairs(node, deep=True))


for _tag, _key in _FUNCTION_TAGS.items():
    _Loader.add_constructor("!" + _tag, _function(_key))
_Loader.add_constructor("!GetAtt", _get_att)
_Loader.add_constructor("tag:yaml.org,2002:map", _mapping)
_Loader.add_constructor("tag:yaml.org,2002:timestamp", _BaseLoader.construct_yaml_str)


def _yaml_message(mark: Any) -> str:
    if mark is None:
        return "Template format error: YAML not well-formed."
    return (
        "Template format error: YAML not well-formed. "
        f"(line {mark.line + 1}, column {mark.column + 1})"
    )


def load(body: str) -> dict[str, Any]:
    """The template as a dict, or TemplateError with AWS's message and the error position."""
    if body.lstrip().startswith("{"):
        try:
            document = json.loads(body)
        except json.JSONDecodeError as error:
            raise TemplateError(
                "Template format error: JSON not well-formed. "
                f"(line {error.lineno}, column {error.colno})"
            ) from None
        except RecursionError:
            raise _too_deep() from None
    else:
        try:
            document = yaml.load(body, Loader=_Loader)  # a SafeLoader subclass
        except yaml.MarkedYAMLError as error:
            raise TemplateError(_yaml_message(error.problem_mark or error.context_mark)) from None
        except yaml.YAMLError:
            raise TemplateError("Template format error: YAML not well-formed.") from None
        except RecursionError:
            raise _too_deep() from None
    if not isinstance(document, dict):
        raise TemplateError("Template format error: unsupported structure.")
    _check_structure(document)
    return document


def _too_deep() -> TemplateError:
    return TemplateError(f"Template format error: template nesting is deeper than {MAX_DEPTH}")


def _check_structure(document: dict[str, Any]) -> None:
    """Refuse YAML aliases (as CloudFormation does) and runaway nesting. An alias makes the
    loader share one object between places, so a shared container is an alias: refusing it
    also stops an alias bomb, which a walk of the tree would otherwise expand."""
    seen: set[int] = set()
    stack: list[tuple[Any, int]] = [(document, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise _too_deep()
        if id(node) in seen:
            raise TemplateError(
                "Template format error: YAML aliases are not allowed in CloudFormation templates"
            )
        seen.add(id(node))
        children = node.values() if isinstance(node, dict) else node
        stack.extend((child, depth + 1) for child in children if isinstance(child, dict | list))
