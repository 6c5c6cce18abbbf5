"""Versions of managed policies: Create/Get/Delete/ListPolicyVersions, SetDefaultPolicyVersion.

A policy keeps at most five versions; the default one is what the policy grants. Version ids
count up (v1, v2, ...) and are never reused, as IAM's.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from mallee.identity.clock import aware, now
from mallee.services.base import Operations
from mallee.services.iam.common import encode_document, paginate_list
from mallee.services.iam.errors import delete_conflict, limit_exceeded, no_such_entity
from mallee.services.iam.managed_policies import managed_document, own_policy, visible_policy
from mallee.services.iam.scope import Scope
from mallee.services.iam.transactions import reads, writes
from mallee.store.tables.iam import IamManagedPolicy, IamPolicyVersion

VERSIONS_QUOTA = 5


def _version_out(v: IamPolicyVersion, default: str, document: bool = False) -> dict[str, Any]:
    out: dict[str, Any] = {
        "VersionId": v.version_id,
        "IsDefaultVersion": v.version_id == default,
        "CreateDate": aware(v.created_at),
    }
    if document:
        out["Document"] = encode_document(v.document)
    return out


def _versions(s: Session, policy: IamManagedPolicy) -> list[IamPolicyVersion]:
    rows = s.scalars(select(IamPolicyVersion).where(IamPolicyVersion.policy_id == policy.id))
    return sorted(rows, key=_number)


def _number(v: IamPolicyVersion) -> int:
    digits = v.version_id[1:].split(".", 1)[0]
    return int(digits) if digits.isdigit() else 0


def _version_or_404(s: Session, policy: IamManagedPolicy, version_id: Any) -> IamPolicyVersion:
    found = s.get(IamPolicyVersion, (policy.id, str(version_id)))
    if found is None:
        raise no_such_entity(
            f"Policy {policy.arn} version {version_id} does not exist or is not attachable."
        )
    return found


def create_policy_version(s: Session, scope: Scope, params: dict[str, Any]) -> dict[str, Any]:
    policy = own_policy(s, scope, params.get("PolicyArn"), "CreatePolicyVersion")
    text = managed_document(params.get("PolicyDocument"))
    count = s.scalar(select(func.count()).where(IamPolicyVersion.policy_id == policy.id)) or 0
    if count >= VERSIONS_QUOTA:
        raise limit_exceeded(
            f"A managed policy can have up to {VERSIONS_QUOTA} versions. Before you create a "
            "new version, you must delete an existing version."
        )
    moment = now()
    version = IamPolicyVersion(
        policy_id=policy.id,
        version_id=f"v{policy.next_version}",
        document=text,
        created_at=moment,
    )
    s.add(version)
    policy.next_version += 1
    # UpdateDate: when the newest version was made.
    policy.updated_at = moment
    if params.get("SetAsDefault"):
        policy.default_version = version.version_id
    return {"PolicyVersion": _version_out(version, policy.default_version)}


def get_policy_version(s: Session, scope: Scope, params: dict[str, Any]) -> dict[str, Any]:
    policy = visible_policy(s, scope, params.get("PolicyArn"))
    version = _version_or_404(s, policy, params.get("VersionId"))
    return {"PolicyVersion": _version_out(version, policy.default_version, document=True)}


def list_policy_versions(s: Session, scope: Scope, params: dict[str, Any]) -> dict[str, Any]:
    policy = visible_policy(s, scope, params.get("PolicyArn"))
    shown, page = paginate_list(
        _versions(s, policy), params, lambda v: f"{_number(v):010d}:{v.version_id}"
    )
    return {"Versions": [_version_out(v, policy.default_version) for v in shown], **page}


def delete_policy_version(s: Session, scope: Scope, params: dict[str, Any]) -> dict[str, Any]:
    policy = own_policy(s, scope, params.get("PolicyArn"), "DeletePolicyVersion")
    version = _version_or_404(s, policy, params.get("VersionId"))
    if version.version_id == policy.default_version:
        raise delete_conflict("Cannot delete the default version of a policy.")
    s.delete(version)
    s.flush()
    remaining = _versions(s, policy)
    policy.updated_at = max(v.created_at for v in remaining)
    return {}


def set_default_policy_version(s: Session, scope: Scope, params: dict[str, Any]) -> dict[str, Any]:
    policy = own_policy(s, scope, params.get("PolicyArn"), "SetDefaultPolicyVersion")
    policy.default_version = _version_or_404(s, policy, params.get("VersionId")).version_id
    return {}


OPERATIONS: Operations = {
    "CreatePolicyVersion": writes(create_policy_version),
    "GetPolicyVersion": reads(get_policy_version),
    "ListPolicyVersions": reads(list_policy_versions),
    "DeletePolicyVersion": writes(delete_policy_version),
    "SetDefaultPolicyVersion": writes(set_default_policy_version),
}
