"""Inline policies of users, groups and roles (Put/Get/List/Delete*Policy)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from mallee.policy import PolicyKind
from mallee.services.iam.common import (
    check_name,
    encode_document,
    no_such_entity,
    paginate,
    validate_document,
)
from mallee.services.iam.lookups import Scope, group_or_404, role_or_404, user_or_404
from mallee.store.tables.iam import IamInlinePolicy

# owner type -> (name parameter, finder returning (id, name) of the owner)
_Finder = Callable[[Session, str, Any], Any]
_OWNERS: dict[str, tuple[str, _Finder]] = {
    "user": ("UserName", user_or_404),
    "group": ("GroupName", group_or_404),
    "role": ("RoleName", role_or_404),
}


def _owner(s: Session, scope: Scope, kind: str, params: dict[str, Any]) -> tuple[str, str]:
    param, finder = _OWNERS[kind]
    entity = finder(s, scope.account_id, params.get(param))
    return str(entity.id), str(entity.name)


def _find(s: Session, kind: str, owner_id: str, name: Any) -> IamInlinePolicy | None:
    return s.scalars(
        select(IamInlinePolicy).where(
            IamInlinePolicy.owner_type == kind,
            IamInlinePolicy.owner_id == owner_id,
            IamInlinePolicy.name == str(name),
        )
    ).first()


def put_policy(s: Session, scope: Scope, kind: str, params: dict[str, Any]) -> dict[str, Any]:
    owner_id, owner_name = _owner(s, scope, kind, params)
    name = check_name(params.get("PolicyName"), "policyName", 128)
    text = validate_document(
        params.get("PolicyDocument"), PolicyKind.IDENTITY, kind, f"{kind} {owner_name}"
    )
    found = _find(s, kind, owner_id, name)
    if found is None:
        s.add(
            IamInlinePolicy(
                account_id=scope.account_id,
                owner_type=kind,
                owner_id=owner_id,
                name=name,
                document=text,
            )
        )
    else:
        found.document = text
    return {}


def get_policy(s: Session, scope: Scope, kind: str, params: dict[str, Any]) -> dict[str, Any]:
    owner_id, owner_name = _owner(s, scope, kind, params)
    name = params.get("PolicyName")
    found = _find(s, kind, owner_id, name)
    if found is None:
        raise no_such_entity(f"The {kind} policy with name {name} cannot be found.")
    param = _OWNERS[kind][0]
    return {
        param: owner_name,
        "PolicyName": found.name,
        "PolicyDocument": encode_document(found.document),
    }


def list_policies(s: Session, scope: Scope, kind: str, params: dict[str, Any]) -> dict[str, Any]:
    owner_id, _ = _owner(s, scope, kind, params)
    stmt = select(IamInlinePolicy).where(
        IamInlinePolicy.owner_type == kind, IamInlinePolicy.owner_id == owner_id
    )
    rows, page = paginate(s, stmt, IamInlinePolicy.name, params)
    return {"PolicyNames": [p.name for p in rows], **page}


def delete_policy(s: Session, scope: Scope, kind: str, params: dict[str, Any]) -> dict[str, Any]:
    owner_id, _ = _owner(s, scope, kind, params)
    name = params.get("PolicyName")
    found = _find(s, kind, owner_id, name)
    if found is None:
        raise no_such_entity(f"The {kind} policy with name {name} cannot be found.")
    s.delete(found)
    return {}
