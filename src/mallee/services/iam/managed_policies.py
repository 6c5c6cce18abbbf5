"""Managed policies: an account's own (customer managed) and the AWS managed ones every account
may use. Create/Get/Delete/ListPolicies, ListEntitiesForPolicy and policy tags; versions are in
policy_versions, attachments and permissions boundaries in attachments."""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import exists, func, or_, select
from sqlalchemy.orm import Session

from mallee.identity.arns import iam_arn
from mallee.identity.authz import denied
from mallee.identity.clock import aware, now
from mallee.identity.keys import new_id
from mallee.policy import PolicyKind
from mallee.services.base import Operations
from mallee.services.iam import tags
from mallee.services.iam.aws_managed import AWS_ACCOUNT
from mallee.services.iam.common import (
    POLICY_SIZE,
    check_description,
    check_name,
    check_path,
    check_path_prefix,
    decode_document,
    paginate,
    paginate_list,
    validate_document,
)
from mallee.services.iam.errors import (
    already_exists,
    delete_conflict,
    invalid_input,
    limit_exceeded,
    no_such_entity,
    validation,
)
from mallee.services.iam.policy_usage import (
    ENTITIES,
    attachment_counts,
    boundary_arns,
    boundary_counts,
    in_use,
    using_entities,
)
from mallee.services.iam.scope import Scope
from mallee.services.iam.transactions import reads, writes
from mallee.store.tables.iam import IamManagedPolicy, IamPolicyAttachment, IamPolicyVersion

POLICIES_QUOTA = 1500
# The operations that only read a policy: AWS managed policies are every account's to read.
READ_OPERATIONS = frozenset(
    {
        "GetPolicy",
        "GetPolicyVersion",
        "ListPolicyVersions",
        "ListEntitiesForPolicy",
        "ListPolicyTags",
    }
)

# arn:aws:iam::<12 digits or "aws">:policy<path><name>
_POLICY_ARN_RE = re.compile(r"arn:aws:iam::(\d{12}|aws):policy(/(?:[\x21-\x7e]*/)?)([\w+=,.@-]+)")


def check_policy_arn(value: Any) -> str:
    if not isinstance(value, str) or not _POLICY_ARN_RE.fullmatch(value):
        raise invalid_input(f"ARN {value} is not valid.")
    return value


def visible_policy(s: Session, scope: Scope, arn: Any, lock: bool = False) -> IamManagedPolicy:
    """The policy `arn` names, if the account may use it: one of its own or an AWS managed one
    (another account's is not attachable, as in AWS). `lock`: changes to it wait for ours."""
    arn = check_policy_arn(arn)
    stmt = select(IamManagedPolicy).where(
        IamManagedPolicy.arn == arn,
        or_(IamManagedPolicy.account_id == scope.account_id, IamManagedPolicy.account_id.is_(None)),
    )
    found = s.scalars(stmt.with_for_update() if lock else stmt).first()
    if found is None:
        raise no_such_entity(f"Policy {arn} does not exist or is not attachable.")
    return found


def own_policy(s: Session, scope: Scope, arn: Any, action: str) -> IamManagedPolicy:
    """The policy `arn` names, locked for a change: AWS managed policies are AWS's to change."""
    policy = visible_policy(s, scope, arn, lock=True)
    if policy.account_id is None:
        raise denied(scope.principal, f"iam:{action}", policy.arn)
    return policy


def owner_of(arn: str, caller_account: str, operation: str) -> str:
    """The account that owns a resource ARN, for authorization: an AWS managed policy is read
    as the caller's own and changed as AWS's (so no account may change one)."""
    parts = arn.split(":", 5)
    owner = parts[4] if len(parts) == 6 and parts[4] else caller_account
    if owner == AWS_ACCOUNT and operation in READ_OPERATIONS:
        return caller_account
    return owner


def managed_document(value: Any) -> str:
    """A managed policy document, checked: its size limit is spelt as a quota."""
    text = decode_document(value)
    limit = POLICY_SIZE["managed"]
    if len("".join(text.split())) > limit:
        raise limit_exceeded(f"Cannot exceed quota for PolicySize: {limit}")
    return validate_document(text, PolicyKind.IDENTITY, "managed", "policy")


# Views -------------------------------------------------------------------------------------


def policy_out(
    p: IamManagedPolicy, attachments: int, boundaries: int, detail: bool = False
) -> dict[str, Any]:
    """A Policy as IAM answers it; `detail` (GetPolicy) adds what listings leave out."""
    out: dict[str, Any] = {
        "PolicyName": p.name,
        "PolicyId": p.id,
        "Arn": p.arn,
        "Path": p.path,
        "DefaultVersionId": p.default_version,
        "AttachmentCount": attachments,
        "PermissionsBoundaryUsageCount": boundaries,
        "IsAttachable": True,
        "CreateDate": aware(p.created_at),
        "UpdateDate": aware(p.updated_at),
    }
    if detail and p.description is not None:
        out["Description"] = p.description
    return out


def _counted_out(s: Session, scope: Scope, p: IamManagedPolicy) -> dict[str, Any]:
    used = attachment_counts(s, scope.account_id, [p.id]).get(p.id, 0)
    bounded = boundary_counts(s, scope.account_id, [p.arn]).get(p.arn, 0)
    out = policy_out(p, used, bounded, detail=True)
    tag_items = tags.tag_list(s, p.id)
    if tag_items:
        out["Tags"] = tag_items
    return out


# Operations --------------------------------------------------------------------------------


def create_policy(s: Session, scope: Scope, params: dict[str, Any]) -> dict[str, Any]:
    name = check_name(params.get("PolicyName"), "policyName", 128)
    path = check_path(params.get("Path"))
    description = check_description(params.get("Description"))
    text = managed_document(params.get("PolicyDocument"))
    taken = select(IamManagedPolicy.id).where(
        IamManagedPolicy.account_id == scope.account_id,
        IamManagedPolicy.name_key == name.lower(),
    )
    if s.scalar(select(exists(taken))):
        raise already_exists(
            f"A policy called {name} already exists. Duplicate names are not allowed."
        )
    count = (
        s.scalar(select(func.count()).where(IamManagedPolicy.account_id == scope.account_id)) or 0
    )
    if count >= POLICIES_QUOTA:
        raise limit_exceeded(f"Cannot exceed quota for PoliciesPerAccount: {POLICIES_QUOTA}")
    moment = now()
    policy = IamManagedPolicy(
        id=new_id("ANPA"),
        account_id=scope.account_id,
        arn=iam_arn(scope.account_id, "policy", path, name),
        name=name,
        name_key=name.lower(),
        path=path,
        description=description,
        default_version="v1",
        next_version=2,
        created_at=moment,
        updated_at=moment,
    )
    s.add(policy)
    s.flush()
    s.add(IamPolicyVersion(policy_id=policy.id, version_id="v1", document=text, created_at=moment))
    out = policy_out(policy, 0, 0)
    if params.get("Tags"):
        tags.put_tags(s, policy.id, params["Tags"])
        out["Tags"] = tags.tag_list(s, policy.id)
    return {"Policy": out}


def get_policy(s: Session, scope: Scope, params: dict[str, Any]) -> dict[str, Any]:
    return {"Policy": _counted_out(s, scope, visible_policy(s, scope, params.get("PolicyArn")))}


def delete_policy(s: Session, scope: Scope, params: dict[str, Any]) -> dict[str, Any]:
    policy = own_policy(s, scope, params.get("PolicyArn"), "DeletePolicy")
    if in_use(s, scope.account_id, policy):
        raise delete_conflict("Cannot delete a policy attached to entities.")
    others = select(IamPolicyVersion.version_id).where(
        IamPolicyVersion.policy_id == policy.id,
        IamPolicyVersion.version_id != policy.default_version,
    )
    if s.scalar(select(exists(others))):
        raise delete_conflict(
            "This policy has more than one version. Before you delete a policy, you must delete "
            "the policy's versions. The default version is deleted with the policy."
        )
    tags.drop_all(s, policy.id)
    s.delete(policy)
    return {}


_SCOPES = {"All", "AWS", "Local"}
_USAGE = {"PermissionsPolicy", "PermissionsBoundary"}


def _enum(params: dict[str, Any], name: str, allowed: set[str], default: str | None) -> Any:
    value = params.get(name, default)
    if value is not None and value not in allowed:
        raise validation(
            f"1 validation error detected: Value '{value}' at '{name[0].lower() + name[1:]}' "
            f"failed to satisfy constraint: Member must satisfy enum value set: {sorted(allowed)}"
        )
    return value


def list_policies(s: Session, scope: Scope, params: dict[str, Any]) -> dict[str, Any]:
    where_scope = _enum(params, "Scope", _SCOPES, "All")
    usage = _enum(params, "PolicyUsageFilter", _USAGE, None)
    own = IamManagedPolicy.account_id == scope.account_id
    aws = IamManagedPolicy.account_id.is_(None)
    stmt = select(IamManagedPolicy).where(
        {"All": or_(own, aws), "AWS": aws, "Local": own}[where_scope]
    )
    prefix = check_path_prefix(params.get("PathPrefix"))
    if prefix:
        stmt = stmt.where(IamManagedPolicy.path.startswith(prefix, autoescape=True))
    if params.get("OnlyAttached"):
        attached = exists().where(
            IamPolicyAttachment.policy_id == IamManagedPolicy.id,
            IamPolicyAttachment.account_id == scope.account_id,
        )
        used = boundary_arns(scope.account_id)
        bounding = exists().where(used.c.arn == IamManagedPolicy.arn)
        if usage == "PermissionsPolicy":
            stmt = stmt.where(attached)
        elif usage == "PermissionsBoundary":
            stmt = stmt.where(bounding)
        else:
            stmt = stmt.where(or_(attached, bounding))
    rows, page = paginate(s, stmt, IamManagedPolicy.arn, params)
    used_by = attachment_counts(s, scope.account_id, [p.id for p in rows])
    bounds = boundary_counts(s, scope.account_id, [p.arn for p in rows])
    return {
        "Policies": [policy_out(p, used_by.get(p.id, 0), bounds.get(p.arn, 0)) for p in rows],
        **page,
    }


# Only users, groups and roles use a policy: the other two filters find nothing.
_ENTITY_FILTERS = {"User", "Role", "Group", "LocalManagedPolicy", "AWSManagedPolicy"}


def list_entities_for_policy(s: Session, scope: Scope, params: dict[str, Any]) -> dict[str, Any]:
    policy = visible_policy(s, scope, params.get("PolicyArn"))
    wanted = _enum(params, "EntityFilter", _ENTITY_FILTERS, None)
    usage = _enum(params, "PolicyUsageFilter", _USAGE, None)
    prefix = params.get("PathPrefix")
    found: list[tuple[str, Any]] = []
    for kind in ENTITIES:
        if wanted is not None and wanted != kind:
            continue
        found += [
            (kind, e)
            for e in using_entities(s, scope.account_id, policy, kind, usage)
            if not prefix or e.path.startswith(str(prefix))
        ]
    found.sort(key=lambda item: f"{item[0]}:{item[1].name_key}")
    shown, page = paginate_list(found, params, lambda item: f"{item[0]}:{item[1].name_key}")
    out: dict[str, Any] = {lists: [] for _, lists, _, _ in ENTITIES.values()}
    for kind, entity in shown:
        _, lists, name_member, id_member = ENTITIES[kind]
        out[lists].append({name_member: entity.name, id_member: entity.id})
    return {**out, **page}


# Tags --------------------------------------------------------------------------------------


def tag_policy(s: Session, scope: Scope, params: dict[str, Any]) -> dict[str, Any]:
    policy = own_policy(s, scope, params.get("PolicyArn"), "TagPolicy")
    tags.put_tags(s, policy.id, params.get("Tags"))
    return {}


def untag_policy(s: Session, scope: Scope, params: dict[str, Any]) -> dict[str, Any]:
    policy = own_policy(s, scope, params.get("PolicyArn"), "UntagPolicy")
    tags.remove_tags(s, policy.id, params.get("TagKeys"))
    return {}


def list_policy_tags(s: Session, scope: Scope, params: dict[str, Any]) -> dict[str, Any]:
    return tags.list_tags(s, visible_policy(s, scope, params.get("PolicyArn")).id, params)


OPERATIONS: Operations = {
    "CreatePolicy": writes(create_policy),
    "GetPolicy": reads(get_policy),
    "DeletePolicy": writes(delete_policy),
    "ListPolicies": reads(list_policies),
    "ListEntitiesForPolicy": reads(list_entities_for_policy),
    "TagPolicy": writes(tag_policy),
    "UntagPolicy": writes(untag_policy),
    "ListPolicyTags": reads(list_policy_tags),
}
