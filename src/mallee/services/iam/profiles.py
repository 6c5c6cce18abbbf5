"""Instance profiles: a container for (at most) one role, handed to EC2 instances."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from mallee.services.base import Operations
from mallee.services.iam.common import check_path
from mallee.services.iam.entities import PROFILES, ROLES
from mallee.services.iam.errors import delete_conflict, limit_exceeded, no_such_entity
from mallee.services.iam.scope import Scope
from mallee.services.iam.transactions import reads, writes
from mallee.services.iam.views import profile_out
from mallee.store.tables.iam import IamInstanceProfile, IamInstanceProfileRole, IamRole


def profile_roles(s: Session, profile: IamInstanceProfile) -> list[IamRole]:
    stmt = (
        select(IamRole)
        .join(IamInstanceProfileRole, IamInstanceProfileRole.role_id == IamRole.id)
        .where(IamInstanceProfileRole.profile_id == profile.id)
    )
    return list(s.scalars(stmt))


def create_instance_profile(s: Session, scope: Scope, params: dict[str, Any]) -> dict[str, Any]:
    name = PROFILES.check_name(params.get("InstanceProfileName"))
    path = check_path(params.get("Path"))
    profile = PROFILES.add(s, scope.account_id, name, path)
    return {"InstanceProfile": profile_out(profile, [])}


def get_instance_profile(s: Session, scope: Scope, params: dict[str, Any]) -> dict[str, Any]:
    profile = PROFILES.named(s, scope, params)
    return {"InstanceProfile": profile_out(profile, profile_roles(s, profile))}


def list_instance_profiles(s: Session, scope: Scope, params: dict[str, Any]) -> dict[str, Any]:
    rows, page = PROFILES.page(s, scope.account_id, params)
    profiles = [profile_out(p, profile_roles(s, p)) for p in rows]
    return {"InstanceProfiles": profiles, **page}


def delete_instance_profile(s: Session, scope: Scope, params: dict[str, Any]) -> dict[str, Any]:
    profile = PROFILES.named(s, scope, params)
    if profile_roles(s, profile):
        raise delete_conflict(
            "Cannot delete entity, must remove roles from instance profile first."
        )
    s.delete(profile)
    return {}


def add_role_to_instance_profile(
    s: Session, scope: Scope, params: dict[str, Any]
) -> dict[str, Any]:
    profile = PROFILES.named(s, scope, params)
    role = ROLES.named(s, scope, params)
    if profile_roles(s, profile):
        raise limit_exceeded("Cannot exceed quota for InstanceSessionsPerInstanceProfile: 1")
    s.add(IamInstanceProfileRole(profile_id=profile.id, role_id=role.id))
    return {}


def remove_role_from_instance_profile(
    s: Session, scope: Scope, params: dict[str, Any]
) -> dict[str, Any]:
    profile = PROFILES.named(s, scope, params)
    role = ROLES.named(s, scope, params)
    link = s.get(IamInstanceProfileRole, (profile.id, role.id))
    if link is None:
        raise no_such_entity(f"Role {role.name} is not in instance profile {profile.name}.")
    s.delete(link)
    return {}


OPERATIONS: Operations = {
    "CreateInstanceProfile": writes(create_instance_profile),
    "GetInstanceProfile": reads(get_instance_profile),
    "ListInstanceProfiles": reads(list_instance_profiles),
    "DeleteInstanceProfile": writes(delete_instance_profile),
    "AddRoleToInstanceProfile": writes(add_role_to_instance_profile),
    "RemoveRoleFromInstanceProfile": writes(remove_role_from_instance_profile),
}
