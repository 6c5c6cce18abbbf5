"""The catalog of resource types stacks can hold: what Ref and Fn::GetAtt return, the
properties each type knows (and which are required), how an update of each property is
carried out, and the IAM capability a type needs.

The update behaviours are those AWS's resource reference documents under "Update requires";
UpdateStack and change sets turn them into in-place updates or replacements, so they are data
here rather than code in each type's module. Only types mallee has a service for are listed:
anything else is refused at validation with the type named, as AWS refuses a type it does not
know.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum

from mallee.cfn.errors import TemplateError


class Update(StrEnum):
    """How CloudFormation applies a change to one property (AWS's "Update requires")."""

    NO_INTERRUPTION = "NoInterruption"
    SOME_INTERRUPTIONS = "SomeInterruptions"
    REPLACEMENT = "Replacement"
    # The documentation names the condition; `effective_update` resolves the ones we model.
    CONDITIONAL = "Conditional"


class Rule(StrEnum):
    """The documented condition behind a Conditional property, so the engine can decide."""

    # Replacement when the property is added or removed, otherwise no interruption (the
    # classic load balancer's AvailabilityZones, Subnets and HealthCheck).
    PRESENCE = "presence"
    # No interruption when only DeleteOnTermination differs, otherwise replacement (an
    # instance's BlockDeviceMappings).
    DELETE_ON_TERMINATION = "delete-on-termination"


CAPABILITY_IAM = "CAPABILITY_IAM"
CAPABILITY_NAMED_IAM = "CAPABILITY_NAMED_IAM"
CAPABILITY_AUTO_EXPAND = "CAPABILITY_AUTO_EXPAND"
CAPABILITIES = frozenset({CAPABILITY_IAM, CAPABILITY_NAMED_IAM, CAPABILITY_AUTO_EXPAND})


@dataclass(frozen=True)
class PropertySpec:
    name: str
    update: Update
    required: bool = False
    rule: Rule | None = None


@dataclass(frozen=True)
class TypeSpec:
    """One resource type. `ref` says what Ref returns ("id", "name", "arn", ...), in words the
    engine's type modules map to the value they store."""

    name: str
    ref: str
    attributes: tuple[str, ...]
    properties: tuple[PropertySpec, ...]
    # CAPABILITY_IAM for IAM types; the explicit-name property that raises it to
    # CAPABILITY_NAMED_IAM, when the type has one.
    capability: str | None = None
    named_by: str | None = None
    # Attribute families with caller-chosen suffixes: a nested stack's "Outputs.<Name>".
    attribute_prefixes: tuple[str, ...] = ()

    def prop(self, name: str) -> PropertySpec | None:
        for prop in self.properties:
            if prop.name == name:
                return prop
        return None

    @property
    def property_names(self) -> tuple[str, ...]:
        return tuple(prop.name for prop in self.properties)

    @property
    def required(self) -> tuple[str, ...]:
        return tuple(prop.name for prop in self.properties if prop.required)

    def has_attribute(self, attribute: str) -> bool:
        if attribute in self.attributes:
            return True
        return any(
            attribute.startswith(prefix) and len(attribute) > len(prefix)
            for prefix in self.attribute_prefixes
        )


N = Update.NO_INTERRUPTION
S = Update.SOME_INTERRUPTIONS
R = Update.REPLACEMENT
C = Update.CONDITIONAL


def _type(
    name: str,
    ref: str,
    attributes: tuple[str, ...],
    properties: Mapping[str, Update],
    *,
    required: tuple[str, ...] = (),
    rules: Mapping[str, Rule] | None = None,
    capability: str | None = None,
    named_by: str | None = None,
    attribute_prefixes: tuple[str, ...] = (),
) -> TypeSpec:
    # A typo in the table must not silently make a property optional or unconditional.
    unknown = (set(required) | set(rules or {})) - set(properties)
    if unknown:
        raise AssertionError(f"{name}: {sorted(unknown)} are not properties")
    return TypeSpec(
        name=name,
        ref=ref,
        attributes=attributes,
        properties=tuple(
            PropertySpec(
                name=prop,
                update=update,
                required=prop in required,
                rule=(rules or {}).get(prop),
            )
            for prop, update in sorted(properties.items())
        ),
        capability=capability,
        named_by=named_by,
        attribute_prefixes=attribute_prefixes,
    )


_EC2 = (
    _type(
        "AWS::EC2::Instance",
        "id",
        ("AvailabilityZone", "PrivateDnsName", "PrivateIp", "PublicDnsName", "PublicIp"),
        {
            "AdditionalInfo": S,
            "Affinity": S,
            "AvailabilityZone": R,
            "BlockDeviceMappings": C,
            "CpuOptions": R,
            "CreditSpecification": N,
            "DisableApiTermination": N,
            "EbsOptimized": S,
            "HostId": S,
            "IamInstanceProfile": N,
            "ImageId": R,
            "InstanceInitiatedShutdownBehavior": N,
            "InstanceType": S,
            "KernelId": S,
            "KeyName": R,
            "LaunchTemplate": R,
            "MetadataOptions": N,
            "Monitoring": N,
            "NetworkInterfaces": R,
            "PlacementGroupName": R,
            "PrivateIpAddress": R,
            "RamdiskId": S,
            "SecurityGroupIds": S,
            "SecurityGroups": R,
            "SourceDestCheck": N,
            "SubnetId": R,
            "Tags": N,
            "Tenancy": S,
            "UserData": S,
            "Volumes": N,
        },
        rules={"BlockDeviceMappings": Rule.DELETE_ON_TERMINATION},
    ),
    _type(
        "AWS::EC2::SecurityGroup",
        # The group's name outside a VPC (what SecurityGroups lists take), its id with VpcId.
        "name, or id with VpcId",
        ("GroupId", "VpcId"),
        {
            "GroupDescription": R,
            "GroupName": R,
            "SecurityGroupEgress": N,
            "SecurityGroupIngress": N,
            "Tags": N,
            "VpcId": R,
        },
        required=("GroupDescription",),
    ),
    _type(
        "AWS::EC2::SecurityGroupIngress",
        "id",
        ("Id",),
        {
            "CidrIp": R,
            "CidrIpv6": R,
            "Description": N,
            "FromPort": R,
            "GroupId": R,
            "GroupName": R,
            "IpProtocol": R,
            "SourcePrefixListId": R,
            "SourceSecurityGroupId": R,
            "SourceSecurityGroupName": R,
            "SourceSecurityGroupOwnerId": R,
            "ToPort": R,
        },
        required=("IpProtocol",),
    ),
    _type(
        "AWS::EC2::SecurityGroupEgress",
        "id",
        ("Id",),
        {
            "CidrIp": R,
            "CidrIpv6": R,
            "Description": N,
            "DestinationPrefixListId": R,
            "DestinationSecurityGroupId": R,
            "FromPort": R,
            "GroupId": R,
            "IpProtocol": R,
            "ToPort": R,
        },
        required=("GroupId", "IpProtocol"),
    ),
    _type(
        "AWS::EC2::EIP",
        "public ip",
        ("AllocationId", "PublicIp"),
        {
            "Domain": R,
            "InstanceId": N,
            "NetworkBorderGroup": R,
            "PublicIpv4Pool": R,
            "Tags": N,
            "TransferAddress": R,
        },
    ),
    _type(
        "AWS::EC2::EIPAssociation",
        "id",
        ("Id",),
        {
            "AllocationId": R,
            "EIP": R,
            "InstanceId": R,
            "NetworkInterfaceId": R,
            "PrivateIpAddress": R,
        },
    ),
    _type(
        "AWS::EC2::Volume",
        "id",
        ("VolumeId",),
        {
            "AutoEnableIO": N,
            "AvailabilityZone": R,
            "Encrypted": R,
            "Iops": N,
            "KmsKeyId": R,
            "MultiAttachEnabled": N,
            "OutpostArn": N,
            "Size": N,
            "SnapshotId": R,
            "Tags": N,
            "Throughput": N,
            "VolumeType": N,
        },
        required=("AvailabilityZone",),
    ),
    _type(
        "AWS::EC2::VolumeAttachment",
        "id",
        (),
        {"Device": R, "InstanceId": R, "VolumeId": R},
        required=("InstanceId", "VolumeId"),
    ),
    _type(
        "AWS::EC2::KeyPair",
        "name",
        ("KeyFingerprint", "KeyPairId"),
        {"KeyFormat": R, "KeyName": R, "KeyType": R, "PublicKeyMaterial": R, "Tags": R},
        required=("KeyName",),
    ),
    _type(
        "AWS::EC2::LaunchTemplate",
        "id",
        ("DefaultVersionNumber", "LatestVersionNumber", "LaunchTemplateId"),
        {
            "LaunchTemplateData": N,
            "LaunchTemplateName": R,
            "TagSpecifications": N,
            "VersionDescription": N,
        },
        required=("LaunchTemplateData",),
    ),
)

_IAM = (
    _type(
        "AWS::IAM::User",
        "name",
        ("Arn",),
        {
            "Groups": N,
            "LoginProfile": N,
            "ManagedPolicyArns": N,
            "Path": N,
            "PermissionsBoundary": N,
            "Policies": N,
            "Tags": N,
            "UserName": R,
        },
        capability=CAPABILITY_IAM,
        named_by="UserName",
    ),
    _type(
        "AWS::IAM::Group",
        "name",
        ("Arn",),
        {"GroupName": R, "ManagedPolicyArns": N, "Path": N, "Policies": N},
        capability=CAPABILITY_IAM,
        named_by="GroupName",
    ),
    _type(
        "AWS::IAM::Role",
        "name",
        ("Arn", "RoleId"),
        {
            "AssumeRolePolicyDocument": N,
            "Description": N,
            "ManagedPolicyArns": N,
            "MaxSessionDuration": N,
            "Path": R,
            "PermissionsBoundary": N,
            "Policies": N,
            "RoleName": R,
            "Tags": N,
        },
        required=("AssumeRolePolicyDocument",),
        capability=CAPABILITY_IAM,
        named_by="RoleName",
    ),
    _type(
        "AWS::IAM::Policy",
        # An inline policy's PolicyName is required, so it never asks for NAMED_IAM.
        "physical id",
        ("Id",),
        {"Groups": N, "PolicyDocument": N, "PolicyName": N, "Roles": N, "Users": N},
        required=("PolicyDocument", "PolicyName"),
        capability=CAPABILITY_IAM,
    ),
    _type(
        "AWS::IAM::ManagedPolicy",
        "arn",
        (
            "AttachmentCount",
            "CreateDate",
            "DefaultVersionId",
            "IsAttachable",
            "PermissionsBoundaryUsageCount",
            "PolicyArn",
            "PolicyId",
            "UpdateDate",
        ),
        {
            "Description": R,
            "Groups": N,
            "ManagedPolicyName": R,
            "Path": R,
            "PolicyDocument": N,
            "Roles": N,
            "Users": N,
        },
        required=("PolicyDocument",),
        capability=CAPABILITY_IAM,
        named_by="ManagedPolicyName",
    ),
    _type(
        "AWS::IAM::InstanceProfile",
        "name",
        ("Arn",),
        {"InstanceProfileName": R, "Path": R, "Roles": N},
        required=("Roles",),
        capability=CAPABILITY_IAM,
        named_by="InstanceProfileName",
    ),
    _type(
        "AWS::IAM::AccessKey",
        "access key id",
        ("SecretAccessKey",),
        # UserName names the key's owner, not the key: plain CAPABILITY_IAM.
        {"Serial": R, "Status": N, "UserName": R},
        required=("UserName",),
        capability=CAPABILITY_IAM,
    ),
    _type(
        "AWS::IAM::UserToGroupAddition",
        "physical id",
        (),
        {"GroupName": N, "Users": N},
        required=("GroupName", "Users"),
        capability=CAPABILITY_IAM,
    ),
)

_S3 = (
    _type(
        "AWS::S3::Bucket",
        "name",
        ("Arn", "DomainName", "DualStackDomainName", "RegionalDomainName", "WebsiteURL"),
        {
            "AccelerateConfiguration": N,
            "AccessControl": N,
            "AnalyticsConfigurations": N,
            "BucketEncryption": N,
            "BucketName": R,
            "CorsConfiguration": N,
            "IntelligentTieringConfigurations": N,
            "InventoryConfigurations": N,
            "LifecycleConfiguration": N,
            "LoggingConfiguration": N,
            "MetricsConfigurations": N,
            "NotificationConfiguration": N,
            "ObjectLockConfiguration": N,
            "ObjectLockEnabled": R,
            "OwnershipControls": N,
            "PublicAccessBlockConfiguration": N,
            "ReplicationConfiguration": N,
            "Tags": N,
            "VersioningConfiguration": N,
            "WebsiteConfiguration": N,
        },
    ),
    _type(
        "AWS::S3::BucketPolicy",
        "physical id",
        (),
        {"Bucket": R, "PolicyDocument": N},
        required=("Bucket", "PolicyDocument"),
    ),
)

_ELB = (
    _type(
        "AWS::ElasticLoadBalancing::LoadBalancer",
        "name",
        (
            "CanonicalHostedZoneName",
            "CanonicalHostedZoneNameID",
            "DNSName",
            "SourceSecurityGroup.GroupName",
            "SourceSecurityGroup.OwnerAlias",
        ),
        {
            "AccessLoggingPolicy": N,
            "AppCookieStickinessPolicy": N,
            "AvailabilityZones": C,
            "ConnectionDrainingPolicy": N,
            "ConnectionSettings": N,
            "CrossZone": N,
            "HealthCheck": C,
            "Instances": N,
            "LBCookieStickinessPolicy": N,
            "Listeners": N,
            "LoadBalancerName": R,
            "Policies": N,
            "Scheme": R,
            "SecurityGroups": N,
            "Subnets": C,
            "Tags": N,
        },
        required=("Listeners",),
        rules={
            "AvailabilityZones": Rule.PRESENCE,
            "HealthCheck": Rule.PRESENCE,
            "Subnets": Rule.PRESENCE,
        },
    ),
)

_AUTOSCALING = (
    _type(
        "AWS::AutoScaling::LaunchConfiguration",
        "name",
        (),
        # A launch configuration is immutable: every change makes a new one.
        dict.fromkeys(
            (
                "AssociatePublicIpAddress",
                "BlockDeviceMappings",
                "ClassicLinkVPCId",
                "ClassicLinkVPCSecurityGroups",
                "EbsOptimized",
                "IamInstanceProfile",
                "ImageId",
                "InstanceId",
                "InstanceMonitoring",
                "InstanceType",
                "KernelId",
                "KeyName",
                "LaunchConfigurationName",
                "MetadataOptions",
                "PlacementTenancy",
                "RamDiskId",
                "SecurityGroups",
                "SpotPrice",
                "UserData",
            ),
            R,
        ),
        required=("ImageId", "InstanceType"),
    ),
    _type(
        "AWS::AutoScaling::AutoScalingGroup",
        "name",
        (),
        {
            "AutoScalingGroupName": R,
            "AvailabilityZones": N,
            "CapacityRebalance": N,
            "Cooldown": N,
            "DefaultInstanceWarmup": N,
            "DesiredCapacity": N,
            "DesiredCapacityType": N,
            "HealthCheckGracePeriod": N,
            "HealthCheckType": N,
            "InstanceId": R,
            "LaunchConfigurationName": N,
            "LaunchTemplate": N,
            "LifecycleHookSpecificationList": N,
            "LoadBalancerNames": N,
            "MaxInstanceLifetime": N,
            "MaxSize": N,
            "MetricsCollection": N,
            "MinSize": N,
            "MixedInstancesPolicy": N,
            "NewInstancesProtectedFromScaleIn": N,
            "NotificationConfigurations": N,
            "PlacementGroup": N,
            "ServiceLinkedRoleARN": N,
            "Tags": N,
            "TargetGroupARNs": N,
            "TerminationPolicies": N,
            "VPCZoneIdentifier": N,
        },
        required=("MaxSize", "MinSize"),
    ),
    _type(
        "AWS::AutoScaling::ScalingPolicy",
        "arn",
        ("Arn", "PolicyName"),
        {
            "AdjustmentType": N,
            "AutoScalingGroupName": N,
            "Cooldown": N,
            "EstimatedInstanceWarmup": N,
            "MetricAggregationType": N,
            "MinAdjustmentMagnitude": N,
            "PolicyType": N,
            "PredictiveScalingConfiguration": N,
            "ScalingAdjustment": N,
            "StepAdjustments": N,
            "TargetTrackingConfiguration": N,
        },
        required=("AutoScalingGroupName",),
    ),
    _type(
        "AWS::AutoScaling::ScheduledAction",
        "name",
        ("ScheduledActionName",),
        {
            "AutoScalingGroupName": R,
            "DesiredCapacity": N,
            "EndTime": N,
            "MaxSize": N,
            "MinSize": N,
            "Recurrence": N,
            "StartTime": N,
            "TimeZone": N,
        },
        required=("AutoScalingGroupName",),
    ),
)

_CLOUDWATCH = (
    _type(
        "AWS::CloudWatch::Alarm",
        "name",
        ("Arn",),
        {
            "ActionsEnabled": N,
            "AlarmActions": N,
            "AlarmDescription": N,
            "AlarmName": R,
            "ComparisonOperator": N,
            "DatapointsToAlarm": N,
            "Dimensions": N,
            "EvaluateLowSampleCountPercentile": N,
            "EvaluationPeriods": N,
            "ExtendedStatistic": N,
            "InsufficientDataActions": N,
            "MetricName": N,
            "Metrics": N,
            "Namespace": N,
            "OKActions": N,
            "Period": N,
            "Statistic": N,
            "Tags": N,
            "Threshold": N,
            "ThresholdMetricId": N,
            "TreatMissingData": N,
            "Unit": N,
        },
        required=("ComparisonOperator", "EvaluationPeriods"),
    ),
)

_CLOUDFORMATION = (
    _type(
        "AWS::CloudFormation::Stack",
        "stack id",
        (),
        {
            "NotificationARNs": N,
            "Parameters": N,
            "Tags": N,
            "TemplateURL": N,
            "TimeoutInMinutes": N,
        },
        required=("TemplateURL",),
        attribute_prefixes=("Outputs.",),
    ),
    _type(
        "AWS::CloudFormation::WaitCondition",
        "physical id",
        ("Data",),
        # AWS documents wait conditions as not updatable in place; a changed count, handle
        # or timeout is a new wait.
        {"Count": R, "Handle": R, "Timeout": R},
    ),
    # Ref is the presigned URL cfn-signal (or curl) PUTs its signal to.
    _type("AWS::CloudFormation::WaitConditionHandle", "presigned url", (), {}),
)

_CATALOG: dict[str, TypeSpec] = {
    spec.name: spec
    for spec in (*_EC2, *_IAM, *_S3, *_ELB, *_AUTOSCALING, *_CLOUDWATCH, *_CLOUDFORMATION)
}

SUPPORTED: frozenset[str] = frozenset(_CATALOG)


def spec(resource_type: str) -> TypeSpec:
    """The type's spec; a type we have no service for is AWS's "Unrecognized resource types"."""
    found = _CATALOG.get(resource_type)
    if found is None:
        raise TemplateError(unrecognized_message([resource_type]))
    return found


def unrecognized_message(resource_types: Iterable[str]) -> str:
    """AWS names every unknown type of a template in one message."""
    return "Template format error: Unrecognized resource types: [{}]".format(
        ", ".join(dict.fromkeys(resource_types))
    )


def unsupported(resource_types: Iterable[str]) -> list[str]:
    """The types among these that mallee cannot make, each once, in template order."""
    return [t for t in dict.fromkeys(resource_types) if t not in _CATALOG]


def needs_capability(resource_type: str, properties: Mapping[str, object]) -> str | None:
    """CAPABILITY_NAMED_IAM when an IAM resource is given an explicit name, CAPABILITY_IAM
    for any other IAM resource, None for the rest."""
    found = spec(resource_type)
    if found.capability is None:
        return None
    if found.named_by is not None and found.named_by in properties:
        return CAPABILITY_NAMED_IAM
    return found.capability


def missing_capabilities(needed: Iterable[str | None], granted: Iterable[str]) -> list[str]:
    """The capabilities the caller must still acknowledge; NAMED_IAM covers plain IAM, since
    AWS accepts a stack of unnamed IAM resources under CAPABILITY_NAMED_IAM."""
    have = set(granted)
    if CAPABILITY_NAMED_IAM in have:
        have.add(CAPABILITY_IAM)
    wanted = {cap for cap in needed if cap is not None}
    # AWS asks for the strongest one the template needs, not both.
    if CAPABILITY_NAMED_IAM in wanted:
        wanted.discard(CAPABILITY_IAM)
    return sorted(wanted - have)


def insufficient_capabilities_message(missing: Iterable[str]) -> str:
    """InsufficientCapabilities' message, as AWS words it."""
    return "Requires capabilities : [{}]".format(", ".join(missing))


def required_missing(resource_type: str, properties: Mapping[str, object]) -> list[str]:
    """Required properties the resource leaves out, in the catalog's (alphabetical) order."""
    return [name for name in spec(resource_type).required if name not in properties]


def unknown_properties(resource_type: str, properties: Mapping[str, object]) -> list[str]:
    """Properties the type does not have, in the template's order."""
    known = set(spec(resource_type).property_names)
    return [name for name in properties if name not in known]


def update_behaviour(resource_type: str, name: str) -> Update:
    """The documented behaviour; a property the catalog does not know is treated as a
    replacement, the only safe guess (validation refuses such templates anyway)."""
    prop = spec(resource_type).prop(name)
    return Update.REPLACEMENT if prop is None else prop.update


def effective_update(resource_type: str, name: str, old: object, new: object) -> Update:
    """What a change of `name` from `old` to `new` (None when absent) really needs: the
    documented behaviour, with the Conditional ones decided by their documented rule."""
    prop = spec(resource_type).prop(name)
    if prop is None:
        return Update.REPLACEMENT
    if prop.update is not Update.CONDITIONAL or prop.rule is None:
        return prop.update
    if prop.rule is Rule.PRESENCE:
        if (old is None) != (new is None):
            return Update.REPLACEMENT
        return Update.NO_INTERRUPTION
    # DELETE_ON_TERMINATION: compare the mappings with that one flag taken out.
    if _without_delete_on_termination(old) == _without_delete_on_termination(new):
        return Update.NO_INTERRUPTION
    return Update.REPLACEMENT


def _without_delete_on_termination(value: object) -> object:
    if isinstance(value, Mapping):
        return {
            key: _without_delete_on_termination(item)
            for key, item in value.items()
            if key != "DeleteOnTermination"
        }
    if isinstance(value, list):
        return [_without_delete_on_termination(item) for item in value]
    return value
