"""Roles: trust policies, session duration, description, tags."""

from __future__ import annotations

from typing import Any

from sqlalchemy import exists, func, select
from sqlalchemy.orm import Session

from mallee.policy import PolicyKind, parse_policy
from mallee.services.iam import attachments, tags
from mallee.services.iam.common import (
    already_exists,
    check_name,
    check_path,
    check_path_prefix,
    delete_conflict,
    limit_exceeded,
    malformed,
    new_id,
    now,
    paginate,
    validate_document,
    validation,
)
from mallee.services.iam.lookups import Scope, role_or_404
from mallee.services.iam.views import profile_out, role_out
from mallee.store.tables.iam import (
    IamInlinePolicy,
    IamInstanceProfile,
    IamInstanceProfileRole,
    IamPolicyAttachment,
    IamRole,
)

ROLES_QUOTA = 1000


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


def _check_description(value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > 1000:
        raise validation("Description must be a string of at most 1000 characters.")
    return value


def _taken(s: Session, account_id: str, name: str) -> bool:
    stmt = select(IamRole.id).where(
        IamRole.account_id == account_id, IamRole.name_key == name.lower()
    )
    return s.scalars(stmt).first() is not None


def create_role(s: Session, scope: Scope, params: dict[str, Any]) -> dict[str, Any]:
    name = check_name(params.get("RoleName"), "roleName")
    path = check_path(params.get("Path"))
    trust = check_trust_policy(params.get("AssumeRolePolicyDocument"))
    duration = check_duration(params.get("MaxSessionDuration"))
    description = _check_description(params.get("Description"))
    if _taken(s, scope.account_id, name):
        raise already_exists(f"Role with name {name} already exists.")
    count = s.scalar(select(func.count()).where(IamRole.account_id == scope.account_id)) or 0
    if count >= ROLES_QUOTA:
        raise limit_exceeded(f"Cannot exceed quota for RolesPerAccount: {ROLES_QUOTA}")
    role = IamRole(
        id=new_id("AROA"),
        account_id=scope.account_id,
        name=name,
        name_key=name.lower(),
        path=path,
        created_at=now(),
        trust_policy=trust,
        description=description,
        max_session_duration=duration,
    )
    s.add(role)
    s.flush()
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
    return {"Role": _full(s, role_or_404(s, scope.account_id, params.get("RoleName")))}


def list_roles(s: Session, scope: Scope, params: dict[str, Any]) -> dict[str, Any]:
    stmt = select(IamRole).where(IamRole.account_id == scope.account_id)
    prefix = check_path_prefix(params.get("PathPrefix"))
    if prefix:
        stmt = stmt.where(IamRole.path.startswith(prefix, autoescape=True))
    rows, page = paginate(s, stmt, IamRole.name_key, params)
    return {"Roles": [role_out(r) for r in rows], **page}


def update_role(s: Session, scope: Scope, params: dict[str, Any]) -> dict[str, Any]:
    role = role_or_404(s, scope.account_id, params.get("RoleName"))
    if params.get("Description") is not None:
        role.description = _check_description(params["Description"])
    if params.get("MaxSessionDuration") is not None:
        role.max_session_duration = check_duration(params["MaxSessionDuration"])
    return {}


def update_role_description(s: Session, scope: Scope, params: dict[str, Any]) -> dict[str, Any]:
    role = role_or_404(s, scope.account_id, params.get("RoleName"))
    role.description = _check_description(params.get("Description"))
    return {"Role": _full(s, role)}


def update_assume_role_policy(s: Session, scope: Scope, params: dict[str, Any]) -> dict[str, Any]:
    role = role_or_404(s, scope.account_id, params.get("RoleName"))
    role.trust_policy = check_trust_policy(params.get("PolicyDocument"))
    return {}


def delete_role(s: Session, scope: Scope, params: dict[str, Any]) -> dict[str, Any]:
    role = role_or_404(s, scope.account_id, params.get("RoleName"))
    inline = select(IamInlinePolicy.id).where(
        IamInlinePolicy.owner_type == "role", IamInlinePolicy.owner_id == role.id
    )
    attached = select(IamPolicyAttachment.policy_id).where(
        IamPolicyAttachment.owner_type == "role", IamPolicyAttachment.owner_id == role.id
    )
    if s.scalar(select(exists(inline))) or s.scalar(select(exists(attached))):
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
    role = role_or_404(s, scope.account_id, params.get("RoleName"))
    stmt = (
        select(IamInstanceProfile)
        .join(IamInstanceProfileRole, IamInstanceProfileRole.profile_id == IamInstanceProfile.id)
        .where(IamInstanceProfileRole.role_id == role.id)
    )
    rows, page = paginate(s, stmt, IamInstanceProfile.name_key, params)
    return {"InstanceProfiles": [profile_out(p, [role]) for p in rows], **page}


def tag_role(s: Session, scope: Scope, params: dict[str, Any]) -> dict[str, Any]:
    role = role_or_404(s, scope.account_id, params.get("RoleName"))
    tags.put_tags(s, role.id, params.get("Tags"))
    return {}


def untag_role(s: Session, scope: Scope, params: dict[str, Any]) -> dict[str, Any]:
    role = role_or_404(s, scope.account_id, params.get("RoleName"))
    tags.remove_tags(s, role.id, params.get("TagKeys"))
    return {}


def list_role_tags(s: Session, scope: Scope, params: dict[str, Any]) -> dict[str, Any]:
    role = role_or_404(s, scope.account_id, params.get("RoleName"))
    return tags.list_tags(s, role.id, params)
