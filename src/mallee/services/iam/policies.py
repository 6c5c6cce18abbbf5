"""Inline policies of users, groups and roles (Put/Get/List/Delete*Policy)."""

from __future__ import annotations

from functools import partial
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from mallee.policy import PolicyKind
from mallee.services.base import Operations
from mallee.services.iam.common import check_name, encode_document, paginate, validate_document
from mallee.services.iam.entities import GROUPS, ROLES, USERS, EntityKind
from mallee.services.iam.errors import no_such_entity
from mallee.services.iam.scope import Scope
from mallee.services.iam.transactions import writes
from mallee.store.tables.iam import IamInlinePolicy

Owner = EntityKind[Any]


def _find(s: Session, kind: str, owner_id: str, name: Any) -> IamInlinePolicy | None:
    return s.scalars(
        select(IamInlinePolicy).where(
            IamInlinePolicy.owner_type == kind,
            IamInlinePolicy.owner_id == owner_id,
            IamInlinePolicy.name == str(name),
        )
    ).first()


def put_policy(owner: Owner, s: Session, scope: Scope, params: dict[str, Any]) -> dict[str, Any]:
    entity = owner.named(s, scope, params)
    kind, owner_id, owner_name = owner.arn_kind, entity.id, entity.name
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


def get_policy(owner: Owner, s: Session, scope: Scope, params: dict[str, Any]) -> dict[str, Any]:
    entity = owner.named(s, scope, params)
    kind, owner_id, owner_name = owner.arn_kind, entity.id, entity.name
    name = params.get("PolicyName")
    found = _find(s, kind, owner_id, name)
    if found is None:
        raise no_such_entity(f"The {kind} policy with name {name} cannot be found.")
    return {
        owner.name_param: owner_name,
        "PolicyName": found.name,
        "PolicyDocument": encode_document(found.document),
    }


def list_policies(owner: Owner, s: Session, scope: Scope, params: dict[str, Any]) -> dict[str, Any]:
    kind, owner_id = owner.arn_kind, owner.named(s, scope, params).id
    stmt = select(IamInlinePolicy).where(
        IamInlinePolicy.owner_type == kind, IamInlinePolicy.owner_id == owner_id
    )
    rows, page = paginate(s, stmt, IamInlinePolicy.name, params)
    return {"PolicyNames": [p.name for p in rows], **page}


def delete_policy(owner: Owner, s: Session, scope: Scope, params: dict[str, Any]) -> dict[str, Any]:
    kind, owner_id = owner.arn_kind, owner.named(s, scope, params).id
    name = params.get("PolicyName")
    found = _find(s, kind, owner_id, name)
    if found is None:
        raise no_such_entity(f"The {kind} policy with name {name} cannot be found.")
    s.delete(found)
    return {}


OPERATIONS: Operations = {
    "PutUserPolicy": writes(partial(put_policy, USERS)),
    "GetUserPolicy": writes(partial(get_policy, USERS)),
    "ListUserPolicies": writes(partial(list_policies, USERS)),
    "DeleteUserPolicy": writes(partial(delete_policy, USERS)),
    "PutGroupPolicy": writes(partial(put_policy, GROUPS)),
    "GetGroupPolicy": writes(partial(get_policy, GROUPS)),
    "ListGroupPolicies": writes(partial(list_policies, GROUPS)),
    "DeleteGroupPolicy": writes(partial(delete_policy, GROUPS)),
    "PutRolePolicy": writes(partial(put_policy, ROLES)),
    "GetRolePolicy": writes(partial(get_policy, ROLES)),
    "ListRolePolicies": writes(partial(list_policies, ROLES)),
    "DeleteRolePolicy": writes(partial(delete_policy, ROLES)),
}
