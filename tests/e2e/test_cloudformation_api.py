"""CloudFormation (2010-05-15) through boto3, at /services/CloudFormation and by signature
scope: ValidateTemplate, GetTemplateSummary and EstimateTemplateCost on the seed's sample
template (JSON and YAML) and on big ones, templates read from this cloud's S3 as the caller,
and each bad input with AWS's code, status and message."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest
from botocore.exceptions import ClientError

from mallee.cfn.intrinsics import unsupported_function
from tests.e2e.conftest import Cloud
from tests.e2e.s3util import new_bucket, remove_bucket

pytestmark = pytest.mark.e2e

PATH = "/services/CloudFormation"
KEY_NAME_DESCRIPTION = "The EC2 Key Pair to allow SSH access to the instance"

# The seed's sample template (Eucalyptus 4.0's release notes): an instance in a group of its
# own, keyed by a parameter.
SAMPLE: dict[str, Any] = {
    "AWSTemplateFormatVersion": "2010-09-09",
    "Description": "An instance with a security group and a Ref to a parameter",
    "Parameters": {"KeyName": {"Description": KEY_NAME_DESCRIPTION, "Type": "String"}},
    "Resources": {
        "Ec2Instance": {
            "Type": "AWS::EC2::Instance",
            "Properties": {
                "SecurityGroups": [{"Ref": "InstanceSecurityGroup"}, "default"],
                "KeyName": {"Ref": "KeyName"},
                "ImageId": "emi-3c17bd33",
            },
        },
        "InstanceSecurityGroup": {
            "Type": "AWS::EC2::SecurityGroup",
            "Properties": {
                "GroupDescription": "Enable SSH access via port 22",
                "SecurityGroupIngress": [
                    {"IpProtocol": "tcp", "FromPort": "22", "ToPort": "22", "CidrIp": "0.0.0.0/0"}
                ],
            },
        },
    },
}

SAMPLE_YAML = f"""\
AWSTemplateFormatVersion: 2010-09-09
Description: An instance with a security group and a Ref to a parameter
Parameters:
  KeyName:
    Description: {KEY_NAME_DESCRIPTION}
    Type: String
Resources:
  Ec2Instance:
    Type: AWS::EC2::Instance
    Properties:
      SecurityGroups:
        - !Ref InstanceSecurityGroup
        - default
      KeyName: !Ref KeyName
      ImageId: emi-3c17bd33
  InstanceSecurityGroup:
    Type: AWS::EC2::SecurityGroup
    Properties:
      GroupDescription: Enable SSH access via port 22
      SecurityGroupIngress:
        - IpProtocol: tcp
          FromPort: '22'
          ToPort: '22'
          CidrIp: 0.0.0.0/0
"""

SAMPLE_PARAMETERS = [
    {"ParameterKey": "KeyName", "NoEcho": False, "Description": KEY_NAME_DESCRIPTION}
]


def error(err: pytest.ExceptionInfo[ClientError]) -> tuple[str, int, str]:
    resp = err.value.response
    return (
        resp["Error"]["Code"],
        resp["ResponseMetadata"]["HTTPStatusCode"],
        resp["Error"]["Message"],
    )


def groups(count: int) -> dict[str, Any]:
    """A template of `count` security groups, each with a description naming it."""
    return {
        "Resources": {
            f"Group{i}": {
                "Type": "AWS::EC2::SecurityGroup",
                "Properties": {"GroupDescription": f"group {i}"},
            }
            for i in range(count)
        }
    }


def answer(result: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in result.items() if k != "ResponseMetadata"}


@pytest.fixture(scope="module")
def cfn(cloud: Cloud) -> Any:
    return cloud.client("cloudformation", endpoint_url=cloud.endpoint + PATH)


@pytest.fixture(scope="module")
def store(cloud: Cloud) -> Iterator[tuple[Any, str]]:
    """The admin's S3 client and a bucket of templates."""
    s3 = cloud.client("s3")
    name = new_bucket(s3, "cfn")
    yield s3, name
    remove_bucket(s3, name)


def put(store: tuple[Any, str], body: str | bytes) -> str:
    s3, bucket = store
    key = f"templates/{uuid.uuid4().hex[:8]}.template"
    s3.put_object(Bucket=bucket, Key=key, Body=body)
    return key


# The sample ----------------------------------------------------------------------------------
def test_the_seeds_sample_template_in_json_and_yaml(cfn: Any) -> None:
    for body in (json.dumps(SAMPLE, indent=2), SAMPLE_YAML):
        assert answer(cfn.validate_template(TemplateBody=body)) == {
            "Parameters": SAMPLE_PARAMETERS,
            "Description": SAMPLE["Description"],
            "Capabilities": [],
        }


def test_routed_by_signature_scope_alone(cloud: Cloud) -> None:
    scoped = cloud.client("cloudformation")
    assert scoped.validate_template(TemplateBody=SAMPLE_YAML)["Parameters"] == SAMPLE_PARAMETERS


def test_template_summary(cfn: Any) -> None:
    template = {
        **SAMPLE,
        "Metadata": {"Purpose": "demo"},
        "Parameters": {
            **SAMPLE["Parameters"],
            "Size": {
                "Type": "String",
                "Default": "m1.small",
                "AllowedValues": ["m1.small", "m1.large"],
                "NoEcho": True,
            },
        },
        "Resources": {
            **SAMPLE["Resources"],
            "OtherGroup": {
                "Type": "AWS::EC2::SecurityGroup",
                "Properties": {"GroupDescription": "other"},
            },
        },
    }
    assert answer(cfn.get_template_summary(TemplateBody=json.dumps(template))) == {
        "Parameters": [
            {
                "ParameterKey": "KeyName",
                "ParameterType": "String",
                "NoEcho": False,
                "Description": KEY_NAME_DESCRIPTION,
                "ParameterConstraints": {},
            },
            {
                "ParameterKey": "Size",
                "DefaultValue": "m1.small",
                "ParameterType": "String",
                "NoEcho": True,
                "ParameterConstraints": {"AllowedValues": ["m1.small", "m1.large"]},
            },
        ],
        "Description": SAMPLE["Description"],
        "Capabilities": [],
        "ResourceTypes": ["AWS::EC2::Instance", "AWS::EC2::SecurityGroup"],
        "Version": "2010-09-09",
        "Metadata": json.dumps({"Purpose": "demo"}),
        "ResourceIdentifierSummaries": [
            {"ResourceType": "AWS::EC2::Instance", "LogicalResourceIds": ["Ec2Instance"]},
            {
                "ResourceType": "AWS::EC2::SecurityGroup",
                "LogicalResourceIds": ["InstanceSecurityGroup", "OtherGroup"],
            },
        ],
    }


def test_iam_resources_need_capabilities(cfn: Any) -> None:
    template = {
        "Resources": {
            "Plain": {"Type": "AWS::IAM::User"},
            "Named": {"Type": "AWS::IAM::Role", "Properties": {"RoleName": "r", **ROLE}},
        }
    }
    found = cfn.validate_template(TemplateBody=json.dumps(template))
    assert found["Capabilities"] == ["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM"]
    assert found["CapabilitiesReason"] == (
        "The following resource(s) require capabilities: [AWS::IAM::User, AWS::IAM::Role]"
    )
    summary = cfn.get_template_summary(TemplateBody=json.dumps(template))
    assert summary["Capabilities"] == found["Capabilities"]
    assert summary["CapabilitiesReason"] == found["CapabilitiesReason"]


ROLE = {
    "AssumeRolePolicyDocument": {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "ec2.amazonaws.com"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
}


def test_a_template_of_500_resources_from_s3(cfn: Any, cloud: Cloud, store: Any) -> None:
    key = put(store, json.dumps(groups(500)))
    url = f"{cloud.endpoint}/{store[1]}/{key}"
    summary = cfn.get_template_summary(TemplateURL=url)
    assert summary["ResourceTypes"] == ["AWS::EC2::SecurityGroup"]
    assert len(summary["ResourceIdentifierSummaries"][0]["LogicalResourceIds"]) == 500
    too_many = put(store, json.dumps(groups(501)))
    with pytest.raises(ClientError) as err:
        cfn.validate_template(TemplateURL=f"{cloud.endpoint}/{store[1]}/{too_many}")
    assert error(err) == (
        "ValidationError",
        400,
        "Template format error: Number of resources, 501, is greater than maximum allowed, 500",
    )


def test_estimate_template_cost(cfn: Any) -> None:
    body = json.dumps(SAMPLE)
    params = [{"ParameterKey": "KeyName", "ParameterValue": "demokey"}]
    url = cfn.estimate_template_cost(TemplateBody=body, Parameters=params)["Url"]
    assert url.startswith("http://calculator.s3.amazonaws.com/calc5.html?key=cloudformation/")
    # The same template and values give the same estimate; other values another.
    assert cfn.estimate_template_cost(TemplateBody=body, Parameters=params)["Url"] == url
    other = [{"ParameterKey": "KeyName", "ParameterValue": "otherkey"}]
    assert cfn.estimate_template_cost(TemplateBody=body, Parameters=other)["Url"] != url
    with pytest.raises(ClientError) as err:
        cfn.estimate_template_cost(
            TemplateBody=body, Parameters=[{"ParameterKey": "Nope", "ParameterValue": "x"}]
        )
    assert error(err) == (
        "ValidationError",
        400,
        "Parameters: [Nope] do not exist in the template",
    )


# Templates from this cloud's S3 ---------------------------------------------------------------
def test_template_urls_of_this_clouds_s3(cfn: Any, cloud: Cloud, store: Any) -> None:
    key = put(store, SAMPLE_YAML)
    bucket = store[1]
    netloc = urlsplit(cloud.endpoint).netloc
    port = urlsplit(cloud.endpoint).port
    for url in (
        f"{cloud.endpoint}/{bucket}/{key}",
        f"{cloud.endpoint}/services/objectstorage/{bucket}/{key}",
        f"{cloud.endpoint}/services/Walrus/{bucket}/{key}",
        f"http://{bucket}.s3.localhost:{port}/{key}",
        f"https://s3.amazonaws.com/{bucket}/{key}",
        f"https://{bucket}.s3.us-east-1.amazonaws.com/{key}",
        f"http://s3.localhost:{port}/{bucket}/{key}",
    ):
        found = cfn.validate_template(TemplateURL=url)
        assert found["Parameters"] == SAMPLE_PARAMETERS, url
    assert netloc
    # A body given with a URL is what AWS reads (ValidateTemplate, EstimateTemplateCost).
    both = cfn.validate_template(TemplateBody=json.dumps(groups(1)), TemplateURL="http://x/y/z")
    assert both["Parameters"] == []


def test_a_caller_denied_the_object(cfn: Any, cloud: Cloud, store: Any) -> None:
    key = put(store, SAMPLE_YAML)
    iam = cloud.client("iam")
    name = f"cfn-{uuid.uuid4().hex[:8]}"
    iam.create_user(UserName=name)
    statements: list[dict[str, Any]] = [
        {"Effect": "Allow", "Action": "cloudformation:*", "Resource": "*"}
    ]
    iam.put_user_policy(
        UserName=name,
        PolicyName="cfn",
        PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": statements}),
    )
    keys = iam.create_access_key(UserName=name)["AccessKey"]
    user = cloud.client(
        "cloudformation",
        keys["AccessKeyId"],
        keys["SecretAccessKey"],
        endpoint_url=cloud.endpoint + PATH,
    )
    url = f"{cloud.endpoint}/{store[1]}/{key}"
    with pytest.raises(ClientError) as err:
        user.validate_template(TemplateURL=url)
    assert error(err) == (
        "ValidationError",
        400,
        "S3 error: Access Denied For more information check "
        "http://docs.aws.amazon.com/AmazonS3/latest/API/ErrorResponses.html",
    )
    # Allowed to read it, the same caller gets the template.
    statements.append({"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"})
    iam.put_user_policy(
        UserName=name,
        PolicyName="cfn",
        PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": statements}),
    )
    assert user.validate_template(TemplateURL=url)["Parameters"] == SAMPLE_PARAMETERS
    # Without cloudformation:ValidateTemplate, nothing is read.
    iam.delete_user_policy(UserName=name, PolicyName="cfn")
    with pytest.raises(ClientError) as err:
        user.validate_template(TemplateURL=url)
    assert error(err)[:2] == ("AccessDenied", 403)


def test_template_url_errors(cfn: Any, cloud: Cloud, store: Any) -> None:
    bucket = store[1]
    cases = [
        ("http://example.org/b/k", "TemplateURL must be a supported URL."),
        ("ftp://127.0.0.1/b/k", "TemplateURL must be a supported URL."),
        (f"{cloud.endpoint}/{bucket}", "TemplateURL must be a supported URL."),
        (
            f"{cloud.endpoint}/{bucket}/no-such-key",
            "S3 error: The specified key does not exist. For more information check "
            "http://docs.aws.amazon.com/AmazonS3/latest/API/ErrorResponses.html",
        ),
        (
            f"{cloud.endpoint}/no-such-bucket-{uuid.uuid4().hex[:8]}/k",
            "S3 error: The specified bucket does not exist For more information check "
            "http://docs.aws.amazon.com/AmazonS3/latest/API/ErrorResponses.html",
        ),
    ]
    for url, message in cases:
        with pytest.raises(ClientError) as err:
            cfn.validate_template(TemplateURL=url)
        assert error(err) == ("ValidationError", 400, message), url


def test_template_size_limits(cfn: Any, cloud: Cloud, store: Any) -> None:
    body = json.dumps(groups(1)) + " " * (51_200 - len(json.dumps(groups(1))))
    assert cfn.validate_template(TemplateBody=body)["Parameters"] == []
    with pytest.raises(ClientError) as err:
        cfn.validate_template(TemplateBody=body + " ")
    assert error(err) == (
        "ValidationError",
        400,
        f"1 validation error detected: Value '{body} ' at 'templateBody' failed to satisfy "
        "constraint: Member must have length less than or equal to 51200",
    )
    # From S3, up to 1 MB.
    padded = json.dumps(groups(1)) + " " * (1_048_576 - len(json.dumps(groups(1))))
    ok = put(store, padded)
    assert cfn.validate_template(TemplateURL=f"{cloud.endpoint}/{store[1]}/{ok}")
    too_big = put(store, padded + " ")
    with pytest.raises(ClientError) as err:
        cfn.validate_template(TemplateURL=f"{cloud.endpoint}/{store[1]}/{too_big}")
    assert error(err) == (
        "ValidationError",
        400,
        "Template may not exceed 1048576 bytes in size.",
    )


# Bad templates ----------------------------------------------------------------------------------
BAD_TEMPLATES = [
    (
        '{"Resources": {',
        "Template format error: JSON not well-formed. (line 1, column 16)",
    ),
    (
        "Resources:\n  A:\n    Type: [\n",
        "Template format error: YAML not well-formed. (line 4, column 1)",
    ),
    ("[1, 2]", "Template format error: unsupported structure."),
    (
        '{"Description": "x"}',
        "Template format error: At least one Resources member must be defined.",
    ),
    (
        json.dumps({"Resources": {"F": {"Type": "AWS::Lambda::Function"}}}),
        "Template format error: Unrecognized resource types: [AWS::Lambda::Function]",
    ),
    (
        json.dumps(
            {
                "Resources": {
                    "G": {
                        "Type": "AWS::EC2::SecurityGroup",
                        "Properties": {"GroupDescription": {"Ref": "Missing"}},
                    }
                }
            }
        ),
        "Template format error: Unresolved resource dependencies [Missing] in the Resources "
        "block of the template",
    ),
    (
        json.dumps(
            {
                "Resources": {
                    "A": {"Type": "AWS::EC2::SecurityGroup", "DependsOn": "B"},
                    "B": {"Type": "AWS::EC2::SecurityGroup", "DependsOn": "A"},
                }
            }
        ),
        "Circular dependency between resources: [A, B]",
    ),
    (
        json.dumps(
            {
                "Resources": {
                    "G": {
                        "Type": "AWS::EC2::SecurityGroup",
                        "Properties": {"GroupDescription": {"Fn::Nope": "x"}},
                    }
                }
            }
        ),
        str(unsupported_function("Fn::Nope")),
    ),
    (
        json.dumps({"AWSTemplateFormatVersion": "2011-01-01", **groups(1)}),
        "Template format error: '2011-01-01' is not a valid template version",
    ),
    (
        json.dumps({"Transform": "AWS::Serverless-2016-10-31", **groups(1)}),
        "Transform is not supported",
    ),
]


@pytest.mark.parametrize(("body", "message"), BAD_TEMPLATES)
def test_bad_templates(cfn: Any, body: str, message: str) -> None:
    for call in (cfn.validate_template, cfn.get_template_summary, cfn.estimate_template_cost):
        with pytest.raises(ClientError) as err:
            call(TemplateBody=body)
        assert error(err) == ("ValidationError", 400, message), call


def test_bad_requests(cfn: Any) -> None:
    cases: list[tuple[Any, dict[str, Any], tuple[str, int, str]]] = [
        (
            cfn.validate_template,
            {},
            ("ValidationError", 400, "Either Template URL or Template Body must be specified."),
        ),
        (
            cfn.get_template_summary,
            {},
            (
                "ValidationError",
                400,
                "Exactly one of StackName, StackSetName, TemplateBody or TemplateURL must be "
                "specified.",
            ),
        ),
        (
            cfn.get_template_summary,
            {"TemplateBody": SAMPLE_YAML, "StackName": "MyDemoStack"},
            (
                "ValidationError",
                400,
                "Exactly one of StackName, StackSetName, TemplateBody or TemplateURL must be "
                "specified.",
            ),
        ),
        (
            cfn.get_template_summary,
            {"StackName": "MyDemoStack"},
            ("ValidationError", 400, "Stack with id MyDemoStack does not exist"),
        ),
        (
            cfn.create_stack,
            {"StackName": "MyDemoStack", "TemplateBody": SAMPLE_YAML},
            ("InvalidAction", 400, "The action CreateStack is not valid for this web service."),
        ),
    ]
    for call, params, expected in cases:
        with pytest.raises(ClientError) as err:
            call(**params)
        assert error(err) == expected, (call, params)
