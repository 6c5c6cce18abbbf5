"""Credentials of an instance profile's role, as the metadata service hands them to an instance.

AWS delivers these only when the role trusts ec2.amazonaws.com; otherwise the instance's
iam/info says AssumeRoleUnauthorizedAccess and no credentials appear. The session is named
after the instance, so CloudTrail-style ARNs read assumed-role/<role>/<instance id>.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from mallee.policy import PolicyError, PolicyKind, parse_policy
from mallee.policy.evaluate import AuthzRequest, Decision, PrincipalRef, evaluate
from mallee.services.iam.views import profile_arn, role_arn
from mallee.services.sts.sessions import issue_session
from mallee.store.tables.iam import IamInstanceProfile, IamInstanceProfileRole, IamRole

EC2_SERVICE = "ec2.amazonaws.com"
# AWS hands instances credentials valid for about 6 hours, refreshed well before expiry.
INSTANCE_SESSION_SECONDS = 6 * 3600


@dataclass(frozen=True, slots=True)
class InstanceRole:
    profile_arn: str
    profile_id: str
    role_name: str | None
    # None with a role: the role does not trust ec2.amazonaws.com.
    access_key_id: str | None = None
    secret_access_key: str | None = None
    token: str | None = None
    expiration: datetime | None = None


def trusts_ec2(role: IamRole) -> bool:
    try:
        policy = parse_policy(role.trust_policy, PolicyKind.TRUST)
    except PolicyError:
        return False
    request = AuthzRequest(
        "sts:AssumeRole", role_arn(role), principal=PrincipalRef("", service=EC2_SERVICE)
    )
    return evaluate([policy], request) is Decision.ALLOW


def instance_role(s: Session, profile_id: str, instance_id: str) -> InstanceRole | None:
    """The profile's role and fresh credentials for it; None when the profile is gone."""
    profile = s.get(IamInstanceProfile, profile_id)
    if profile is None:
        return None
    role = s.scalars(
        select(IamRole)
        .join(IamInstanceProfileRole, IamInstanceProfileRole.role_id == IamRole.id)
        .where(IamInstanceProfileRole.profile_id == profile_id)
    ).first()
    arn = profile_arn(profile)
    if role is None:
        return InstanceRole(arn, profile.id, None)
    if not trusts_ec2(role):
        return InstanceRole(arn, profile.id, role.name)
    session_arn = f"arn:aws:sts::{role.account_id}:assumed-role/{role.name}/{instance_id}"
    template = {
        "issued_by": "AssumeRole",
        "account_id": role.account_id,
        "kind": "assumed-role",
        "entity_id": role.id,
        "arn": session_arn,
        "user_id": f"{role.id}:{instance_id}",
        "name": instance_id,
        "session_policy": None,
        "source_access_key": None,
    }
    row, expires = issue_session(s, template, INSTANCE_SESSION_SECONDS)
    return InstanceRole(arn, profile.id, role.name, row.id, row.secret, row.session_token, expires)
