"""Groups and their membership."""

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
from mallee.services.iam.lookups import Scope, group_or_404, user_or_404
from mallee.services.iam.views import group_out, user_out
from mallee.store.tables.iam import (
    IamGroup,
    IamGroupMember,
    IamInlinePolicy,
    IamPolicyAttachment,
    IamUser,
)

GROUPS_QUOTA = 300
GROUPS_PER_USER = 10


def _taken(s: Session, account_id: str, name: str, ignore: str | None = None) -> bool:
    found = s.scalars(
        select(IamGroup.id).where(
            IamGroup.account_id == account_id, IamGroup.name_key == name.lower()
        )
    ).first()
    return found is not None and found != ignore


def create_group(s: Session, scope: Scope, params: dict[str, Any]) -> dict[str, Any]:
    name = check_name(params.get("GroupName"), "groupName", 128)
    path = check_path(params.get("Path"))
    if _taken(s, scope.account_id, name):
        raise already_exists(f"Group with name {name} already exists.")
    count = s.scalar(select(func.count()).where(IamGroup.account_id == scope.account_id)) or 0
    if count >= GROUPS_QUOTA:
        raise limit_exceeded(f"Cannot exceed quota for GroupsPerAccount: {GROUPS_QUOTA}")
    group = IamGroup(
        id=new_id("AGPA"),
        account_id=scope.account_id,
        name=name,
        name_key=name.lower(),
        path=path,
        created_at=now(),
    )
    s.add(group)
    s.flush()
    return {"Group": group_out(group)}


def get_group(s: Session, scope: Scope, params: dict[str, Any]) -> dict[str, Any]:
    group = group_or_404(s, scope.account_id, params.get("GroupName"))
    stmt = (
        select(IamUser)
        .join(IamGroupMember, IamGroupMember.user_id == IamUser.id)
        .where(IamGroupMember.group_id == group.id)
    )
    rows, page = paginate(s, stmt, IamUser.name_key, params)
    return {"Group": group_out(group), "Users": [user_out(u) for u in rows], **page}


def list_groups(s: Session, scope: Scope, params: dict[str, Any]) -> dict[str, Any]:
    stmt = select(IamGroup).where(IamGroup.account_id == scope.account_id)
    prefix = check_path_prefix(params.get("PathPrefix"))
    if prefix:
        stmt = stmt.where(IamGroup.path.startswith(prefix, autoescape=True))
    rows, page = paginate(s, stmt, IamGroup.name_key, params)
    return {"Groups": [group_out(g) for g in rows], **page}


def update_group(s: Session, scope: Scope, params: dict[str, Any]) -> dict[str, Any]:
    group = group_or_404(s, scope.account_id, params.get("GroupName"))
    new_name = params.get("NewGroupName")
    if new_name is not None:
        check_name(new_name, "newGroupName", 128)
        if _taken(s, scope.account_id, new_name, ignore=group.id):
            raise already_exists(f"Group with name {new_name} already exists.")
        group.name, group.name_key = new_name, new_name.lower()
    if params.get("NewPath") is not None:
        group.path = check_path(params["NewPath"], "newPath")
    return {}


def delete_group(s: Session, scope: Scope, params: dict[str, Any]) -> dict[str, Any]:
    group = group_or_404(s, scope.account_id, params.get("GroupName"))
    members = select(IamGroupMember.user_id).where(IamGroupMember.group_id == group.id)
    if s.scalar(select(exists(members))):
        raise delete_conflict("Cannot delete entity, must remove users from group first.")
    inline = select(IamInlinePolicy.id).where(
        IamInlinePolicy.owner_type == "group", IamInlinePolicy.owner_id == group.id
    )
    attached = select(IamPolicyAttachment.policy_id).where(
        IamPolicyAttachment.owner_type == "group", IamPolicyAttachment.owner_id == group.id
    )
    if s.scalar(select(exists(inline))) or s.scalar(select(exists(attached))):
        raise delete_conflict("Cannot delete entity, must delete policies first.")
    s.delete(group)
    return {}


def add_user_to_group(s: Session, scope: Scope, params: dict[str, Any]) -> dict[str, Any]:
    group = group_or_404(s, scope.account_id, params.get("GroupName"))
    user = user_or_404(s, scope.account_id, params.get("UserName"))
    if s.get(IamGroupMember, (group.id, user.id)) is not None:
        return {}
    count = s.scalar(select(func.count()).where(IamGroupMember.user_id == user.id)) or 0
    if count >= GROUPS_PER_USER:
        raise limit_exceeded(f"Cannot exceed quota for GroupsPerUser: {GROUPS_PER_USER}")
    s.add(IamGroupMember(group_id=group.id, user_id=user.id))
    return {}


def remove_user_from_group(s: Session, scope: Scope, params: dict[str, Any]) -> dict[str, Any]:
    group = group_or_404(s, scope.account_id, params.get("GroupName"))
    user = user_or_404(s, scope.account_id, params.get("UserName"))
    member = s.get(IamGroupMember, (group.id, user.id))
    if member is None:
        raise no_such_entity(f"User {user.name} is not in group {group.name}.")
    s.delete(member)
    return {}
