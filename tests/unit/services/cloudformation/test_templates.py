"""Whatever a template holds, the service answers ValidationError or a summary, never a 500:
the template layer's problems all arrive as ServiceError."""

from __future__ import annotations

import json
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mallee.api.errors import ServiceError
from mallee.services.cloudformation import templates

pytestmark = pytest.mark.nodb

_NAMES = st.sampled_from(
    [
        "Resources",
        "Parameters",
        "Outputs",
        "Conditions",
        "Mappings",
        "Metadata",
        "Description",
        "AWSTemplateFormatVersion",
        "Type",
        "Properties",
        "DependsOn",
        "Condition",
        "Ref",
        "Fn::GetAtt",
        "Fn::Sub",
        "Fn::If",
        "Fn::Join",
        "Fn::FindInMap",
        "Fn::Equals",
        "Value",
        "Export",
        "Default",
        "AllowedValues",
        "AllowedPattern",
        "MinLength",
        "MaxValue",
        "NoEcho",
        "A",
        "B",
        "AWS::EC2::SecurityGroup",
        "AWS::IAM::Role",
        "AWS::NoValue",
        "String",
        "Number",
        "A.Arn",
        "${A}",
        "${B.GroupId}",
        "2010-09-09",
        "[",
    ]
)
_SCALARS = st.one_of(
    _NAMES, st.integers(-3, 3), st.booleans(), st.none(), st.floats(allow_nan=False)
)
_VALUES = st.recursive(
    _SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(_NAMES, inner, max_size=4)
    ),
    max_leaves=30,
)
_TEMPLATES = st.dictionaries(_NAMES, _VALUES, max_size=6)


def _answer(text: str) -> None:
    try:
        templates.summary(templates.load(text))
    except ServiceError as err:
        assert (err.code, err.status) == ("ValidationError", 400)


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(_TEMPLATES)
def test_any_json_template(template: dict[str, Any]) -> None:
    _answer(json.dumps(template))


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(_TEMPLATES)
def test_any_yaml_template(template: dict[str, Any]) -> None:
    _answer(yaml.safe_dump(template))


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=200))
def test_any_text(text: str) -> None:
    _answer(text)
