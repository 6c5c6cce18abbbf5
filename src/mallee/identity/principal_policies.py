"""The policies that apply to a principal, loaded from the store (cached by the Authorizer)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, and_, or_, select
from sqlalchemy.orm import InstrumentedAttribute, Session

from mallee.api.context import Principal
from mallee.identity.arns import iam_arn
from mallee.policy import Policy, PolicyError, PolicyKind, parse_policy
from mallee.store import Store
from mallee.store.tables.iam import (
    IamAccountPolicy,
    IamGroupMember,
    IamInlinePolicy,
    IamManagedPolicy,
    IamPolicyAttachment,
    IamPolicyVersion,
    IamRole,
    IamUser,
)


def safe_policy(text: str | None, kind: PolicyKind = PolicyKind.IDENTITY) -> Policy | None:
    """A stored document, parsed; one that no longer parses grants nothing (never crashes)."""
    if not text:
        return None
    try:
        return parse_policy(text, kind)
    except PolicyError:
        return None


@dataclass(frozen=True, slots=True)
class Identity:
    policies: tuple[Policy, ...]
    # ARNs by which a resource policy may name this principal specifically.
    arns: tuple[str, ...]
    # The permissions boundary of the user or role: None when it has none; empty when its
    # policy is gone or no longer parses, which allows nothing.
    boundary: tuple[Policy, ...] | None = None


def _applies(
    p: Principal, type_col: InstrumentedAttribute[str], id_col: InstrumentedAttribute[str]
) -> ColumnElement[bool] | None:
    """Rows owned by the principal: the role of a session, or a user and the user's groups."""
    if p.entity_id is None or p.kind == "root":
        return None
    if p.kind == "assumed-role":
        return and_(type_col == "role", id_col == p.entity_id)
    groups = select(IamGroupMember.group_id).where(IamGroupMember.user_id == p.entity_id)
    return or_(
        and_(type_col == "user", id_col == p.entity_id),
        and_(type_col == "group", id_col.in_(groups)),
    )


def load_identity(store: Store, p: Principal) -> Identity:
    arns: list[str] = [p.arn]
    docs: list[str] = []
    with store.read() as s:
        if p.kind == "assumed-role" and p.entity_id:
            role = s.get(IamRole, p.entity_id)
            if role is not None:
                arns.append(iam_arn(role.account_id, "role", role.path, role.name))
        own_inline = _applies(p, IamInlinePolicy.owner_type, IamInlinePolicy.owner_id)
        own_attached = _applies(p, IamPolicyAttachment.owner_type, IamPolicyAttachment.owner_id)
        if own_inline is not None and own_attached is not None:
            inline = select(IamInlinePolicy.document).where(own_inline)
            managed = (
                select(IamPolicyVersion.document)
                .join(IamManagedPolicy, IamManagedPolicy.id == IamPolicyVersion.policy_id)
                .join(IamPolicyAttachment, IamPolicyAttachment.policy_id == IamManagedPolicy.id)
                .where(
                    IamPolicyVersion.version_id == IamManagedPolicy.default_version,
                    own_attached,
                )
            )
            docs = list(s.scalars(inline.union_all(managed)))
        boundary = _boundary(s, p)
    policies = tuple(pol for pol in (safe_policy(d) for d in docs) if pol is not None)
    return Identity(policies, tuple(arns), boundary)


def _boundary(s: Session, p: Principal) -> tuple[Policy, ...] | None:
    """The default version of the policy bounding the principal's user or role, if any (the
    account's root has none)."""
    kinds: dict[str, Any] = {"user": IamUser, "assumed-role": IamRole}
    cls = kinds.get(p.kind)
    if cls is None or p.entity_id is None:
        return None
    arn = s.scalar(select(cls.permissions_boundary).where(cls.id == p.entity_id))
    if arn is None:
        return None
    document = s.scalar(
        select(IamPolicyVersion.document)
        .join(IamManagedPolicy, IamManagedPolicy.id == IamPolicyVersion.policy_id)
        .where(
            IamManagedPolicy.arn == arn,
            IamPolicyVersion.version_id == IamManagedPolicy.default_version,
        )
    )
    policy = safe_policy(document)
    return () if policy is None else (policy,)


def load_account_policies(store: Store, account_id: str) -> tuple[Policy, ...]:
    with store.read() as s:
        docs = list(
            s.scalars(
                select(IamAccountPolicy.document).where(IamAccountPolicy.account_id == account_id)
            )
        )
    policies = (safe_policy(d, PolicyKind.ACCOUNT) for d in docs)
    return tuple(pol for pol in policies if pol is not None)
