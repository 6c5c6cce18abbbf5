"""Rows as IAM returns them (botocore output shapes)."""

from __future__ import annotations

from typing import Any

from mallee.identity.arns import group_arn, profile_arn, role_arn, user_arn
from mallee.identity.clock import aware
from mallee.services.iam.common import encode_document
from mallee.store.tables.iam import IamGroup, IamInstanceProfile, IamRole, IamUser


def user_out(u: IamUser) -> dict[str, Any]:
    out: dict[str, Any] = {
        "Path": u.path,
        "UserName": u.name,
        "UserId": u.id,
        "Arn": user_arn(u),
        "CreateDate": aware(u.created_at),
    }
    if u.password_last_used is not None:
        out["PasswordLastUsed"] = aware(u.password_last_used)
    return out


def group_out(g: IamGroup) -> dict[str, Any]:
    return {
        "Path": g.path,
        "GroupName": g.name,
        "GroupId": g.id,
        "Arn": group_arn(g),
        "CreateDate": aware(g.created_at),
    }


def role_out(r: IamRole) -> dict[str, Any]:
    out: dict[str, Any] = {
        "Path": r.path,
        "RoleName": r.name,
        "RoleId": r.id,
        "Arn": role_arn(r),
        "CreateDate": aware(r.created_at),
        "AssumeRolePolicyDocument": encode_document(r.trust_policy),
        "MaxSessionDuration": r.max_session_duration,
    }
    if r.description is not None:
        out["Description"] = r.description
    if r.last_used_at is not None:
        out["RoleLastUsed"] = {
            "LastUsedDate": aware(r.last_used_at),
            "Region": r.last_used_region or "",
        }
    return out


def profile_out(p: IamInstanceProfile, roles: list[IamRole]) -> dict[str, Any]:
    return {
        "Path": p.path,
        "InstanceProfileName": p.name,
        "InstanceProfileId": p.id,
        "Arn": profile_arn(p),
        "CreateDate": aware(p.created_at),
        "Roles": [role_out(r) for r in roles],
    }
