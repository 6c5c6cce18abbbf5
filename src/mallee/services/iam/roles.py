"""Roles: trust policies, session duration, description, tags."""

from __future__ import annotations

from functools import partial
from typing import Any

from sqlalchemy import exists, select
from sqlalchemy.orm import Session

from mallee.policy import PolicyKind, parse_policy
from mallee.services.base import Operations
from mallee.services.iam import attachments, entities, tags
from mallee.services.iam.common import check_description, check_path, paginate, validate_document
from mallee.services.iam.entities import ROLES
from mallee.services.iam.errors import delete_conflict, malformed, validation
from mallee.services.iam.scope import Scope
from mallee.services.iam.transactions import reads, writes
from mallee.services.iam.views import profile_out, role_out
from mallee.store.tables.iam import (
    IamInstanceProfile,
    IamInstanceProfileRole,
    IamRole,
)


def check_trust_policy(value: Any) -> str:
    text = validate_document(value, PolicyKind.TRUST, "role", "AssumeRolePolicyDocument")
    for stmt in parse_policy(text, PolicyKind.TRUST).statements:
        for action in stmt.actions or stmt.not_actions or ():
            if not action.lower().startswith("sts:") and action != "*":
                raise malformed("AssumeRole policy may only specify STS AssumeRole actions.")
    return text


def check_duration(value: Any) -> int:
    if value is None:
        return 3600
    if not isinstance(value, int) or not 3600 <= value <= 43200:
        raise validation(
            f"1 validation error detected: Value '{value}' at 'maxSessionDuration' failed to "
            "satisfy constraint: Member must have value less than or equal to 43200 and "
            "greater than or equal to 3600"
        )
    return value


def create_role(s: Session, scope: Scope, params: dict[str, Any]) -> dict[str, Any]:
    name = ROLES.check_name(params.get("RoleName"))
    path = check_path(params.get("Path"))
    trust = check_trust_policy(params.get("AssumeRolePolicyDocument"))
    duration = check_duration(params.get("MaxSessionDuration"))
    description = check_description(params.get("Description"))
    role = ROLES.add(
        s,
        scope.account_id,
        name,
        path,
        trust_policy=trust,
        description=description,
        max_session_duration=duration,
    )
    if params.get("PermissionsBoundary") is not None:
        attachments.set_boundary(s, scope, role, params["PermissionsBoundary"])
    if params.get("Tags"):
        tags.put_tags(s, role.id, params["Tags"])
    return {"Role": _full(s, role)}


def _full(s: Session, role: IamRole) -> dict[str, Any]:
    out = role_out(role) | attachments.boundary_out(role)
    tag_items = tags.tag_list(s, role.id)
    if tag_items:
        out["Tags"] = tag_items
    return out


def get_role(s: Session, scope: Scope, params: dict[str, Any]) -> dict[str, Any]:
    return {"Role": _full(s, ROLES.named(s, scope, params))}


def list_roles(s: Session, scope: Scope, params: dict[str, Any]) -> dict[str, Any]:
    rows, page = ROLES.page(s, scope.account_id, params)
    return {"Roles": [role_out(r) for r in rows], **page}


def update_role(s: Session, scope: Scope, params: dict[str, Any]) -> dict[str, Any]:
    role = ROLES.named(s, scope, params)
    if params.get("Description") is not None:
        role.description = check_description(params["Description"])
    if params.get("MaxSessionDuration") is not None:
        role.max_session_duration = check_duration(params["MaxSessionDuration"])
    return {}


def update_role_description(s: Session, scope: Scope, params: dict[str, Any]) -> dict[str, Any]:
    role = ROLES.named(s, scope, params)
    role.description = check_description(params.get("Description"))
    return {"Role": _full(s, role)}


def update_assume_role_policy(s: Session, scope: Scope, params: dict[str, Any]) -> dict[str, Any]:
    role = ROLES.named(s, scope, params)
    role.trust_policy = check_trust_policy(params.get("PolicyDocument"))
    return {}


def delete_role(s: Session, scope: Scope, params: dict[str, Any]) -> dict[str, Any]:
    role = ROLES.named(s, scope, params)
    if ROLES.has_policies(s, role):
        raise delete_conflict("Cannot delete entity, must detach all policies first.")
    in_profile = select(IamInstanceProfileRole.role_id).where(
        IamInstanceProfileRole.role_id == role.id
    )
    if s.scalar(select(exists(in_profile))):
        raise delete_conflict(
            "Cannot delete entity, must remove roles from instance profile first."
        )
    tags.drop_all(s, role.id)
    s.delete(role)
    return {}


def list_instance_profiles_for_role(
    s: Session, scope: Scope, params: dict[str, Any]
) -> dict[str, Any]:
    role = ROLES.named(s, scope, params)
    stmt = (
        select(IamInstanceProfile)
        .join(IamInstanceProfileRole, IamInstanceProfileRole.profile_id == IamInstanceProfile.id)
        .where(IamInstanceProfileRole.role_id == role.id)
    )
    rows, page = paginate(s, stmt, IamInstanceProfile.name_key, params)
    return {"InstanceProfiles": [profile_out(p, [role]) for p in rows], **page}


OPERATIONS: Operations = {
    "CreateRole": writes(create_role),
    "GetRole": reads(get_role),
    "ListRoles": reads(list_roles),
    "UpdateRole": writes(update_role),
    "UpdateRoleDescription": writes(update_role_description),
    "UpdateAssumeRolePolicy": writes(update_assume_role_policy),
    "DeleteRole": writes(delete_role),
    "TagRole": writes(partial(entities.tag, ROLES)),
    "UntagRole": writes(partial(entities.untag, ROLES)),
    "ListRoleTags": reads(partial(entities.list_tags, ROLES)),
    "ListInstanceProfilesForRole": reads(list_instance_profiles_for_role),
}
