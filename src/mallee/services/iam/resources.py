"""The ARN each IAM operation acts on, as IAM's authorization reference defines them."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from mallee.api.context import RequestContext
from mallee.api.errors import ServiceError
from mallee.identity.arns import iam_arn
from mallee.services.iam.entities import GROUPS, PROFILES, ROLES, USERS, EntityKind
from mallee.services.iam.lookups import target_user
from mallee.services.iam.scope import scope_for
from mallee.store import Store
from mallee.store.tables.iam import IamAccessKey, IamUser

_USER = (
    "CreateUser GetUser UpdateUser DeleteUser ListGroupsForUser CreateAccessKey ListAccessKeys "
    "UpdateAccessKey DeleteAccessKey CreateLoginProfile GetLoginProfile UpdateLoginProfile "
    "DeleteLoginProfile PutUserPolicy GetUserPolicy ListUserPolicies DeleteUserPolicy TagUser "
    "UntagUser ListUserTags AttachUserPolicy DetachUserPolicy ListAttachedUserPolicies "
    "ChangePassword PutUserPermissionsBoundary DeleteUserPermissionsBoundary ListSSHPublicKeys "
    "ListServiceSpecificCredentials ListMFADevices ListSigningCertificates"
)
_GROUP = (
    "CreateGroup GetGroup UpdateGroup DeleteGroup AddUserToGroup RemoveUserFromGroup "
    "PutGroupPolicy GetGroupPolicy ListGroupPolicies DeleteGroupPolicy AttachGroupPolicy "
    "DetachGroupPolicy ListAttachedGroupPolicies"
)
_ROLE = (
    "CreateRole GetRole UpdateRole UpdateRoleDescription UpdateAssumeRolePolicy DeleteRole "
    "PutRolePolicy GetRolePolicy ListRolePolicies DeleteRolePolicy ListInstanceProfilesForRole "
    "TagRole UntagRole ListRoleTags AttachRolePolicy DetachRolePolicy ListAttachedRolePolicies "
    "PutRolePermissionsBoundary DeleteRolePermissionsBoundary"
)
_PROFILE = (
    "CreateInstanceProfile GetInstanceProfile DeleteInstanceProfile AddRoleToInstanceProfile "
    "RemoveRoleFromInstanceProfile"
)
_POLICY = (
    "GetPolicy DeletePolicy CreatePolicyVersion GetPolicyVersion DeletePolicyVersion "
    "ListPolicyVersions SetDefaultPolicyVersion ListEntitiesForPolicy TagPolicy UntagPolicy "
    "ListPolicyTags"
)

# operation -> the kind of entity it acts on
_TABLE: dict[str, EntityKind[Any]] = {
    **{op: GROUPS for op in _GROUP.split()},
    **{op: ROLES for op in _ROLE.split()},
    **{op: PROFILES for op in _PROFILE.split()},
}
_USER_OPS = frozenset(_USER.split())
_POLICY_OPS = frozenset(_POLICY.split())


def _user_arn(s: Session, ctx: RequestContext, account_id: str, params: dict[str, Any]) -> str:
    op = ctx.operation_name
    name = params.get("UserName")
    if op == "CreateUser":
        return iam_arn(account_id, "user", str(params.get("Path") or "/"), str(name))
    if name:
        return iam_arn(account_id, "user", USERS.path_of(s, account_id, str(name)), str(name))
    scope = scope_for(s, ctx.principal, params)
    try:
        user = target_user(s, scope, params)
    except ServiceError:
        return ctx.principal.arn
    return iam_arn(user.account_id, "user", user.path, user.name)


def _key_owner_arn(s: Session, account_id: str, key_id: Any) -> str:
    row = s.execute(
        select(IamUser.account_id, IamUser.path, IamUser.name)
        .join(IamAccessKey, IamAccessKey.user_id == IamUser.id)
        .where(IamAccessKey.id == str(key_id))
    ).first()
    if row is None:
        return iam_arn(account_id, "user", "/", "*")
    return iam_arn(row[0], "user", row[1], row[2])


def iam_resources(store: Store, ctx: RequestContext) -> list[str]:
    op = ctx.operation_name
    params = ctx.params
    with store.read() as s:
        account_id = scope_for(s, ctx.principal, params).account_id
        if op in _USER_OPS:
            return [_user_arn(s, ctx, account_id, params)]
        if op == "GetAccessKeyLastUsed":
            return [_key_owner_arn(s, account_id, params.get("AccessKeyId"))]
        if op in _POLICY_OPS:
            return [str(params.get("PolicyArn") or "*")]
        if op == "CreatePolicy":
            path = str(params.get("Path") or "/")
            return [iam_arn(account_id, "policy", path, str(params.get("PolicyName")))]
        entry = _TABLE.get(op)
        if entry is None:
            return ["*"]
        name = str(params.get(entry.name_param))
        if op.startswith("Create"):
            path = str(params.get("Path") or "/")
        else:
            path = entry.path_of(s, account_id, name)
        return [iam_arn(account_id, entry.arn_kind, path, name)]
