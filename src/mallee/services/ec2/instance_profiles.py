"""The IamInstanceProfile of RunInstances: the caller's own profile, by name or by ARN."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from mallee.api.context import RequestContext
from mallee.api.errors import ServiceError
from mallee.identity.arns import parse_arn, profile_arn, role_arn
from mallee.identity.authz import Authorizer, OneAction
from mallee.services.base import Runtime
from mallee.services.ec2 import errors
from mallee.store.tables.iam import IamInstanceProfile, IamInstanceProfileRole, IamRole


def authorize_pass_role(rt: Runtime, ctx: RequestContext, spec: Any) -> None:
    """An instance launched with a profile carries its role's credentials: the caller must
    be allowed iam:PassRole on that role, as AWS requires (else any user allowed
    RunInstances could take on any role a profile of the account holds)."""
    if not spec:
        return
    with rt.store.read() as s:
        profile = launch_profile(s, ctx.principal.account_id, spec)
        role = (
            s.scalars(
                select(IamRole)
                .join(IamInstanceProfileRole, IamInstanceProfileRole.role_id == IamRole.id)
                .where(IamInstanceProfileRole.profile_id == profile.id)
            ).first()
            if profile is not None
            else None
        )
        arn = role_arn(role) if role is not None else None
    if arn is None:
        return
    authorizer = rt.shared("ec2.authorizer", lambda: Authorizer(rt.store))
    try:
        authorizer.authorize(ctx, OneAction("iam:PassRole", [arn]))
    except ServiceError as refused:
        # EC2 answers every denial its own way, this one too (the message names PassRole).
        raise errors.unauthorized_operation(refused.message) from None


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
