"""The resource type catalog: Ref and GetAtt values, properties, update behaviours and the
IAM capabilities, as AWS's resource reference documents them."""

from __future__ import annotations

import pytest

from mallee.cfn import types
from mallee.cfn.errors import TemplateError
from mallee.cfn.types import Update

pytestmark = pytest.mark.nodb

ISSUE_22_TYPES = {
    "AWS::EC2::Instance",
    "AWS::EC2::SecurityGroup",
    "AWS::EC2::SecurityGroupIngress",
    "AWS::EC2::SecurityGroupEgress",
    "AWS::EC2::EIP",
    "AWS::EC2::EIPAssociation",
    "AWS::EC2::Volume",
    "AWS::EC2::VolumeAttachment",
    "AWS::EC2::KeyPair",
    "AWS::EC2::LaunchTemplate",
    "AWS::IAM::User",
    "AWS::IAM::Group",
    "AWS::IAM::Role",
    "AWS::IAM::Policy",
    "AWS::IAM::ManagedPolicy",
    "AWS::IAM::InstanceProfile",
    "AWS::IAM::AccessKey",
    "AWS::IAM::UserToGroupAddition",
    "AWS::S3::Bucket",
    "AWS::S3::BucketPolicy",
    "AWS::ElasticLoadBalancing::LoadBalancer",
    "AWS::AutoScaling::LaunchConfiguration",
    "AWS::AutoScaling::AutoScalingGroup",
    "AWS::AutoScaling::ScalingPolicy",
    "AWS::AutoScaling::ScheduledAction",
    "AWS::CloudWatch::Alarm",
    "AWS::CloudFormation::Stack",
    "AWS::CloudFormation::WaitCondition",
    "AWS::CloudFormation::WaitConditionHandle",
}


def test_the_catalog_is_exactly_the_issue_types() -> None:
    assert types.SUPPORTED == ISSUE_22_TYPES


@pytest.mark.parametrize("name", sorted(ISSUE_22_TYPES))
def test_every_spec_is_consistent(name: str) -> None:
    spec = types.spec(name)
    assert spec.name == name
    assert spec.ref
    names = spec.property_names
    assert list(names) == sorted(set(names))
    assert set(spec.required) <= set(names)
    for prop in spec.properties:
        assert isinstance(prop.update, Update)
        # Only a Conditional property carries the rule that decides it.
        assert prop.rule is None or prop.update is Update.CONDITIONAL
    if spec.named_by is not None:
        assert spec.capability == types.CAPABILITY_IAM
        assert spec.prop(spec.named_by) is not None
        # An explicit name can never be changed in place.
        assert types.update_behaviour(name, spec.named_by) is Update.REPLACEMENT


@pytest.mark.parametrize(
    ("name", "attributes"),
    [
        (
            "AWS::EC2::Instance",
            {"AvailabilityZone", "PrivateDnsName", "PrivateIp", "PublicDnsName", "PublicIp"},
        ),
        (
            "AWS::S3::Bucket",
            {"Arn", "DomainName", "DualStackDomainName", "RegionalDomainName", "WebsiteURL"},
        ),
        (
            "AWS::ElasticLoadBalancing::LoadBalancer",
            {
                "CanonicalHostedZoneName",
                "CanonicalHostedZoneNameID",
                "DNSName",
                "SourceSecurityGroup.GroupName",
                "SourceSecurityGroup.OwnerAlias",
            },
        ),
        ("AWS::EC2::SecurityGroup", {"GroupId", "VpcId"}),
        ("AWS::EC2::EIP", {"AllocationId", "PublicIp"}),
        ("AWS::EC2::Volume", {"VolumeId"}),
        ("AWS::EC2::KeyPair", {"KeyFingerprint", "KeyPairId"}),
        (
            "AWS::EC2::LaunchTemplate",
            {"DefaultVersionNumber", "LatestVersionNumber", "LaunchTemplateId"},
        ),
        ("AWS::IAM::User", {"Arn"}),
        ("AWS::IAM::Group", {"Arn"}),
        ("AWS::IAM::Role", {"Arn", "RoleId"}),
        ("AWS::IAM::InstanceProfile", {"Arn"}),
        ("AWS::IAM::AccessKey", {"SecretAccessKey"}),
        ("AWS::AutoScaling::ScalingPolicy", {"Arn", "PolicyName"}),
        ("AWS::CloudWatch::Alarm", {"Arn"}),
        ("AWS::CloudFormation::WaitCondition", {"Data"}),
        ("AWS::CloudFormation::WaitConditionHandle", set()),
        ("AWS::AutoScaling::LaunchConfiguration", set()),
        ("AWS::AutoScaling::AutoScalingGroup", set()),
        ("AWS::S3::BucketPolicy", set()),
        ("AWS::EC2::VolumeAttachment", set()),
    ],
)
def test_getatt_attributes(name: str, attributes: set[str]) -> None:
    spec = types.spec(name)
    assert set(spec.attributes) == attributes
    for attribute in attributes:
        assert spec.has_attribute(attribute)
    assert not spec.has_attribute("NoSuchAttribute")


def test_nested_stack_outputs_are_an_attribute_family() -> None:
    stack = types.spec("AWS::CloudFormation::Stack")
    assert stack.has_attribute("Outputs.BucketName")
    assert not stack.has_attribute("Outputs.")
    assert not stack.has_attribute("BucketName")


@pytest.mark.parametrize(
    ("name", "ref"),
    [
        ("AWS::EC2::Instance", "id"),
        ("AWS::S3::Bucket", "name"),
        ("AWS::IAM::User", "name"),
        ("AWS::IAM::ManagedPolicy", "arn"),
        ("AWS::AutoScaling::ScalingPolicy", "arn"),
        ("AWS::EC2::EIP", "public ip"),
        ("AWS::IAM::AccessKey", "access key id"),
        ("AWS::CloudFormation::Stack", "stack id"),
        ("AWS::CloudFormation::WaitConditionHandle", "presigned url"),
    ],
)
def test_ref(name: str, ref: str) -> None:
    assert types.spec(name).ref == ref


def test_unknown_type_is_refused_with_the_type_named() -> None:
    with pytest.raises(TemplateError) as caught:
        types.spec("AWS::RDS::DBInstance")
    assert str(caught.value) == (
        "Template format error: Unrecognized resource types: [AWS::RDS::DBInstance]"
    )


def test_unsupported_lists_each_unknown_type_once_in_order() -> None:
    found = types.unsupported(
        ["AWS::EC2::Instance", "AWS::SQS::Queue", "AWS::RDS::DBInstance", "AWS::SQS::Queue"]
    )
    assert found == ["AWS::SQS::Queue", "AWS::RDS::DBInstance"]
    assert types.unrecognized_message(found) == (
        "Template format error: Unrecognized resource types: "
        "[AWS::SQS::Queue, AWS::RDS::DBInstance]"
    )
    assert types.unsupported(["AWS::S3::Bucket"]) == []


@pytest.mark.parametrize(
    ("name", "properties", "capability"),
    [
        ("AWS::IAM::Role", {"AssumeRolePolicyDocument": {}}, "CAPABILITY_IAM"),
        (
            "AWS::IAM::Role",
            {"RoleName": "r", "AssumeRolePolicyDocument": {}},
            "CAPABILITY_NAMED_IAM",
        ),
        ("AWS::IAM::User", {}, "CAPABILITY_IAM"),
        ("AWS::IAM::User", {"UserName": "alice"}, "CAPABILITY_NAMED_IAM"),
        ("AWS::IAM::Group", {"GroupName": "admins"}, "CAPABILITY_NAMED_IAM"),
        ("AWS::IAM::ManagedPolicy", {"ManagedPolicyName": "p"}, "CAPABILITY_NAMED_IAM"),
        ("AWS::IAM::ManagedPolicy", {"PolicyDocument": {}}, "CAPABILITY_IAM"),
        ("AWS::IAM::InstanceProfile", {"InstanceProfileName": "p"}, "CAPABILITY_NAMED_IAM"),
        ("AWS::IAM::InstanceProfile", {"Roles": ["r"]}, "CAPABILITY_IAM"),
        # These name something else (the policy inline, the key's owner), not the resource.
        ("AWS::IAM::Policy", {"PolicyName": "p", "PolicyDocument": {}}, "CAPABILITY_IAM"),
        ("AWS::IAM::AccessKey", {"UserName": "alice"}, "CAPABILITY_IAM"),
        ("AWS::IAM::UserToGroupAddition", {"GroupName": "g", "Users": []}, "CAPABILITY_IAM"),
        ("AWS::EC2::Instance", {"ImageId": "emi-1"}, None),
        ("AWS::S3::Bucket", {"BucketName": "b"}, None),
        ("AWS::EC2::KeyPair", {"KeyName": "k"}, None),
    ],
)
def test_needs_capability(name: str, properties: dict[str, object], capability: str | None) -> None:
    assert types.needs_capability(name, properties) == capability


@pytest.mark.parametrize(
    ("needed", "granted", "missing"),
    [
        (["CAPABILITY_IAM"], [], ["CAPABILITY_IAM"]),
        (["CAPABILITY_IAM"], ["CAPABILITY_IAM"], []),
        (["CAPABILITY_IAM"], ["CAPABILITY_NAMED_IAM"], []),
        (["CAPABILITY_NAMED_IAM"], ["CAPABILITY_IAM"], ["CAPABILITY_NAMED_IAM"]),
        (["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM"], [], ["CAPABILITY_NAMED_IAM"]),
        ([None, None], [], []),
        ([None, "CAPABILITY_IAM"], ["CAPABILITY_AUTO_EXPAND"], ["CAPABILITY_IAM"]),
    ],
)
def test_missing_capabilities(
    needed: list[str | None], granted: list[str], missing: list[str]
) -> None:
    assert types.missing_capabilities(needed, granted) == missing


def test_insufficient_capabilities_message() -> None:
    assert types.insufficient_capabilities_message(["CAPABILITY_NAMED_IAM"]) == (
        "Requires capabilities : [CAPABILITY_NAMED_IAM]"
    )


@pytest.mark.parametrize(
    ("name", "properties", "missing"),
    [
        ("AWS::EC2::SecurityGroup", {}, ["GroupDescription"]),
        ("AWS::EC2::SecurityGroup", {"GroupDescription": "web"}, []),
        ("AWS::AutoScaling::AutoScalingGroup", {"MinSize": "1"}, ["MaxSize"]),
        ("AWS::AutoScaling::LaunchConfiguration", {}, ["ImageId", "InstanceType"]),
        ("AWS::IAM::Policy", {"PolicyName": "p"}, ["PolicyDocument"]),
        ("AWS::ElasticLoadBalancing::LoadBalancer", {}, ["Listeners"]),
        ("AWS::CloudWatch::Alarm", {}, ["ComparisonOperator", "EvaluationPeriods"]),
        ("AWS::EC2::VolumeAttachment", {"Device": "/dev/sdh"}, ["InstanceId", "VolumeId"]),
        ("AWS::CloudFormation::Stack", {}, ["TemplateURL"]),
        ("AWS::S3::Bucket", {}, []),
        ("AWS::CloudFormation::WaitConditionHandle", {}, []),
    ],
)
def test_required_missing(name: str, properties: dict[str, object], missing: list[str]) -> None:
    assert types.required_missing(name, properties) == missing


def test_unknown_properties_keeps_template_order() -> None:
    found = types.unknown_properties(
        "AWS::EC2::Instance",
        {"ImageId": "emi-1", "Colour": "blue", "InstanceType": "m1.small", "Size": 3},
    )
    assert found == ["Colour", "Size"]
    assert types.unknown_properties("AWS::CloudFormation::WaitConditionHandle", {"X": 1}) == ["X"]


def test_catalog_functions_refuse_unknown_types() -> None:
    for call in (
        lambda: types.required_missing("AWS::Nope::Thing", {}),
        lambda: types.unknown_properties("AWS::Nope::Thing", {}),
        lambda: types.needs_capability("AWS::Nope::Thing", {}),
    ):
        with pytest.raises(TemplateError, match=r"Unrecognized resource types: \[AWS::Nope"):
            call()


@pytest.mark.parametrize(
    ("name", "prop", "update"),
    [
        ("AWS::EC2::Instance", "InstanceType", Update.SOME_INTERRUPTIONS),
        ("AWS::EC2::Instance", "UserData", Update.SOME_INTERRUPTIONS),
        ("AWS::EC2::Instance", "ImageId", Update.REPLACEMENT),
        ("AWS::EC2::Instance", "KeyName", Update.REPLACEMENT),
        ("AWS::EC2::Instance", "AvailabilityZone", Update.REPLACEMENT),
        ("AWS::EC2::Instance", "SecurityGroups", Update.REPLACEMENT),
        ("AWS::EC2::Instance", "SecurityGroupIds", Update.SOME_INTERRUPTIONS),
        ("AWS::EC2::Instance", "Tags", Update.NO_INTERRUPTION),
        ("AWS::EC2::Instance", "Monitoring", Update.NO_INTERRUPTION),
        ("AWS::EC2::Instance", "BlockDeviceMappings", Update.CONDITIONAL),
        ("AWS::EC2::SecurityGroup", "GroupDescription", Update.REPLACEMENT),
        ("AWS::EC2::SecurityGroup", "SecurityGroupIngress", Update.NO_INTERRUPTION),
        ("AWS::EC2::SecurityGroupIngress", "Description", Update.NO_INTERRUPTION),
        ("AWS::EC2::SecurityGroupIngress", "FromPort", Update.REPLACEMENT),
        ("AWS::EC2::Volume", "Size", Update.NO_INTERRUPTION),
        ("AWS::EC2::Volume", "SnapshotId", Update.REPLACEMENT),
        ("AWS::EC2::EIP", "InstanceId", Update.NO_INTERRUPTION),
        ("AWS::S3::Bucket", "BucketName", Update.REPLACEMENT),
        ("AWS::S3::Bucket", "VersioningConfiguration", Update.NO_INTERRUPTION),
        ("AWS::IAM::Role", "Path", Update.REPLACEMENT),
        ("AWS::IAM::Role", "AssumeRolePolicyDocument", Update.NO_INTERRUPTION),
        ("AWS::IAM::ManagedPolicy", "Description", Update.REPLACEMENT),
        ("AWS::ElasticLoadBalancing::LoadBalancer", "Listeners", Update.NO_INTERRUPTION),
        ("AWS::ElasticLoadBalancing::LoadBalancer", "Scheme", Update.REPLACEMENT),
        ("AWS::ElasticLoadBalancing::LoadBalancer", "Subnets", Update.CONDITIONAL),
        ("AWS::AutoScaling::LaunchConfiguration", "InstanceType", Update.REPLACEMENT),
        ("AWS::AutoScaling::AutoScalingGroup", "LaunchConfigurationName", Update.NO_INTERRUPTION),
        ("AWS::AutoScaling::AutoScalingGroup", "AutoScalingGroupName", Update.REPLACEMENT),
        ("AWS::AutoScaling::ScheduledAction", "AutoScalingGroupName", Update.REPLACEMENT),
        ("AWS::CloudWatch::Alarm", "Threshold", Update.NO_INTERRUPTION),
        ("AWS::CloudWatch::Alarm", "AlarmName", Update.REPLACEMENT),
        ("AWS::CloudFormation::Stack", "TemplateURL", Update.NO_INTERRUPTION),
        # Not in the catalog: the only safe guess.
        ("AWS::EC2::Instance", "Colour", Update.REPLACEMENT),
    ],
)
def test_update_behaviour(name: str, prop: str, update: Update) -> None:
    assert types.update_behaviour(name, prop) is update


@pytest.mark.parametrize(
    ("prop", "old", "new", "update"),
    [
        ("Subnets", None, ["subnet-1"], Update.REPLACEMENT),
        ("Subnets", ["subnet-1"], None, Update.REPLACEMENT),
        ("Subnets", ["subnet-1"], ["subnet-1", "subnet-2"], Update.NO_INTERRUPTION),
        ("AvailabilityZones", ["one"], ["one", "two"], Update.NO_INTERRUPTION),
        ("HealthCheck", None, {"Target": "HTTP:80/"}, Update.REPLACEMENT),
        ("HealthCheck", {"Target": "HTTP:80/"}, {"Target": "TCP:80"}, Update.NO_INTERRUPTION),
        ("Listeners", [], [{"LoadBalancerPort": "80"}], Update.NO_INTERRUPTION),
        ("Scheme", "internal", "internet-facing", Update.REPLACEMENT),
    ],
)
def test_effective_update_load_balancer(
    prop: str, old: object, new: object, update: Update
) -> None:
    assert (
        types.effective_update("AWS::ElasticLoadBalancing::LoadBalancer", prop, old, new) is update
    )


def _mapping(delete: bool, size: int = 8) -> list[dict[str, object]]:
    return [{"DeviceName": "/dev/sdb", "Ebs": {"VolumeSize": size, "DeleteOnTermination": delete}}]


@pytest.mark.parametrize(
    ("old", "new", "update"),
    [
        (_mapping(True), _mapping(False), Update.NO_INTERRUPTION),
        (_mapping(True), _mapping(True, size=16), Update.REPLACEMENT),
        (_mapping(True), _mapping(False, size=16), Update.REPLACEMENT),
        (None, _mapping(True), Update.REPLACEMENT),
    ],
)
def test_effective_update_block_devices(old: object, new: object, update: Update) -> None:
    assert types.effective_update("AWS::EC2::Instance", "BlockDeviceMappings", old, new) is update


def test_effective_update_is_the_documented_one_when_unconditional() -> None:
    assert (
        types.effective_update("AWS::EC2::Instance", "InstanceType", "m1.small", "m1.large")
        is Update.SOME_INTERRUPTIONS
    )
    assert types.effective_update("AWS::EC2::Instance", "Colour", 1, 2) is Update.REPLACEMENT
