"""Managed policies attached to users, groups and roles, and the permissions boundaries of
users and roles (Attach/Detach/ListAttached*Policies, Put/Delete*PermissionsBoundary)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from mallee.services.iam.common import (
    ADMIN_USER,
    check_path_prefix,
    invalid_input,
    limit_exceeded,
    no_such_entity,
    paginate,
)
from mallee.services.iam.lookups import Scope, group_or_404, role_or_404, user_or_404
from mallee.services.iam.managed_policies import check_policy_arn, visible_policy
from mallee.store.tables.iam import IamManagedPolicy, IamPolicyAttachment, IamRole, IamUser

# Managed policies attached to one user, group or role (AWS's default quota).
ATTACHED_QUOTA = 10

_Finder = Callable[[Session, str, Any], Any]
# owner type -> (name parameter, finder, quota name)
_OWNERS: dict[str, tuple[str, _Finder, str]] = {
    "user": ("UserName", user_or_404, "PoliciesPerUser"),
    "group": ("GroupName", group_or_404, "PoliciesPerGroup"),
    "role": ("RoleName", role_or_404, "PoliciesPerRole"),
}


def _owner(s: Session, scope: Scope, kind: str, params: dict[str, Any]) -> Any:
    param, finder, _ = _OWNERS[kind]
    return finder(s, scope.account_id, params.get(param))


def _of_owner(kind: str, owner_id: str) -> Any:
    return (IamPolicyAttachment.owner_type == kind, IamPolicyAttachment.owner_id == owner_id)


def attach_policy(s: Session, scope: Scope, kind: str, params: dict[str, Any]) -> dict[str, Any]:
    owner = _owner(s, scope, kind, params)
    policy = visible_policy(s, scope, params.get("PolicyArn"))
    if s.get(IamPolicyAttachment, (policy.id, kind, owner.id)) is not None:
        return {}
    count = s.scalar(select(func.count()).where(*_of_owner(kind, owner.id))) or 0
    if count >= ATTACHED_QUOTA:
        raise limit_exceeded(f"Cannot exceed quota for {_OWNERS[kind][2]}: {ATTACHED_QUOTA}")
    s.add(
        IamPolicyAttachment(
            policy_id=policy.id, owner_type=kind, owner_id=owner.id, account_id=scope.account_id
        )
    )
    return {}


def detach_policy(s: Session, scope: Scope, kind: str, params: dict[str, Any]) -> dict[str, Any]:
    owner = _owner(s, scope, kind, params)
    arn = check_policy_arn(params.get("PolicyArn"))
    found = s.scalars(
        select(IamPolicyAttachment)
        .join(IamManagedPolicy, IamManagedPolicy.id == IamPolicyAttachment.policy_id)
        .where(*_of_owner(kind, owner.id), IamManagedPolicy.arn == arn)
    ).first()
    if found is None:
        raise no_such_entity(f"Policy {arn} was not found.")
    s.delete(found)
    return {}


def list_attached(s: Session, scope: Scope, kind: str, params: dict[str, Any]) -> dict[str, Any]:
    owner = _owner(s, scope, kind, params)
    stmt = (
        select(IamManagedPolicy)
        .join(IamPolicyAttachment, IamPolicyAttachment.policy_id == IamManagedPolicy.id)
        .where(*_of_owner(kind, owner.id))
    )
    prefix = check_path_prefix(params.get("PathPrefix"))
    if prefix:
        stmt = stmt.where(IamManagedPolicy.path.startswith(prefix, autoescape=True))
    rows, page = paginate(s, stmt, IamManagedPolicy.arn, params)
    return {
        "AttachedPolicies": [{"PolicyName": p.name, "PolicyArn": p.arn} for p in rows],
        **page,
    }


# Permissions boundaries -----------------------------------------------------------------


def set_boundary(s: Session, scope: Scope, entity: IamUser | IamRole, arn: Any) -> None:
    """Bound `entity` by the managed policy `arn` (one of the account's or an AWS managed one)."""
    if isinstance(entity, IamUser) and entity.name_key == ADMIN_USER:
        # The account's administrator signs in as the account's root, which nothing bounds.
        raise invalid_input("The account administrator (admin) cannot have a permissions boundary.")
    entity.permissions_boundary = visible_policy(s, scope, arn).arn


def boundary_out(entity: IamUser | IamRole) -> dict[str, Any]:
    """The PermissionsBoundary member of a User or Role, when it has one."""
    if entity.permissions_boundary is None:
        return {}
    return {
        "PermissionsBoundary": {
            "PermissionsBoundaryType": "PermissionsBoundaryPolicy",
            "PermissionsBoundaryArn": entity.permissions_boundary,
        }
    }


def put_boundary(s: Session, scope: Scope, kind: str, params: dict[str, Any]) -> dict[str, Any]:
    set_boundary(s, scope, _owner(s, scope, kind, params), params.get("PermissionsBoundary"))
    return {}


def delete_boundary(s: Session, scope: Scope, kind: str, params: dict[str, Any]) -> dict[str, Any]:
    # Idempotent, as IAM's: an entity without a boundary is left as it is.
    _owner(s, scope, kind, params).permissions_boundary = None
    return {}
