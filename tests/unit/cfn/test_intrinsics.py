"""Intrinsic functions, pseudo parameters and the Conditions section."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from mallee.cfn import conditions, intrinsics, params, parse
from mallee.cfn.errors import TemplateError
from mallee.cfn.intrinsics import NO_VALUE, Context
from tests.unit.cfn import samples

pytestmark = pytest.mark.nodb

PSEUDO = intrinsics.pseudo_parameters(
    account_id="123456789012",
    region="eucalyptus",
    stack_id="arn:aws:cloudformation:eucalyptus:123456789012:stack/web/1",
    stack_name="web",
    notification_arns=["arn:aws:sns:eucalyptus:123456789012:topic"],
)
PHYSICAL = {"Group": "sg-12345678", "Handle": "https://cfn/handle", "Bucket": "web-logs"}
ATTRIBUTES = {("Balancer", "DNSName"): "web.lb.example", ("Db", "Endpoint.Address"): "db.host"}


def context(**overrides: Any) -> Context:
    def ref(name: str) -> Any:
        if name not in PHYSICAL:
            raise TemplateError(f"no {name}")
        return PHYSICAL[name]

    def get_att(name: str, attribute: str) -> Any:
        return ATTRIBUTES[(name, attribute)]

    fields: dict[str, Any] = {
        "pseudo": PSEUDO,
        "parameters": {"Env": "prod", "Zones": ["one", "two"], "Size": "3"},
        "mappings": {"Images": {"eucalyptus": {"Image": "emi-1", "Sizes": ["a", "b"]}}},
        "conditions": {"IsProd": True, "IsTest": False},
        "ref": ref,
        "get_att": get_att,
        "azs": lambda region: [f"{region}-a", f"{region}-b"],
        "import_value": lambda name: f"imported:{name}",
    }
    fields.update(overrides)
    return Context(**fields)


@pytest.mark.parametrize(
    ("node", "expected"),
    [
        ({"Ref": "AWS::AccountId"}, "123456789012"),
        ({"Ref": "AWS::Region"}, "eucalyptus"),
        ({"Ref": "AWS::StackName"}, "web"),
        ({"Ref": "AWS::StackId"}, "arn:aws:cloudformation:eucalyptus:123456789012:stack/web/1"),
        ({"Ref": "AWS::Partition"}, "aws"),
        ({"Ref": "AWS::URLSuffix"}, "amazonaws.com"),
        ({"Ref": "AWS::NotificationARNs"}, ["arn:aws:sns:eucalyptus:123456789012:topic"]),
        ({"Ref": "Env"}, "prod"),
        ({"Ref": "Zones"}, ["one", "two"]),
        ({"Ref": "Group"}, "sg-12345678"),
        ({"Fn::GetAtt": ["Balancer", "DNSName"]}, "web.lb.example"),
        ({"Fn::GetAtt": "Db.Endpoint.Address"}, "db.host"),
        ({"Fn::GetAtt": ["Balancer", {"Fn::Join": ["", ["DNS", "Name"]]}]}, "web.lb.example"),
        ({"Fn::Join": [",", ["a", 1, True]]}, "a,1,true"),
        ({"Fn::Join": ["", []]}, ""),
        ({"Fn::Join": ["-", {"Ref": "Zones"}]}, "one-two"),
        ({"Fn::Join": [",", {"Fn::GetAZs": ""}]}, "eucalyptus-a,eucalyptus-b"),
        ({"Fn::Sub": "${AWS::StackName}-${Env}"}, "web-prod"),
        ({"Fn::Sub": "${Group} ${Balancer.DNSName}"}, "sg-12345678 web.lb.example"),
        ({"Fn::Sub": "${!Literal} ${ Env }"}, "${Literal} prod"),
        ({"Fn::Sub": ["${A}/${B}", {"A": {"Ref": "Env"}, "B": "x"}]}, "prod/x"),
        ({"Fn::Sub": ["${Env}", {"Env": "shadowed"}]}, "shadowed"),
        ({"Fn::Sub": "no variables"}, "no variables"),
        ({"Fn::Select": [1, ["a", "b", "c"]]}, "b"),
        ({"Fn::Select": ["0", {"Fn::GetAZs": {"Ref": "AWS::Region"}}]}, "eucalyptus-a"),
        ({"Fn::Select": [1, {"Ref": "Zones"}]}, "two"),
        ({"Fn::Split": [",", "a,b,,c"]}, ["a", "b", "", "c"]),
        ({"Fn::Split": ["|", {"Fn::Join": ["|", ["x", "y"]]}]}, ["x", "y"]),
        ({"Fn::FindInMap": ["Images", {"Ref": "AWS::Region"}, "Image"]}, "emi-1"),
        ({"Fn::FindInMap": ["Images", "eucalyptus", "Sizes"]}, ["a", "b"]),
        ({"Fn::GetAZs": ""}, ["eucalyptus-a", "eucalyptus-b"]),
        ({"Fn::GetAZs": "other"}, ["other-a", "other-b"]),
        ({"Fn::Base64": "hello"}, base64.b64encode(b"hello").decode()),
        ({"Fn::Base64": {"Fn::Sub": "${Env}"}}, base64.b64encode(b"prod").decode()),
        ({"Fn::ImportValue": "shared-vpc"}, "imported:shared-vpc"),
        ({"Fn::ImportValue": {"Fn::Sub": "${Env}-vpc"}}, "imported:prod-vpc"),
        (
            {"Fn::Cidr": ["10.0.0.0/16", 3, 8]},
            ["10.0.0.0/24", "10.0.1.0/24", "10.0.2.0/24"],
        ),
        ({"Fn::Cidr": ["192.168.0.0/24", "2", "6"]}, ["192.168.0.0/26", "192.168.0.64/26"]),
        ({"Fn::Cidr": ["2001:db8::/56", 2, 64]}, ["2001:db8::/64", "2001:db8:0:1::/64"]),
        ({"Fn::If": ["IsProd", "big", "small"]}, "big"),
        ({"Fn::If": ["IsTest", "big", {"Ref": "Env"}]}, "prod"),
        ({"Fn::Equals": ["prod", {"Ref": "Env"}]}, True),
        ({"Fn::Equals": [3, {"Ref": "Size"}]}, True),
        ({"Fn::Equals": ["a", "b"]}, False),
        ({"Fn::And": [{"Condition": "IsProd"}, {"Fn::Equals": ["a", "a"]}]}, True),
        ({"Fn::And": [{"Condition": "IsProd"}, {"Condition": "IsTest"}]}, False),
        ({"Fn::Or": [{"Condition": "IsTest"}, {"Fn::Equals": ["a", "a"]}]}, True),
        ({"Fn::Or": [{"Condition": "IsTest"}, {"Condition": "IsTest"}]}, False),
        ({"Fn::Not": [{"Condition": "IsTest"}]}, True),
        ({"Condition": "IsProd"}, True),
        ({"Ref": "AWS::NoValue"}, NO_VALUE),
        ("plain", "plain"),
        (5, 5),
        ({"Ref": "Env", "Other": 1}, {"Ref": "Env", "Other": 1}),
    ],
)
def test_functions(node: Any, expected: Any) -> None:
    assert intrinsics.evaluate(node, context()) == expected


def test_no_value_drops_keys_and_items() -> None:
    node = {
        "Keep": 1,
        "Drop": {"Ref": "AWS::NoValue"},
        "Maybe": {"Fn::If": ["IsTest", "x", {"Ref": "AWS::NoValue"}]},
        "List": ["a", {"Fn::If": ["IsProd", {"Ref": "AWS::NoValue"}, "b"]}, "c"],
        "Nested": {"Inner": {"Ref": "AWS::NoValue"}},
    }
    assert intrinsics.evaluate(node, context()) == {"Keep": 1, "List": ["a", "c"], "Nested": {}}


@pytest.mark.parametrize(
    ("node", "message"),
    [
        ({"Ref": ["a"]}, "Template error: every Ref object must have a single String value."),
        (
            {"Fn::GetAtt": ["OnlyOne"]},
            "Template error: every Fn::GetAtt object requires two non-empty parameters",
        ),
        (
            {"Fn::GetAtt": ["Balancer", ""]},
            "Template error: every Fn::GetAtt object requires two non-empty parameters",
        ),
        (
            {"Fn::Join": [","]},
            "Template error: every Fn::Join object requires two parameters, (1) a string "
            "delimiter and (2) a list of strings to be joined or a function that returns a "
            "list of strings (such as Fn::GetAZs) to be joined.",
        ),
        ({"Fn::Join": [",", "notalist"]}, None),
        ({"Fn::Join": [",", [["nested"]]]}, None),
        (
            {"Fn::Sub": ["x"]},
            "Template error: One or more Fn::Sub intrinsic functions don't specify expected "
            "arguments. Specify a string as first argument, and an optional second argument "
            "to specify a mapping of values to replace in the string",
        ),
        ({"Fn::Sub": 5}, None),
        (
            {"Fn::Sub": "${Zones}"},
            "Template error: variable Zones in Fn::Sub expression does not resolve to a string",
        ),
        (
            {"Fn::Select": [5, ["a"]]},
            "Template error: Fn::Select cannot select nonexistent value at index 5",
        ),
        (
            {"Fn::Select": ["x", ["a"]]},
            "Template error: Fn::Select requires a list argument with two elements: an "
            "integer index and a list",
        ),
        (
            {"Fn::Split": [",", ["a"]]},
            "Template error: every Fn::Split object requires two parameters, (1) a string "
            "delimiter and (2) a string to be split or a function that returns a string to "
            "be split.",
        ),
        (
            {"Fn::FindInMap": ["Images", "nowhere", "Image"]},
            "Template error: Unable to get mapping for Images::nowhere::Image",
        ),
        (
            {"Fn::FindInMap": ["Images", "eucalyptus"]},
            "Template error: every Fn::FindInMap object requires three parameters, the map "
            "name, map key and the attribute for return value",
        ),
        (
            {"Fn::Base64": ["a"]},
            "Template error: every Fn::Base64 object must have a String value",
        ),
        (
            {"Fn::If": ["IsProd", "a"]},
            "Template error: Fn::If requires a list argument with three elements",
        ),
        (
            {"Fn::If": ["Nope", "a", "b"]},
            "Template error: unresolved condition dependency Nope in Fn::If",
        ),
        (
            {"Fn::Equals": ["a"]},
            "Template error: Fn::Equals requires a list argument with two elements",
        ),
        (
            {"Fn::And": [{"Condition": "IsProd"}]},
            "Template error: Fn::And requires a list argument with between 2 and 10 conditions",
        ),
        ({"Fn::Not": ["true"]}, None),
        (
            {"Fn::Cidr": ["10.0.0.0/24", 4, 8]},
            "Template error: Fn::Cidr cannot make 4 subnets of 8 bits from 10.0.0.0/24",
        ),
        ({"Fn::Cidr": ["nonsense", 1, 8]}, None),
        (
            {"Fn::Transmogrify": "x"},
            "Template format error: Encountered unsupported function: Fn::Transmogrify "
            "Supported functions are: [",
        ),
        ({"Condition": "Missing"}, "Template error: unresolved condition dependency Missing"),
        ({"Ref": "Unknown"}, "no Unknown"),
    ],
)
def test_errors(node: Any, message: str | None) -> None:
    with pytest.raises(TemplateError) as caught:
        intrinsics.evaluate(node, context())
    if message is not None:
        assert str(caught.value).startswith(message)


def test_default_callbacks_refuse_resources() -> None:
    ctx = Context(pseudo=PSEUDO)
    with pytest.raises(TemplateError) as caught:
        intrinsics.evaluate({"Ref": "Thing"}, ctx)
    assert str(caught.value) == (
        "Template format error: Unresolved resource dependencies [Thing] in the Resources "
        "block of the template"
    )
    with pytest.raises(TemplateError, match="No export named x found"):
        intrinsics.evaluate({"Fn::ImportValue": "x"}, ctx)


def test_web_template_properties_evaluate() -> None:
    template = parse.load(samples.WEB)
    values = params.resolve(template, {"KeyName": "demokey"}, samples.Account())
    truth = conditions.evaluate(template, values, PSEUDO)
    physical = {"ReadyHandle": "https://handle", "WebGroup": "sg-1", "WebProfile": "web-prof"}
    ctx = context(
        parameters=values,
        mappings=template["Mappings"],
        conditions=truth,
        ref=physical.__getitem__,
    )
    config = intrinsics.evaluate(template["Resources"]["WebConfig"]["Properties"], ctx)
    assert config["ImageId"] == "emi-11111111"
    assert config["SecurityGroups"] == ["sg-1"]
    user_data = base64.b64decode(config["UserData"]).decode()
    assert '"https://handle"' in user_data
    assert "echo ${NotAVariable}" in user_data
    scaling = intrinsics.evaluate(
        template["Resources"]["WebScaling"]["Properties"],
        context(parameters=values, conditions=truth, ref=lambda n: n),
    )
    assert scaling["MaxSize"] == 4
    assert scaling["MinSize"] == "2"
    balancer = intrinsics.evaluate(template["Resources"]["Balancer"]["Properties"], ctx)
    assert balancer["AvailabilityZones"] == ["eucalyptus-a", "eucalyptus-b"]


def test_conditions_of_the_web_template() -> None:
    template = parse.load(samples.WEB)
    values = params.resolve(template, {"KeyName": "demokey"}, samples.Account())
    assert conditions.evaluate(template, values, PSEUDO) == {
        "IsProd": False,
        "NotProd": True,
        "NoZones": True,
        "BigProd": False,
    }
    values = params.resolve(
        template,
        {"KeyName": "demokey", "Environment": "prod", "InstanceType": "m1.large", "Zones": "one"},
        samples.Account(),
    )
    assert conditions.evaluate(template, values, PSEUDO) == {
        "IsProd": True,
        "NotProd": False,
        "NoZones": False,
        "BigProd": True,
    }


@pytest.mark.parametrize(
    ("definitions", "message"),
    [
        (
            {"A": {"Condition": "B"}, "B": {"Fn::Not": [{"Condition": "A"}]}},
            "Template error: circular condition dependency between [A, B]",
        ),
        ({"A": {"Condition": "A"}}, "Template error: circular condition dependency between [A]"),
        (
            {"A": {"Fn::Equals": [{"Ref": "Bucket"}, "x"]}},
            "Template format error: Unresolved dependencies [Bucket]. Cannot reference "
            "resources in the Conditions block of the template",
        ),
        (
            {"A": {"Fn::Equals": [{"Fn::GetAtt": ["Bucket", "Arn"]}, "x"]}},
            "Template format error: Unresolved dependencies [Bucket]. Cannot reference "
            "resources in the Conditions block of the template",
        ),
        (
            {"A": {"Condition": "Missing"}},
            "Template error: unresolved condition dependency Missing in Condition",
        ),
        (
            {"A": "true"},
            "Template format error: Condition A must be a condition function: Fn::Equals, "
            "Fn::And, Fn::Or, Fn::Not or Condition",
        ),
    ],
)
def test_condition_errors(definitions: dict[str, Any], message: str) -> None:
    with pytest.raises(TemplateError) as caught:
        conditions.evaluate({"Conditions": definitions}, {}, PSEUDO)
    assert str(caught.value) == message


def test_conditions_read_parameters_pseudo_and_mappings() -> None:
    template = {
        "Mappings": {"Tiers": {"eucalyptus": {"Prod": "yes"}}},
        "Conditions": {
            "InEuca": {"Fn::Equals": [{"Ref": "AWS::Region"}, "eucalyptus"]},
            "Mapped": {
                "Fn::Equals": [{"Fn::FindInMap": ["Tiers", {"Ref": "AWS::Region"}, "Prod"]}, "yes"]
            },
            "Either": {"Fn::Or": [{"Condition": "Later"}, {"Condition": "InEuca"}]},
            "Later": {"Fn::Equals": [{"Ref": "Env"}, "prod"]},
        },
    }
    assert conditions.evaluate(template, {"Env": "test"}, PSEUDO) == {
        "InEuca": True,
        "Mapped": True,
        "Either": True,
        "Later": False,
    }
