"""Users: create, read, update, delete, list; their groups and tags."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

from sqlalchemy import exists, select
from sqlalchemy.orm import Session

from mallee.identity.accounts import ADMIN_USER
from mallee.services.base import Operations
from mallee.services.iam import attachments, entities, tags
from mallee.services.iam.common import check_path, paginate
from mallee.services.iam.entities import USERS
from mallee.services.iam.errors import delete_conflict
from mallee.services.iam.lookups import target_user
from mallee.services.iam.scope import Scope
from mallee.services.iam.transactions import reads, writes
from mallee.services.iam.views import group_out, user_out
from mallee.store.tables.iam import (
    IamAccessKey,
    IamGroup,
    IamGroupMember,
    IamLoginProfile,
    IamUser,
)


def add_user(s: Session, account_id: str, name: str, path: str = "/") -> IamUser:
    return USERS.add(s, account_id, name, path)


def create_user(s: Session, scope: Scope, params: dict[str, Any]) -> dict[str, Any]:
    name = USERS.check_name(params.get("UserName"))
    path = check_path(params.get("Path"))
    user = add_user(s, scope.account_id, name, path)
    if params.get("PermissionsBoundary") is not None:
        attachments.set_boundary(s, scope, user, params["PermissionsBoundary"])
    if params.get("Tags"):
        tags.put_tags(s, user.id, params["Tags"])
    out = user_out(user) | attachments.boundary_out(user)
    if params.get("Tags"):
        out["Tags"] = tags.tag_list(s, user.id)
    return {"User": out}


def get_user(s: Session, scope: Scope, params: dict[str, Any]) -> dict[str, Any]:
    user = target_user(s, scope, params)
    out = user_out(user) | attachments.boundary_out(user)
    tag_items = tags.tag_list(s, user.id)
    if tag_items:
        out["Tags"] = tag_items
    return {"User": out}


def list_users(s: Session, scope: Scope, params: dict[str, Any]) -> dict[str, Any]:
    rows, page = USERS.page(s, scope.account_id, params)
    return {"Users": [user_out(u) for u in rows], **page}


def update_user(s: Session, scope: Scope, params: dict[str, Any]) -> dict[str, Any]:
    user = USERS.named(s, scope, params)
    new_name = params.get("NewUserName")
    if new_name is not None:
        USERS.check_name(new_name, "newUserName")
        if user.name_key == ADMIN_USER:
            raise delete_conflict("The account administrator cannot be renamed.")
    USERS.update(s, user, new_name, params.get("NewPath"), "newUserName")
    return {}


def _has(s: Session, stmt: Any) -> bool:
    return bool(s.scalar(select(exists(stmt))))


def delete_user(s: Session, scope: Scope, params: dict[str, Any]) -> dict[str, Any]:
    user = USERS.named(s, scope, params)
    if user.name_key == ADMIN_USER:
        raise delete_conflict("Cannot delete the account administrator (admin).")
    keys = select(IamAccessKey.id).where(IamAccessKey.user_id == user.id)
    login = select(IamLoginProfile.user_id).where(IamLoginProfile.user_id == user.id)
    # In IAM's order: what is left first is what the message names.
    checks: tuple[tuple[str, Callable[[], bool]], ...] = (
        ("access keys", lambda: _has(s, keys)),
        ("policies", lambda: USERS.has_policies(s, user)),
        ("login profile", lambda: _has(s, login)),
    )
    for what, left in checks:
        if left():
            raise delete_conflict(f"Cannot delete entity, must delete {what} first.")
    if _has(s, select(IamGroupMember.user_id).where(IamGroupMember.user_id == user.id)):
        raise delete_conflict("Cannot delete entity, must remove users from group first.")
    tags.drop_all(s, user.id)
    s.delete(user)
    return {}


def list_groups_for_user(s: Session, scope: Scope, params: dict[str, Any]) -> dict[str, Any]:
    user = USERS.named(s, scope, params)
    stmt = (
        select(IamGroup)
        .join(IamGroupMember, IamGroupMember.group_id == IamGroup.id)
        .where(IamGroupMember.user_id == user.id)
    )
    rows, page = paginate(s, stmt, IamGroup.name_key, params)
    return {"Groups": [group_out(g) for g in rows], **page}


OPERATIONS: Operations = {
    "CreateUser": writes(create_user),
    "GetUser": reads(get_user),
    "ListUsers": reads(list_users),
    "UpdateUser": writes(update_user),
    "DeleteUser": writes(delete_user),
    "ListGroupsForUser": reads(list_groups_for_user),
    "TagUser": writes(partial(entities.tag, USERS)),
    "UntagUser": writes(partial(entities.untag, USERS)),
    "ListUserTags": reads(partial(entities.list_tags, USERS)),
}
