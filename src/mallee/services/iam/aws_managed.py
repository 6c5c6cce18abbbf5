"""The AWS managed policies every account may attach (arn:aws:iam::aws:policy/<name>).

Documents as AWS publishes them (AWS Managed Policy Reference), at the version each names, kept
in the store's seed file `store/seeds/aws_managed_policies.json`;
ReadOnlyAccess is the part of AWS's that names the services mallee serves (EC2, S3, IAM),
AWS's own listing hundreds of services. The PolicyIds are AWS's, which tools compare.
A migration writes these rows (account_id NULL) from the same file; a change to it needs a
migration that rewrites them.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from mallee.store.seeds import aws_managed_policies

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


def _policy(row: Mapping[str, Any]) -> AwsPolicy:
    return AwsPolicy(
        row["name"],
        row["policy_id"],
        row["description"],
        row["version"],
        _at(row["created"]),
        _at(row["updated"]),
        tuple(row["statements"]),
        row["path"],
    )


AWS_POLICIES: tuple[AwsPolicy, ...] = tuple(_policy(row) for row in aws_managed_policies())
