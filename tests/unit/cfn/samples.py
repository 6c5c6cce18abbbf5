"""Templates the cfn tests share: the seed's sample and a large realistic stack."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

# The seed's sample: an instance in a security group, its key pair a parameter.
SEED = """{
  "AWSTemplateFormatVersion" : "2010-09-09",
  "Description" : "Cloudformation Example => Run an instance",
  "Parameters" : {
    "KeyName" : {
      "Description" : "The EC2 Key Pair to allow SSH access to the instance",
      "Type" : "AWS::EC2::KeyPair::KeyName"
    }
  },
  "Resources" : {
    "MySecurityGroup" : {
      "Type" : "AWS::EC2::SecurityGroup",
      "Properties" : {
        "GroupDescription" : "Security Group with Ingress Rule for MyInstance",
        "SecurityGroupIngress" : [
          {"IpProtocol" : "tcp", "FromPort" : "22", "ToPort" : "22", "CidrIp" : "0.0.0.0/0"}
        ]
      }
    },
    "MyInstance" : {
      "Type" : "AWS::EC2::Instance",
      "Properties" : {
        "ImageId" : "emi-3b5ad3a2",
        "SecurityGroups" : [ { "Ref" : "MySecurityGroup" } ],
        "KeyName" : { "Ref" : "KeyName" }
      }
    }
  }
}
"""

# A web tier: load balancer, Auto Scaling group with alarms, a wait condition signalled from
# user data, an instance role, a bucket; mappings, conditions and exports.
WEB = """
AWSTemplateFormatVersion: 2010-09-09
Description: Web tier behind a load balancer
Metadata:
  Owner: ops
Parameters:
  KeyName:
    Type: AWS::EC2::KeyPair::KeyName
    Description: SSH key
  InstanceType:
    Type: String
    Default: m1.small
    AllowedValues: [m1.small, m1.large, c1.medium]
    Description: Instance type
  Environment:
    Type: String
    Default: test
    AllowedValues: [prod, test]
  Capacity:
    Type: Number
    Default: 2
    MinValue: 1
    MaxValue: 10
  AdminCidr:
    Type: String
    Default: 10.0.0.0/8
    AllowedPattern: '(\\d{1,3})\\.(\\d{1,3})\\.(\\d{1,3})\\.(\\d{1,3})/(\\d{1,2})'
    ConstraintDescription: must be a CIDR block
  DbPassword:
    Type: String
    NoEcho: true
    Default: secret123
    MinLength: 8
  Zones:
    Type: CommaDelimitedList
    Default: ''
Mappings:
  RegionImages:
    eucalyptus:
      Image: emi-11111111
    us-east-1:
      Image: ami-22222222
Conditions:
  IsProd: !Equals [!Ref Environment, prod]
  NotProd: !Not [!Condition IsProd]
  NoZones: !Equals [!Join ['', !Ref Zones], '']
  BigProd: !And [!Condition IsProd, !Equals [!Ref InstanceType, m1.large]]
Resources:
  LogBucket:
    Type: AWS::S3::Bucket
    DeletionPolicy: Retain
  LogBucketPolicy:
    Type: AWS::S3::BucketPolicy
    Properties:
      Bucket: !Ref LogBucket
      PolicyDocument:
        Statement:
          - Effect: Allow
            Principal: {AWS: !GetAtt WebRole.Arn}
            Action: s3:PutObject
            Resource: !Sub 'arn:${AWS::Partition}:s3:::${LogBucket}/*'
  WebRole:
    Type: AWS::IAM::Role
    Properties:
      AssumeRolePolicyDocument:
        Statement:
          - Effect: Allow
            Principal: {Service: ec2.amazonaws.com}
            Action: sts:AssumeRole
  WebProfile:
    Type: AWS::IAM::InstanceProfile
    Properties:
      Roles: [!Ref WebRole]
  WebGroup:
    Type: AWS::EC2::SecurityGroup
    Properties:
      GroupDescription: web
      SecurityGroupIngress:
        - {IpProtocol: tcp, FromPort: 80, ToPort: 80, CidrIp: 0.0.0.0/0}
        - {IpProtocol: tcp, FromPort: 22, ToPort: 22, CidrIp: !Ref AdminCidr}
  Balancer:
    Type: AWS::ElasticLoadBalancing::LoadBalancer
    Properties:
      AvailabilityZones: !If [NoZones, !GetAZs '', !Ref Zones]
      Listeners:
        - {LoadBalancerPort: '80', InstancePort: '80', Protocol: HTTP}
  ReadyHandle:
    Type: AWS::CloudFormation::WaitConditionHandle
  Ready:
    Type: AWS::CloudFormation::WaitCondition
    DependsOn: WebScaling
    Properties:
      Handle: !Ref ReadyHandle
      Timeout: '600'
      Count: !Ref Capacity
  WebConfig:
    Type: AWS::AutoScaling::LaunchConfiguration
    Properties:
      ImageId: !FindInMap [RegionImages, !Ref 'AWS::Region', Image]
      InstanceType: !Ref InstanceType
      KeyName: !Ref KeyName
      SecurityGroups: [!Ref WebGroup]
      IamInstanceProfile: !Ref WebProfile
      UserData:
        Fn::Base64: !Sub |
          #!/bin/sh
          body='{"Status":"SUCCESS","UniqueId":"1","Data":"up","Reason":"ok"}'
          curl -X PUT -H 'Content-Type:' --data-binary "$body" "${ReadyHandle}"
          echo ${!NotAVariable} > /tmp/literal
  WebScaling:
    Type: AWS::AutoScaling::AutoScalingGroup
    Properties:
      AvailabilityZones: !GetAZs ''
      LaunchConfigurationName: !Ref WebConfig
      MinSize: !Ref Capacity
      MaxSize: !If [IsProd, 10, 4]
      LoadBalancerNames: [!Ref Balancer]
  ScaleUp:
    Type: AWS::AutoScaling::ScalingPolicy
    Properties:
      AdjustmentType: ChangeInCapacity
      AutoScalingGroupName: !Ref WebScaling
      ScalingAdjustment: 1
  CpuHigh:
    Type: AWS::CloudWatch::Alarm
    Properties:
      MetricName: CPUUtilization
      Namespace: AWS/EC2
      Statistic: Average
      Period: 60
      EvaluationPeriods: 2
      Threshold: 80
      ComparisonOperator: GreaterThanThreshold
      AlarmActions: [!Ref ScaleUp]
      Dimensions:
        - {Name: AutoScalingGroupName, Value: !Ref WebScaling}
  ProdVolume:
    Type: AWS::EC2::Volume
    Condition: IsProd
    DeletionPolicy: Snapshot
    Properties:
      Size: 10
      AvailabilityZone: !Select [0, !GetAZs '']
Outputs:
  Url:
    Description: The site
    Value: !Join ['', ['http://', !GetAtt Balancer.DNSName, '/']]
    Export:
      Name: !Sub '${AWS::StackName}-url'
  Bucket:
    Value: !Ref LogBucket
  Volume:
    Condition: IsProd
    Value: !Ref ProdVolume
"""

SUPPORTED = {
    "AWS::EC2::Instance",
    "AWS::EC2::SecurityGroup",
    "AWS::EC2::Volume",
    "AWS::S3::Bucket",
    "AWS::S3::BucketPolicy",
    "AWS::IAM::Role",
    "AWS::IAM::User",
    "AWS::IAM::InstanceProfile",
    "AWS::ElasticLoadBalancing::LoadBalancer",
    "AWS::AutoScaling::LaunchConfiguration",
    "AWS::AutoScaling::AutoScalingGroup",
    "AWS::AutoScaling::ScalingPolicy",
    "AWS::CloudWatch::Alarm",
    "AWS::CloudFormation::WaitCondition",
    "AWS::CloudFormation::WaitConditionHandle",
}

_NAMES = {"AWS::IAM::Role": "RoleName", "AWS::IAM::User": "UserName"}


def needs_capability(kind: str, properties: Mapping[str, Any]) -> str | None:
    """As the type catalog answers: IAM resources need IAM, named ones NAMED_IAM."""
    if not kind.startswith("AWS::IAM::"):
        return None
    return "CAPABILITY_NAMED_IAM" if _NAMES.get(kind) in properties else "CAPABILITY_IAM"


class Account:
    """Lookups over a fixed account: one key pair, a group, a subnet, two zones."""

    def __init__(self) -> None:
        self.asked: list[tuple[str, set[str]]] = []

    def _has(self, what: str, values: set[str], present: set[str]) -> set[str]:
        self.asked.append((what, set(values)))
        return values & present

    def key_pairs(self, names: set[str]) -> set[str]:
        return self._has("key_pairs", names, {"demokey"})

    def security_groups(self, ids: set[str]) -> set[str]:
        return self._has("security_groups", ids, {"sg-11111111", "sg-22222222"})

    def security_group_names(self, names: set[str]) -> set[str]:
        return self._has("security_group_names", names, {"default"})

    def subnets(self, ids: set[str]) -> set[str]:
        return self._has("subnets", ids, {"subnet-11111111"})

    def vpcs(self, ids: set[str]) -> set[str]:
        return self._has("vpcs", ids, {"vpc-11111111"})

    def images(self, ids: set[str]) -> set[str]:
        return self._has("images", ids, {"emi-3b5ad3a2"})

    def instances(self, ids: set[str]) -> set[str]:
        return self._has("instances", ids, {"i-11111111"})

    def zones(self, names: set[str]) -> set[str]:
        return self._has("zones", names, {"one", "two"})

    def volumes(self, ids: set[str]) -> set[str]:
        return self._has("volumes", ids, {"vol-11111111"})
