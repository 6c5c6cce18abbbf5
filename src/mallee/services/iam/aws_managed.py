"""The AWS managed policies every account may attach (arn:aws:iam::aws:policy/<name>).

Documents as AWS publishes them (AWS Managed Policy Reference), at the version named here;
ReadOnlyAccess is the part of AWS's that names the services mallee serves (EC2, S3, IAM),
AWS's own listing hundreds of services. The PolicyIds are AWS's, which tools compare.
A migration writes these rows (account_id NULL); a change here needs a migration that
rewrites them.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

# The account part of an AWS managed policy's ARN.
AWS_ACCOUNT = "aws"
AWS_POLICY_PREFIX = f"arn:aws:iam::{AWS_ACCOUNT}:policy/"


@dataclass(frozen=True, slots=True)
class AwsPolicy:
    name: str
    policy_id: str
    description: str
    # AWS's default version, whose document `statements` is.
    version: str
    created: datetime
    updated: datetime
    statements: Sequence[Mapping[str, Any]]
    path: str = "/"

    @property
    def arn(self) -> str:
        return f"arn:aws:iam::{AWS_ACCOUNT}:policy{self.path}{self.name}"

    def document(self) -> str:
        return json.dumps({"Version": "2012-10-17", "Statement": list(self.statements)}, indent=2)


def _at(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%d %H:%M").replace(tzinfo=UTC)


def _allow(*actions: str, **extra: Any) -> dict[str, Any]:
    return {
        "Effect": "Allow",
        "Action": actions[0] if len(actions) == 1 else list(actions),
        "Resource": "*",
        **extra,
    }


AWS_POLICIES: tuple[AwsPolicy, ...] = (
    AwsPolicy(
        "AdministratorAccess",
        "ANPAIWMBCKSKIEE64ZLYK",
        "Provides full access to AWS services and resources.",
        "v1",
        _at("2015-02-06 18:39"),
        _at("2015-02-06 18:39"),
        (_allow("*"),),
    ),
    AwsPolicy(
        "PowerUserAccess",
        "ANPAJYRXTHIB4FOVS3ZXS",
        "Provides full access to AWS services and resources, but does not allow management "
        "of Users and groups.",
        "v12",
        _at("2015-02-06 18:39"),
        _at("2026-02-12 17:59"),
        (
            {
                "Effect": "Allow",
                "NotAction": ["iam:*", "organizations:*", "account:*"],
                "Resource": "*",
            },
            _allow(
                "account:GetAccountInformation",
                "account:GetGovCloudAccountInformation",
                "account:GetPrimaryEmail",
                "account:ListRegions",
                "iam:CreateServiceLinkedRole",
                "iam:DeleteServiceLinkedRole",
                "iam:ListRoles",
                "organizations:DescribeEffectivePolicy",
                "organizations:DescribeOrganization",
            ),
        ),
    ),
    AwsPolicy(
        "ReadOnlyAccess",
        "ANPAILL3HVNFSB6DCOWYQ",
        "Provides read-only access to AWS services and resources.",
        "v1",
        _at("2015-02-06 18:39"),
        _at("2015-02-06 18:39"),
        (
            _allow(
                "ec2:Describe*",
                "ec2:Get*",
                "iam:Generate*",
                "iam:Get*",
                "iam:List*",
                "iam:Simulate*",
                "s3:Describe*",
                "s3:Get*",
                "s3:List*",
            ),
        ),
    ),
    AwsPolicy(
        "AmazonS3FullAccess",
        "ANPAIFIR6V6BVTRAHWINE",
        "Provides full access to all buckets via the AWS Management Console.",
        "v2",
        _at("2015-02-06 18:40"),
        _at("2021-09-27 20:16"),
        (_allow("s3:*", "s3-object-lambda:*"),),
    ),
    AwsPolicy(
        "AmazonS3ReadOnlyAccess",
        "ANPAIZTJ4DXE7G6AGAE6M",
        "Provides read only access to all buckets via the AWS Management Console.",
        "v3",
        _at("2015-02-06 18:40"),
        _at("2023-08-10 21:31"),
        (
            _allow(
                "s3:Get*",
                "s3:List*",
                "s3:Describe*",
                "s3-object-lambda:Get*",
                "s3-object-lambda:List*",
            ),
        ),
    ),
    AwsPolicy(
        "AmazonEC2FullAccess",
        "ANPAI3VAJF5ZCRZ7MCQE6",
        "Provides full access to Amazon EC2 via the AWS Management Console.",
        "v5",
        _at("2015-02-06 18:40"),
        _at("2018-11-27 02:16"),
        (
            _allow("ec2:*"),
            _allow("elasticloadbalancing:*"),
            _allow("cloudwatch:*"),
            _allow("autoscaling:*"),
            _allow(
                "iam:CreateServiceLinkedRole",
                Condition={
                    "StringEquals": {
                        "iam:AWSServiceName": [
                            "autoscaling.amazonaws.com",
                            "ec2scheduled.amazonaws.com",
                            "elasticloadbalancing.amazonaws.com",
                            "spot.amazonaws.com",
                            "spotfleet.amazonaws.com",
                            "transitgateway.amazonaws.com",
                        ]
                    }
                },
            ),
        ),
    ),
    AwsPolicy(
        "AmazonEC2ReadOnlyAccess",
        "ANPAIGDT4SV4GSETWTBZK",
        "Provides read only access to Amazon EC2 via the AWS Management Console.",
        "v3",
        _at("2015-02-06 18:40"),
        _at("2024-12-27 10:07"),
        (
            _allow("ec2:Describe*", "ec2:GetSecurityGroupsForVpc"),
            _allow("elasticloadbalancing:Describe*"),
            _allow(
                "cloudwatch:ListMetrics", "cloudwatch:GetMetricStatistics", "cloudwatch:Describe*"
            ),
            _allow("autoscaling:Describe*"),
        ),
    ),
    AwsPolicy(
        "IAMFullAccess",
        "ANPAI7XKCFMBPM3QQRRVQ",
        "Provides full access to IAM via the AWS Management Console.",
        "v2",
        _at("2015-02-06 18:40"),
        _at("2019-06-21 19:40"),
        (
            _allow(
                "iam:*",
                "organizations:DescribeAccount",
                "organizations:DescribeOrganization",
                "organizations:DescribeOrganizationalUnit",
                "organizations:DescribePolicy",
                "organizations:ListChildren",
                "organizations:ListParents",
                "organizations:ListPoliciesForTarget",
                "organizations:ListRoots",
                "organizations:ListPolicies",
                "organizations:ListTargetsForPolicy",
            ),
        ),
    ),
    AwsPolicy(
        "IAMReadOnlyAccess",
        "ANPAJKSO7NDY4T57MWDSQ",
        "Provides read only access to IAM via the AWS Management Console.",
        "v4",
        _at("2015-02-06 18:40"),
        _at("2018-01-25 19:11"),
        (
            _allow(
                "iam:GenerateCredentialReport",
                "iam:GenerateServiceLastAccessedDetails",
                "iam:Get*",
                "iam:List*",
                "iam:SimulateCustomPolicy",
                "iam:SimulatePrincipalPolicy",
            ),
        ),
    ),
    AwsPolicy(
        "IAMUserChangePassword",
        "ANPAJ4L4MM2A7QIEB56MS",
        "Provides the ability for an IAM user to change their own password.",
        "v3",
        _at("2016-11-15 00:25"),
        _at("2025-05-29 21:52"),
        (
            {
                "Effect": "Allow",
                "Action": ["iam:ChangePassword"],
                "Resource": [
                    "arn:aws:iam::*:user/${aws:username}",
                    "arn:aws:iam::*:user/*/${aws:username}",
                ],
            },
            _allow("iam:GetAccountPasswordPolicy"),
        ),
    ),
)
