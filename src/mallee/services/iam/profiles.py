"""Instance profiles: a container for (at most) one role, handed to EC2 instances."""

from __future__ import annotations

from typing import Any

from sqlalchemy import exists, func, select
from sqlalchemy.orm import Session

from mallee.services.iam.common import (
    already_exists,
    check_name,
    check_path,
    check_path_prefix,
    delete_conflict,
    limit_exceeded,
    new_id,
    no_such_entity,
    now,
    paginate,
)
from mallee.services.iam.lookups import Scope, profile_or_404, role_or_404
from mallee.services.iam.views import profile_out
from mallee.store.tables.iam import IamInstanceProfile, IamInstanceProfileRole, IamRole

PROFILES_QUOTA = 1000


def profile_roles(s: Session, profile: IamInstanceProfile) -> list[IamRole]:
    stmt = (
        select(IamRole)
        .join(IamInstanceProfileRole, IamInstanceProfileRole.role_id == IamRole.id)
        .where(IamInstanceProfileRole.profile_id == profile.id)
    )
    return list(s.scalars(stmt))


def create_instance_profile(s: Session, scope: Scope, params: dict[str, Any]) -> dict[str, Any]:
    name = check_name(params.get("InstanceProfileName"), "instanceProfileName", 128)
    path = check_path(params.get("Path"))
    key = name.lower()
    taken = select(IamInstanceProfile.id).where(
        IamInstanceProfile.account_id == scope.account_id, IamInstanceProfile.name_key == key
    )
    if s.scalar(select(exists(taken))):
        raise already_exists(f"Instance Profile {name} already exists.")
    count = s.scalar(select(func.count()).where(IamInstanceProfile.account_id == scope.account_id))
    if (count or 0) >= PROFILES_QUOTA:
        raise limit_exceeded(
            f"Cannot exceed quota for InstanceProfilesPerAccount: {PROFILES_QUOTA}"
        )
    profile = IamInstanceProfile(
        id=new_id("AIPA"),
        account_id=scope.account_id,
        name=name,
        name_key=key,
        path=path,
        created_at=now(),
    )
    s.add(profile)
    s.flush()
    return {"InstanceProfile": profile_out(profile, [])}


def get_instance_profile(s: Session, scope: Scope, params: dict[str, Any]) -> dict[str, Any]:
    profile = profile_or_404(s, scope.account_id, params.get("InstanceProfileName"))
    return {"InstanceProfile": profile_out(profile, profile_roles(s, profile))}


def list_instance_profiles(s: Session, scope: Scope, params: dict[str, Any]) -> dict[str, Any]:
    stmt = select(IamInstanceProfile).where(IamInstanceProfile.account_id == scope.account_id)
    prefix = check_path_prefix(params.get("PathPrefix"))
    if prefix:
        stmt = stmt.where(IamInstanceProfile.path.startswith(prefix, autoescape=True))
    rows, page = paginate(s, stmt, IamInstanceProfile.name_key, params)
    profiles = [profile_out(p, profile_roles(s, p)) for p in rows]
    return {"InstanceProfiles": profiles, **page}


def delete_instance_profile(s: Session, scope: Scope, params: dict[str, Any]) -> dict[str, Any]:
    profile = profile_or_404(s, scope.account_id, params.get("InstanceProfileName"))
    if profile_roles(s, profile):
        raise delete_conflict(
            "Cannot delete entity, must remove roles from instance profile first."
        )
    s.delete(profile)
    return {}


def add_role_to_instance_profile(
    s: Session, scope: Scope, params: dict[str, Any]
) -> dict[str, Any]:
    profile = profile_or_404(s, scope.account_id, params.get("InstanceProfileName"))
    role = role_or_404(s, scope.account_id, params.get("RoleName"))
    if profile_roles(s, profile):
        raise limit_exceeded("Cannot exceed quota for InstanceSessionsPerInstanceProfile: 1")
    s.add(IamInstanceProfileRole(profile_id=profile.id, role_id=role.id))
    return {}


def remove_role_from_instance_profile(
    s: Session, scope: Scope, params: dict[str, Any]
) -> dict[str, Any]:
    profile = profile_or_404(s, scope.account_id, params.get("InstanceProfileName"))
    role = role_or_404(s, scope.account_id, params.get("RoleName"))
    link = s.get(IamInstanceProfileRole, (profile.id, role.id))
    if link is None:
        raise no_such_entity(f"Role {role.name} is not in instance profile {profile.name}.")
    s.delete(link)
    return {}
