"""Template bodies: JSON and YAML, short-form tags, AWS's messages for malformed ones."""

from __future__ import annotations

import json
from typing import Any

import pytest

from mallee.cfn import parse
from mallee.cfn.errors import TemplateError
from tests.unit.cfn import samples

pytestmark = pytest.mark.nodb


def test_seed_json_sample() -> None:
    template = parse.load(samples.SEED)
    assert template["AWSTemplateFormatVersion"] == "2010-09-09"
    instance = template["Resources"]["MyInstance"]["Properties"]
    assert instance["KeyName"] == {"Ref": "KeyName"}
    assert instance["SecurityGroups"] == [{"Ref": "MySecurityGroup"}]


def test_yaml_keeps_version_a_string() -> None:
    template = parse.load(samples.WEB)
    assert template["AWSTemplateFormatVersion"] == "2010-09-09"
    assert template["Parameters"]["DbPassword"]["NoEcho"] is True


def test_json_and_yaml_forms_agree() -> None:
    yaml_form = parse.load(samples.WEB)
    assert parse.load(json.dumps(yaml_form)) == yaml_form


@pytest.mark.parametrize(
    ("yaml_value", "long_form"),
    [
        ("!Ref KeyName", {"Ref": "KeyName"}),
        ("!Ref AWS::Region", {"Ref": "AWS::Region"}),
        ("!GetAtt Balancer.DNSName", {"Fn::GetAtt": ["Balancer", "DNSName"]}),
        ("!GetAtt Db.Endpoint.Address", {"Fn::GetAtt": ["Db", "Endpoint.Address"]}),
        ("!GetAtt [Balancer, DNSName]", {"Fn::GetAtt": ["Balancer", "DNSName"]}),
        ("!Sub 'x-${AWS::Region}'", {"Fn::Sub": "x-${AWS::Region}"}),
        (
            "!Sub ['${A}-b', {A: !Ref P}]",
            {"Fn::Sub": ["${A}-b", {"A": {"Ref": "P"}}]},
        ),
        ("!If [C, 1, !Ref AWS::NoValue]", {"Fn::If": ["C", 1, {"Ref": "AWS::NoValue"}]}),
        ("!Join [',', [a, b]]", {"Fn::Join": [",", ["a", "b"]]}),
        ("!Select [0, !GetAZs '']", {"Fn::Select": [0, {"Fn::GetAZs": ""}]}),
        ("!Split [',', 'a,b']", {"Fn::Split": [",", "a,b"]}),
        ("!FindInMap [M, K, V]", {"Fn::FindInMap": ["M", "K", "V"]}),
        ("!GetAZs eucalyptus", {"Fn::GetAZs": "eucalyptus"}),
        ("!Base64 hello", {"Fn::Base64": "hello"}),
        ("!ImportValue shared-vpc", {"Fn::ImportValue": "shared-vpc"}),
        ("!Cidr [10.0.0.0/16, 4, 8]", {"Fn::Cidr": ["10.0.0.0/16", 4, 8]}),
        ("!Equals [a, b]", {"Fn::Equals": ["a", "b"]}),
        (
            "!And [!Condition A, !Condition B]",
            {"Fn::And": [{"Condition": "A"}, {"Condition": "B"}]},
        ),
        ("!Or [!Condition A, !Condition B]", {"Fn::Or": [{"Condition": "A"}, {"Condition": "B"}]}),
        ("!Not [!Condition A]", {"Fn::Not": [{"Condition": "A"}]}),
        ("!Base64 {Fn::Sub: x}", {"Fn::Base64": {"Fn::Sub": "x"}}),
    ],
)
def test_short_form_tags(yaml_value: str, long_form: Any) -> None:
    assert parse.load(f"Value: {yaml_value}\n") == {"Value": long_form}


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            "Resources:\n  A:\n    Type: x\n   Bad: y\n",
            "Template format error: YAML not well-formed. (line 4, column 4)",
        ),
        (
            "Resources:\n  A: [1, 2\n",
            "Template format error: YAML not well-formed. (line 3, column 1)",
        ),
        (
            '{\n  "Resources": {\n    "A": }\n}',
            "Template format error: JSON not well-formed. (line 3, column 10)",
        ),
        (
            '  {"Resources": {"A": 1},}',
            "Template format error: JSON not well-formed. (line 1, column 26)",
        ),
        ("a: 1\nb: 2\na: 3\n", "Template format error: YAML not well-formed. (line 3, column 1)"),
        ("a: !Bogus x\n", "Template format error: YAML not well-formed. (line 1, column 4)"),
        ("just a string\n", "Template format error: unsupported structure."),
        ("- a\n- b\n", "Template format error: unsupported structure."),
        ("", "Template format error: unsupported structure."),
    ],
)
def test_malformed_bodies(body: str, message: str) -> None:
    with pytest.raises(TemplateError) as caught:
        parse.load(body)
    assert str(caught.value) == message


def test_limits_are_awss() -> None:
    assert parse.MAX_BODY_BYTES == 51_200
    assert parse.MAX_RESOURCES == 500
    assert parse.MAX_PARAMETERS == parse.MAX_OUTPUTS == 200


def test_safe_loading_refuses_python_objects() -> None:
    with pytest.raises(TemplateError):
        parse.load("a: !!python/object/apply:os.system ['true']\n")


@pytest.mark.parametrize(
    "body",
    [
        "Base: &base {Type: AWS::S3::Bucket}\nResources:\n  A: *base\n",
        "L: &l [a, b]\nM: [*l, *l]\n",
        # An alias bomb: refused before anything walks it.
        "a: &a [x, x, x, x, x, x, x, x, x]\n"
        "b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
        "c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]\n"
        "d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]\n",
    ],
)
def test_yaml_aliases_refused(body: str) -> None:
    with pytest.raises(TemplateError) as caught:
        parse.load(body)
    assert str(caught.value) == (
        "Template format error: YAML aliases are not allowed in CloudFormation templates"
    )


def test_scalar_anchor_without_alias_is_fine() -> None:
    assert parse.load("a: &x 1\nb: 2\n") == {"a": 1, "b": 2}


@pytest.mark.parametrize(
    "body",
    [
        '{"a": ' * 150 + "1" + "}" * 150,
        "a: " + "[" * 150 + "]" * 150 + "\n",
        '{"a": ' * 5000 + "1" + "}" * 5000,
    ],
)
def test_runaway_nesting_refused(body: str) -> None:
    with pytest.raises(TemplateError) as caught:
        parse.load(body)
    assert str(caught.value) == "Template format error: template nesting is deeper than 100"
