"""Groups and their membership."""

from __future__ import annotations

from typing import Any

from sqlalchemy import exists, func, select
from sqlalchemy.orm import Session

from mallee.services.base import Operations
from mallee.services.iam.common import check_path, paginate
from mallee.services.iam.entities import GROUPS, USERS
from mallee.services.iam.errors import delete_conflict, limit_exceeded, no_such_entity
from mallee.services.iam.scope import Scope
from mallee.services.iam.transactions import reads, writes
from mallee.services.iam.views import group_out, user_out
from mallee.store.tables.iam import IamGroupMember, IamUser

GROUPS_PER_USER = 10


def create_group(s: Session, scope: Scope, params: dict[str, Any]) -> dict[str, Any]:
    name = GROUPS.check_name(params.get("GroupName"))
    path = check_path(params.get("Path"))
    return {"Group": group_out(GROUPS.add(s, scope.account_id, name, path))}


def get_group(s: Session, scope: Scope, params: dict[str, Any]) -> dict[str, Any]:
    group = GROUPS.named(s, scope, params)
    stmt = (
        select(IamUser)
        .join(IamGroupMember, IamGroupMember.user_id == IamUser.id)
        .where(IamGroupMember.group_id == group.id)
    )
    rows, page = paginate(s, stmt, IamUser.name_key, params)
    return {"Group": group_out(group), "Users": [user_out(u) for u in rows], **page}


def list_groups(s: Session, scope: Scope, params: dict[str, Any]) -> dict[str, Any]:
    rows, page = GROUPS.page(s, scope.account_id, params)
    return {"Groups": [group_out(g) for g in rows], **page}


def update_group(s: Session, scope: Scope, params: dict[str, Any]) -> dict[str, Any]:
    group = GROUPS.named(s, scope, params)
    GROUPS.update(s, group, params.get("NewGroupName"), params.get("NewPath"), "newGroupName")
    return {}


def delete_group(s: Session, scope: Scope, params: dict[str, Any]) -> dict[str, Any]:
    group = GROUPS.named(s, scope, params)
    members = select(IamGroupMember.user_id).where(IamGroupMember.group_id == group.id)
    if s.scalar(select(exists(members))):
        raise delete_conflict("Cannot delete entity, must remove users from group first.")
    if GROUPS.has_policies(s, group):
        raise delete_conflict("Cannot delete entity, must delete policies first.")
    s.delete(group)
    return {}


def add_user_to_group(s: Session, scope: Scope, params: dict[str, Any]) -> dict[str, Any]:
    group = GROUPS.named(s, scope, params)
    user = USERS.named(s, scope, params)
    if s.get(IamGroupMember, (group.id, user.id)) is not None:
        return {}
    count = s.scalar(select(func.count()).where(IamGroupMember.user_id == user.id)) or 0
    if count >= GROUPS_PER_USER:
        raise limit_exceeded(f"Cannot exceed quota for GroupsPerUser: {GROUPS_PER_USER}")
    s.add(IamGroupMember(group_id=group.id, user_id=user.id))
    return {}


def remove_user_from_group(s: Session, scope: Scope, params: dict[str, Any]) -> dict[str, Any]:
    group = GROUPS.named(s, scope, params)
    user = USERS.named(s, scope, params)
    member = s.get(IamGroupMember, (group.id, user.id))
    if member is None:
        raise no_such_entity(f"User {user.name} is not in group {group.name}.")
    s.delete(member)
    return {}


OPERATIONS: Operations = {
    "CreateGroup": writes(create_group),
    "GetGroup": reads(get_group),
    "ListGroups": reads(list_groups),
    "UpdateGroup": writes(update_group),
    "DeleteGroup": writes(delete_group),
    "AddUserToGroup": writes(add_user_to_group),
    "RemoveUserFromGroup": writes(remove_user_from_group),
}
