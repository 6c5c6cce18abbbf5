"""ValidateTemplate / GetTemplateSummary: the summary, and each refusal's AWS message."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from mallee.cfn import parse, validate
from mallee.cfn.errors import TemplateError
from mallee.cfn.validate import ParameterSummary
from tests.unit.cfn import samples

pytestmark = pytest.mark.nodb


def check(template: dict[str, Any]) -> validate.Summary:
    return validate.validate(template, samples.SUPPORTED, samples.needs_capability)


def refused(template: dict[str, Any]) -> str:
    with pytest.raises(TemplateError) as caught:
        check(template)
    return str(caught.value)


def seed() -> dict[str, Any]:
    return parse.load(samples.SEED)


def test_seed_sample_summary() -> None:
    summary = check(seed())
    assert summary.description == "Cloudformation Example => Run an instance"
    assert summary.parameters == [
        ParameterSummary(
            key="KeyName",
            type="AWS::EC2::KeyPair::KeyName",
            default=None,
            no_echo=False,
            description="The EC2 Key Pair to allow SSH access to the instance",
            allowed_values=[],
        )
    ]
    assert summary.capabilities == []
    assert summary.capabilities_reason is None
    assert summary.resource_types == ["AWS::EC2::SecurityGroup", "AWS::EC2::Instance"]
    assert summary.version == "2010-09-09"
    assert summary.declared_transforms == []


def test_web_template_summary() -> None:
    summary = check(parse.load(samples.WEB))
    assert summary.capabilities == ["CAPABILITY_IAM"]
    assert summary.capabilities_reason == (
        "The following resource(s) require capabilities: [AWS::IAM::Role, "
        "AWS::IAM::InstanceProfile]"
    )
    assert summary.metadata == {"Owner": "ops"}
    by_key = {p.key: p for p in summary.parameters}
    assert by_key["InstanceType"].allowed_values == ["m1.small", "m1.large", "c1.medium"]
    assert by_key["InstanceType"].default == "m1.small"
    assert by_key["Capacity"].default == "2"
    assert by_key["DbPassword"].no_echo is True
    assert len(summary.resource_types) == 13


def test_named_iam_capability() -> None:
    template = seed()
    template["Resources"]["Admin"] = {"Type": "AWS::IAM::User", "Properties": {"UserName": "a"}}
    template["Resources"]["Role"] = {"Type": "AWS::IAM::Role", "Properties": {}}
    summary = check(template)
    assert summary.capabilities == ["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM"]
    assert summary.capabilities_reason == (
        "The following resource(s) require capabilities: [AWS::IAM::Role, AWS::IAM::User]"
    )


def test_minimal_template() -> None:
    summary = check({"Resources": {"B": {"Type": "AWS::S3::Bucket"}}})
    assert summary.version is None
    assert summary.description is None
    assert summary.parameters == []


def mutate(path: str, value: Any) -> dict[str, Any]:
    """The seed sample with the value at a /-separated path replaced (None deletes it)."""
    template = copy.deepcopy(seed())
    *parents, last = path.split("/")
    node = template
    for part in parents:
        node = node[part]
    if value is None:
        del node[last]
    else:
        node[last] = value
    return template


REF_SG = {"Ref": "MySecurityGroup"}
IMAGE = "Resources/MyInstance/Properties/ImageId"


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        (
            "Resourcs",
            {},
            "Template format error: Invalid template property or properties [Resourcs]",
        ),
        (
            "Resources",
            None,
            "Template format error: At least one Resources member must be defined.",
        ),
        ("Resources", {}, "Template format error: At least one Resources member must be defined."),
        (
            "AWSTemplateFormatVersion",
            "2011-01-01",
            "Template format error: '2011-01-01' is not a valid template version",
        ),
        ("Transform", "AWS::Serverless-2016-10-31", "Transform is not supported"),
        (
            IMAGE,
            {"Ref": "Nothing"},
            "Template format error: Unresolved resource dependencies [Nothing] in the "
            "Resources block of the template",
        ),
        (
            IMAGE,
            {"Fn::Sub": "${Nothing}-${AWS::Region}-${!Escaped}-${KeyName}"},
            "Template format error: Unresolved resource dependencies [Nothing] in the "
            "Resources block of the template",
        ),
        (
            IMAGE,
            {"Fn::GetAtt": ["KeyName", "Arn"]},
            "Template error: instance of Fn::GetAtt references undefined resource KeyName",
        ),
        (
            IMAGE,
            {"Fn::Sub": "${Ghost.Arn}"},
            "Template error: instance of Fn::GetAtt references undefined resource Ghost",
        ),
        (
            "Resources/MyInstance/DependsOn",
            ["MySecurityGroup", "Ghost"],
            "Template format error: Unresolved resource dependencies [Ghost] in the "
            "Resources block of the template",
        ),
        (
            IMAGE,
            {"Fn::Frobnicate": ["a"]},
            "Template format error: Encountered unsupported function: Fn::Frobnicate "
            "Supported functions are: [Condition, Fn::And, Fn::Base64, Fn::Cidr, Fn::Equals, "
            "Fn::FindInMap, Fn::GetAZs, Fn::GetAtt, Fn::If, Fn::ImportValue, Fn::Join, "
            "Fn::Not, Fn::Or, Fn::Select, Fn::Split, Fn::Sub, Ref]",
        ),
        (
            IMAGE,
            {"Ref": {"Ref": "KeyName"}},
            "Template error: every Ref object must have a single String value.",
        ),
        (
            IMAGE,
            {"Fn::If": ["Ghost", "a", "b"]},
            "Template error: unresolved condition dependency Ghost in Fn::If",
        ),
        (
            "Resources/MyInstance/Condition",
            "Ghost",
            "Template error: unresolved condition dependency Ghost in MyInstance",
        ),
        (
            "Resources/MyInstance/Condition",
            ["x"],
            "Template format error: Every Condition member must be a string.",
        ),
        (
            "Resources/MySecurityGroup/Type",
            "AWS::Foo::Bar",
            "Template format error: Unrecognized resource types: [AWS::Foo::Bar]",
        ),
        (
            "Resources/MySecurityGroup/Type",
            None,
            "Template format error: [/Resources/MySecurityGroup] Every Resources object must "
            "contain a Type member.",
        ),
        (
            "Resources/MySecurityGroup/Propertes",
            {},
            "Template format error: Invalid template resource property 'Propertes'",
        ),
        (
            "Resources/MySecurityGroup/DeletionPolicy",
            "Keep",
            "Template format error: Unrecognized DeletionPolicy Keep for resource MySecurityGroup",
        ),
        (
            "Resources/My-Group",
            {"Type": "AWS::EC2::SecurityGroup"},
            "Template format error: Resource name My-Group is non alphanumeric.",
        ),
        (
            "Resources/MySecurityGroup/DependsOn",
            "MyInstance",
            "Circular dependency between resources: [MyInstance, MySecurityGroup]",
        ),
        (
            "Parameters/KeyName/Type",
            "AWS::SSM::Parameter::Value<String>",
            "Template format error: Unrecognized parameter type: "
            "AWS::SSM::Parameter::Value<String>",
        ),
        (
            "Outputs",
            {"Ip": {"Value": {"Fn::GetAtt": ["Nobody", "PublicIp"]}}},
            "Template error: instance of Fn::GetAtt references undefined resource Nobody",
        ),
        (
            "Outputs",
            {"Ip": {"Value": {"Ref": "Nobody"}}},
            "Template format error: Unresolved resource dependencies [Nobody] in the Outputs "
            "block of the template",
        ),
        (
            "Outputs",
            {"Ip": {"Description": "no value"}},
            "Template format error: Every Outputs member must contain a Value object (output Ip)",
        ),
        (
            "Conditions",
            {"C": {"Fn::Equals": [{"Ref": "MySecurityGroup"}, "x"]}},
            "Template format error: Unresolved dependencies [MySecurityGroup]. Cannot "
            "reference resources in the Conditions block of the template",
        ),
        (
            "Conditions",
            {"C": {"Fn::Not": [{"Condition": "Ghost"}]}},
            "Template error: unresolved condition dependency Ghost in Condition",
        ),
        (
            "Conditions",
            {"A": {"Condition": "B"}, "B": {"Fn::Not": [{"Condition": "A"}]}},
            "Template error: circular condition dependency between conditions [A, B]",
        ),
        (
            "Mappings",
            {"M": {"k": "not a map"}},
            "Template format error: Every Mappings member M must be a map of maps",
        ),
        ("Description", ["x"], "Template format error: Description must be a string"),
    ],
)
def test_refusals(path: str, value: Any, message: str) -> None:
    assert refused(mutate(path, value)) == message


def test_unrecognized_types_all_named() -> None:
    template = seed()
    template["Resources"]["A"] = {"Type": "AWS::Foo::Bar"}
    template["Resources"]["B"] = {"Type": "AWS::RDS::DBInstance"}
    template["Resources"]["C"] = {"Type": "AWS::Foo::Bar"}
    assert refused(template) == (
        "Template format error: Unrecognized resource types: [AWS::Foo::Bar, AWS::RDS::DBInstance]"
    )


@pytest.mark.parametrize(
    ("section", "count", "message"),
    [
        (
            "Resources",
            501,
            "Template format error: Number of resources, 501, is greater than maximum allowed, 500",
        ),
        (
            "Parameters",
            201,
            "Template format error: Number of parameters, 201, is greater than maximum "
            "allowed, 200",
        ),
        (
            "Outputs",
            201,
            "Template format error: Number of outputs, 201, is greater than maximum allowed, 200",
        ),
    ],
)
def test_quotas(section: str, count: int, message: str) -> None:
    template = seed()
    entries = {
        "Resources": {"Type": "AWS::S3::Bucket"},
        "Parameters": {"Type": "String", "Default": "x"},
        "Outputs": {"Value": "x"},
    }[section]
    present = template.setdefault(section, {})
    present.update({f"N{i}": dict(entries) for i in range(count - len(present))})
    assert refused(template) == message


def test_500_resources_allowed() -> None:
    body = json.dumps(
        {
            "Resources": {
                f"Group{i}": {
                    "Type": "AWS::EC2::SecurityGroup",
                    "Properties": {"GroupDescription": {"Fn::Sub": "group ${AWS::StackName}"}},
                }
                for i in range(500)
            }
        }
    )
    assert check(parse.load(body)).resource_types == ["AWS::EC2::SecurityGroup"]


def test_outputs_may_reference_resources_and_parameters() -> None:
    template = seed()
    template["Outputs"] = {
        "Id": {
            "Value": {"Ref": "MyInstance"},
            "Export": {"Name": {"Fn::Sub": "${AWS::StackName}-id"}},
        },
        "Ip": {"Value": {"Fn::GetAtt": ["MyInstance", "PublicIp"]}},
        "Key": {"Value": {"Ref": "KeyName"}, "Description": "key"},
    }
    check(template)


def test_conditional_resource_and_output() -> None:
    template = seed()
    template["Parameters"]["Env"] = {"Type": "String", "Default": "test"}
    template["Conditions"] = {"Prod": {"Fn::Equals": [{"Ref": "Env"}, "prod"]}}
    template["Resources"]["MyInstance"]["Condition"] = "Prod"
    template["Outputs"] = {"Id": {"Condition": "Prod", "Value": {"Ref": "MyInstance"}}}
    check(template)


def test_attributes_checked_when_the_catalog_is_given() -> None:
    template = seed()
    template["Outputs"] = {"Ip": {"Value": {"Fn::GetAtt": ["MyInstance", "PublicIp"]}}}

    def has_attribute(kind: str, attribute: str) -> bool:
        return (kind, attribute) == ("AWS::EC2::Instance", "PublicIp")

    validate.validate(template, samples.SUPPORTED, samples.needs_capability, has_attribute)
    template["Outputs"]["Ip"]["Value"] = {"Fn::Sub": "${MyInstance.PublicDnsName}"}
    with pytest.raises(TemplateError) as caught:
        validate.validate(template, samples.SUPPORTED, samples.needs_capability, has_attribute)
    assert str(caught.value) == (
        "Template error: resource MyInstance does not support attribute type PublicDnsName "
        "in Fn::GetAtt"
    )


def test_output_names_alphanumeric() -> None:
    template = seed()
    template["Outputs"] = {"my-output": {"Value": "x"}}
    assert refused(template) == "Template format error: Output name my-output is non alphanumeric."
