"""How managed policies are used in an account: attached to users, groups and roles, and as
the permissions boundary of users and roles. An AWS managed policy is used in many accounts;
each account sees and counts only its own uses."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import exists, func, or_, select, union_all
from sqlalchemy.orm import Session

from mallee.store.tables.iam import (
    IamGroup,
    IamManagedPolicy,
    IamPolicyAttachment,
    IamRole,
    IamUser,
)

# entity kind -> (row class, response list, name member, id member), as ListEntitiesForPolicy
# answers them
ENTITIES: dict[str, tuple[Any, str, str, str]] = {
    "Group": (IamGroup, "PolicyGroups", "GroupName", "GroupId"),
    "Role": (IamRole, "PolicyRoles", "RoleName", "RoleId"),
    "User": (IamUser, "PolicyUsers", "UserName", "UserId"),
}


def attachment_counts(s: Session, account_id: str, policy_ids: Iterable[str]) -> dict[str, int]:
    rows = s.execute(
        select(IamPolicyAttachment.policy_id, func.count())
        .where(
            IamPolicyAttachment.account_id == account_id,
            IamPolicyAttachment.policy_id.in_(list(policy_ids)),
        )
        .group_by(IamPolicyAttachment.policy_id)
    )
    return {policy_id: count for policy_id, count in rows}


def boundary_arns(account_id: str) -> Any:
    """A subquery: the permissions boundary (column `arn`) of each user and role that has one."""
    users = select(IamUser.permissions_boundary.label("arn")).where(
        IamUser.account_id == account_id, IamUser.permissions_boundary.is_not(None)
    )
    roles = select(IamRole.permissions_boundary.label("arn")).where(
        IamRole.account_id == account_id, IamRole.permissions_boundary.is_not(None)
    )
    return union_all(users, roles).subquery()


def boundary_counts(s: Session, account_id: str, arns: Iterable[str]) -> dict[str, int]:
    used = boundary_arns(account_id)
    rows = s.execute(
        select(used.c.arn, func.count()).where(used.c.arn.in_(list(arns))).group_by(used.c.arn)
    )
    return {arn: count for arn, count in rows}


def in_use(s: Session, account_id: str, policy: IamManagedPolicy) -> bool:
    """Attached anywhere, or some user's or role's boundary."""
    attached = select(IamPolicyAttachment.policy_id).where(
        IamPolicyAttachment.policy_id == policy.id
    )
    used = boundary_arns(account_id)
    bounding = select(used.c.arn).where(used.c.arn == policy.arn)
    return bool(s.scalar(select(exists(attached)))) or bool(s.scalar(select(exists(bounding))))


def using_entities(
    s: Session, account_id: str, policy: IamManagedPolicy, kind: str, usage: str | None
) -> Sequence[Any]:
    """The account's entities of `kind` (Group, Role, User) that use the policy as `usage`
    says (PermissionsPolicy, PermissionsBoundary; None: either)."""
    cls = ENTITIES[kind][0]
    ways = []
    if usage in (None, "PermissionsPolicy"):
        ways.append(
            cls.id.in_(
                select(IamPolicyAttachment.owner_id).where(
                    IamPolicyAttachment.policy_id == policy.id,
                    IamPolicyAttachment.owner_type == kind.lower(),
                    IamPolicyAttachment.account_id == account_id,
                )
            )
        )
    if usage in (None, "PermissionsBoundary") and kind != "Group":
        ways.append(cls.permissions_boundary == policy.arn)
    if not ways:
        return []
    return s.scalars(select(cls).where(cls.account_id == account_id, or_(*ways))).all()
