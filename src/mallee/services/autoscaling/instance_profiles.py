"""A launch configuration's IamInstanceProfile (a name or an ARN of the caller's own profile):
it must exist, and the caller must be allowed iam:PassRole on its role, as AWS requires when
the configuration is made, since every instance the group launches will carry that role's
credentials (else a user allowed only Auto Scaling could take on any role of the account)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from mallee.api.context import RequestContext
from mallee.api.errors import ServiceError
from mallee.identity.arns import parse_arn, profile_arn, role_arn
from mallee.identity.authz import Authorizer, OneAction
from mallee.services.autoscaling import errors
from mallee.services.base import Runtime
from mallee.store.tables.iam import IamInstanceProfile, IamInstanceProfileRole, IamRole


def _profile(s: Session, account_id: str, spec: str) -> IamInstanceProfile | None:
    if spec.startswith("arn:"):
        parts = parse_arn(spec)
        if parts is None or parts[1] != "iam" or parts[3] != account_id:
            return None
        name = parts[4].rsplit("/", 1)[-1]
    else:
        name = spec
    found = s.scalars(
        select(IamInstanceProfile).where(
            IamInstanceProfile.account_id == account_id, IamInstanceProfile.name == name
        )
    ).first()
    if found is not None and spec.startswith("arn:") and profile_arn(found) != spec:
        return None  # an ARN names one path too
    return found


def check(rt: Runtime, ctx: RequestContext, spec: str) -> None:
    """ValidationError for a profile the caller has not; AccessDenied without iam:PassRole."""
    if not spec:
        return
    with rt.store.read() as s:
        profile = _profile(s, ctx.principal.account_id, spec)
        if profile is None:
            raise errors.validation(f"Invalid IamInstanceProfile: {spec}")
        role = s.scalars(
            select(IamRole)
            .join(IamInstanceProfileRole, IamInstanceProfileRole.role_id == IamRole.id)
            .where(IamInstanceProfileRole.profile_id == profile.id)
        ).first()
        arn = role_arn(role) if role is not None else None
    if arn is None:
        return
    authorizer = rt.shared("autoscaling.authorizer", lambda: Authorizer(rt.store))
    try:
        authorizer.authorize(ctx, OneAction("iam:PassRole", [arn]))
    except ServiceError as refused:
        raise ServiceError("AccessDenied", refused.message, 403) from None
