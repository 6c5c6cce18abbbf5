"""Users: create, read, update, delete, list; their groups and tags."""

from __future__ import annotations

from typing import Any

from sqlalchemy import exists, func, select
from sqlalchemy.orm import Session

from mallee.services.iam import attachments, tags
from mallee.services.iam.common import (
    ADMIN_USER,
    already_exists,
    check_name,
    check_path,
    check_path_prefix,
    delete_conflict,
    limit_exceeded,
    new_id,
    now,
    paginate,
)
from mallee.services.iam.lookups import Scope, target_user, user_or_404
from mallee.services.iam.views import group_out, user_out
from mallee.store.tables.iam import (
    IamAccessKey,
    IamGroup,
    IamGroupMember,
    IamInlinePolicy,
    IamLoginProfile,
    IamPolicyAttachment,
    IamUser,
)

USERS_QUOTA = 5000


def _name_taken(s: Session, account_id: str, name: str, ignore: str | None = None) -> bool:
    stmt = select(IamUser.id).where(
        IamUser.account_id == account_id, IamUser.name_key == name.lower()
    )
    found = s.scalars(stmt).first()
    return found is not None and found != ignore


def add_user(s: Session, account_id: str, name: str, path: str = "/") -> IamUser:
    if _name_taken(s, account_id, name):
        raise already_exists(f"User with name {name} already exists.")
    count = s.scalar(select(func.count()).where(IamUser.account_id == account_id)) or 0
    if count >= USERS_QUOTA:
        raise limit_exceeded(f"Cannot exceed quota for UsersPerAccount: {USERS_QUOTA}")
    user = IamUser(
        id=new_id("AIDA"),
        account_id=account_id,
        name=name,
        name_key=name.lower(),
        path=path,
        created_at=now(),
    )
    s.add(user)
    s.flush()
    return user


def create_user(s: Session, scope: Scope, params: dict[str, Any]) -> dict[str, Any]:
    name = check_name(params.get("UserName"), "userName")
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
    stmt = select(IamUser).where(IamUser.account_id == scope.account_id)
    prefix = check_path_prefix(params.get("PathPrefix"))
    if prefix:
        stmt = stmt.where(IamUser.path.startswith(prefix, autoescape=True))
    rows, page = paginate(s, stmt, IamUser.name_key, params)
    return {"Users": [user_out(u) for u in rows], **page}


def update_user(s: Session, scope: Scope, params: dict[str, Any]) -> dict[str, Any]:
    user = user_or_404(s, scope.account_id, params.get("UserName"))
    new_name = params.get("NewUserName")
    if new_name is not None:
        check_name(new_name, "newUserName")
        if user.name_key == ADMIN_USER:
            raise delete_conflict("The account administrator cannot be renamed.")
        if _name_taken(s, scope.account_id, new_name, ignore=user.id):
            raise already_exists(f"User with name {new_name} already exists.")
        user.name, user.name_key = new_name, new_name.lower()
    if params.get("NewPath") is not None:
        user.path = check_path(params["NewPath"], "newPath")
    return {}


def _has(s: Session, stmt: Any) -> bool:
    return bool(s.scalar(select(exists(stmt))))


def delete_user(s: Session, scope: Scope, params: dict[str, Any]) -> dict[str, Any]:
    user = user_or_404(s, scope.account_id, params.get("UserName"))
    if user.name_key == ADMIN_USER:
        raise delete_conflict("Cannot delete the account administrator (admin).")
    checks = (
        (select(IamAccessKey.id).where(IamAccessKey.user_id == user.id), "access keys"),
        (
            select(IamInlinePolicy.id).where(
                IamInlinePolicy.owner_type == "user", IamInlinePolicy.owner_id == user.id
            ),
            "policies",
        ),
        (
            select(IamPolicyAttachment.policy_id).where(
                IamPolicyAttachment.owner_type == "user", IamPolicyAttachment.owner_id == user.id
            ),
            "policies",
        ),
        (
            select(IamLoginProfile.user_id).where(IamLoginProfile.user_id == user.id),
            "login profile",
        ),
    )
    for stmt, what in checks:
        if _has(s, stmt):
            raise delete_conflict(f"Cannot delete entity, must delete {what} first.")
    if _has(s, select(IamGroupMember.user_id).where(IamGroupMember.user_id == user.id)):
        raise delete_conflict("Cannot delete entity, must remove users from group first.")
    tags.drop_all(s, user.id)
    s.delete(user)
    return {}


def list_groups_for_user(s: Session, scope: Scope, params: dict[str, Any]) -> dict[str, Any]:
    user = user_or_404(s, scope.account_id, params.get("UserName"))
    stmt = (
        select(IamGroup)
        .join(IamGroupMember, IamGroupMember.group_id == IamGroup.id)
        .where(IamGroupMember.user_id == user.id)
    )
    rows, page = paginate(s, stmt, IamGroup.name_key, params)
    return {"Groups": [group_out(g) for g in rows], **page}


def tag_user(s: Session, scope: Scope, params: dict[str, Any]) -> dict[str, Any]:
    user = user_or_404(s, scope.account_id, params.get("UserName"))
    tags.put_tags(s, user.id, params.get("Tags"))
    return {}


def untag_user(s: Session, scope: Scope, params: dict[str, Any]) -> dict[str, Any]:
    user = user_or_404(s, scope.account_id, params.get("UserName"))
    tags.remove_tags(s, user.id, params.get("TagKeys"))
    return {}


def list_user_tags(s: Session, scope: Scope, params: dict[str, Any]) -> dict[str, Any]:
    user = user_or_404(s, scope.account_id, params.get("UserName"))
    return tags.list_tags(s, user.id, params)
