"""Managed policies attached to users, groups and roles, and the permissions boundaries of
users and roles (Attach/Detach/ListAttached*Policies, Put/Delete*PermissionsBoundary)."""

from __future__ import annotations

from functools import partial
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from mallee.identity.accounts import ADMIN_USER
from mallee.services.base import Operations
from mallee.services.iam.common import check_path_prefix, paginate
from mallee.services.iam.entities import GROUPS, ROLES, USERS, EntityKind
from mallee.services.iam.errors import invalid_input, limit_exceeded, no_such_entity
from mallee.services.iam.managed_policies import check_policy_arn, visible_policy
from mallee.services.iam.scope import Scope
from mallee.services.iam.transactions import reads, writes
from mallee.store.tables.iam import IamManagedPolicy, IamPolicyAttachment, IamRole, IamUser

# Managed policies attached to one user, group or role (AWS's default quota).
ATTACHED_QUOTA = 10

Owner = EntityKind[Any]


def _of_owner(kind: str, owner_id: str) -> Any:
    return (IamPolicyAttachment.owner_type == kind, IamPolicyAttachment.owner_id == owner_id)


def attach_policy(
    owner_kind: Owner, s: Session, scope: Scope, params: dict[str, Any]
) -> dict[str, Any]:
    kind, owner = owner_kind.arn_kind, owner_kind.named(s, scope, params)
    policy = visible_policy(s, scope, params.get("PolicyArn"))
    if s.get(IamPolicyAttachment, (policy.id, kind, owner.id)) is not None:
        return {}
    count = s.scalar(select(func.count()).where(*_of_owner(kind, owner.id))) or 0
    if count >= ATTACHED_QUOTA:
        raise limit_exceeded(
            f"Cannot exceed quota for PoliciesPer{owner_kind.title}: {ATTACHED_QUOTA}"
        )
    s.add(
        IamPolicyAttachment(
            policy_id=policy.id, owner_type=kind, owner_id=owner.id, account_id=scope.account_id
        )
    )
    return {}


def detach_policy(
    owner_kind: Owner, s: Session, scope: Scope, params: dict[str, Any]
) -> dict[str, Any]:
    kind, owner = owner_kind.arn_kind, owner_kind.named(s, scope, params)
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


def list_attached(
    owner_kind: Owner, s: Session, scope: Scope, params: dict[str, Any]
) -> dict[str, Any]:
    kind, owner = owner_kind.arn_kind, owner_kind.named(s, scope, params)
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


def put_boundary(
    owner_kind: Owner, s: Session, scope: Scope, params: dict[str, Any]
) -> dict[str, Any]:
    set_boundary(s, scope, owner_kind.named(s, scope, params), params.get("PermissionsBoundary"))
    return {}


def delete_boundary(
    owner_kind: Owner, s: Session, scope: Scope, params: dict[str, Any]
) -> dict[str, Any]:
    # Idempotent, as IAM's: an entity without a boundary is left as it is.
    owner_kind.named(s, scope, params).permissions_boundary = None
    return {}


OPERATIONS: Operations = {
    "AttachUserPolicy": writes(partial(attach_policy, USERS)),
    "DetachUserPolicy": writes(partial(detach_policy, USERS)),
    "ListAttachedUserPolicies": reads(partial(list_attached, USERS)),
    "AttachGroupPolicy": writes(partial(attach_policy, GROUPS)),
    "DetachGroupPolicy": writes(partial(detach_policy, GROUPS)),
    "ListAttachedGroupPolicies": reads(partial(list_attached, GROUPS)),
    "AttachRolePolicy": writes(partial(attach_policy, ROLES)),
    "DetachRolePolicy": writes(partial(detach_policy, ROLES)),
    "ListAttachedRolePolicies": reads(partial(list_attached, ROLES)),
    "PutUserPermissionsBoundary": writes(partial(put_boundary, USERS)),
    "DeleteUserPermissionsBoundary": writes(partial(delete_boundary, USERS)),
    "PutRolePermissionsBoundary": writes(partial(put_boundary, ROLES)),
    "DeleteRolePermissionsBoundary": writes(partial(delete_boundary, ROLES)),
}
