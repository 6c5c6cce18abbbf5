"""The IamInstanceProfile of RunInstances: the caller's own profile, by name or by ARN."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from mallee.identity.arns import parse_arn, profile_arn
from mallee.services.ec2 import errors
from mallee.store.tables.iam import IamInstanceProfile


def launch_profile(s: Session, account_id: str, spec: Any) -> IamInstanceProfile | None:
    if not spec:
        return None
    if not isinstance(spec, dict):
        raise errors.invalid_parameter(
            "iamInstanceProfile.name", str(spec), "Invalid IAM Instance Profile name"
        )
    arn, name = spec.get("Arn"), spec.get("Name")
    if arn and name:
        raise errors.invalid_combination(
            "The parameter 'iamInstanceProfile.name' may not be used in combination with "
            "'iamInstanceProfile.arn'"
        )
    if arn:
        parts = parse_arn(str(arn))
        if parts is None or parts[1] != "iam" or not parts[4].startswith("instance-profile/"):
            raise errors.invalid_parameter(
                "iamInstanceProfile.arn", str(arn), "Invalid IAM Instance Profile ARN"
            )
        wanted = parts[4].rsplit("/", 1)[-1]
        found = _by_name(s, parts[3], wanted)
        # An ARN names one path too, and only the caller's own profiles may be passed.
        if found is None or parts[3] != account_id or profile_arn(found) != str(arn):
            raise errors.invalid_parameter(
                "iamInstanceProfile.arn", str(arn), "Invalid IAM Instance Profile ARN"
            )
        return found
    found = _by_name(s, account_id, str(name or ""))
    if found is None:
        raise errors.invalid_parameter(
            "iamInstanceProfile.name", str(name), "Invalid IAM Instance Profile name"
        )
    return found


def _by_name(s: Session, account_id: str, name: str) -> IamInstanceProfile | None:
    return s.scalars(
        select(IamInstanceProfile).where(
            IamInstanceProfile.account_id == account_id,
            IamInstanceProfile.name_key == name.lower(),
        )
    ).first()
