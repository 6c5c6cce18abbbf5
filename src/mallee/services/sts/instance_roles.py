"""AssumeRoleForInstance: credentials of an instance profile's role, minted for the metadata
service, which asks as ec2.amazonaws.com through the gateway's internal call.

The chain authorizes it as AWS does for EC2: the role's trust policy must allow
ec2.amazonaws.com to sts:AssumeRole (otherwise AccessDenied, which the metadata service shows
the instance as AssumeRoleUnauthorizedAccess). The session is named after the instance, so
ARNs read assumed-role/<role>/<instance id>.
"""

from __future__ import annotations

from typing import Any

from mallee.api.context import RequestContext
from mallee.services.base import Params, Result, Runtime
from mallee.services.sts.errors import access_denied
from mallee.services.sts.sessions import credentials_for, find_role

# AWS hands instances credentials valid for about 6 hours, refreshed well before expiry.
INSTANCE_SESSION_SECONDS = 6 * 3600


def assume_role_for_instance(rt: Runtime, ctx: RequestContext, params: Params) -> Result:
    arn, instance_id = str(params["RoleArn"]), str(params["InstanceId"])
    with rt.store.session() as s:
        role = find_role(s, arn)
        if role is None:  # deleted since the trust policy was read
            raise access_denied(
                f"User: {ctx.principal.arn} is not authorized to perform: sts:AssumeRole on "
                f"resource: {arn}"
            )
        assumed_id = f"{role.id}:{instance_id}"
        session_arn = f"arn:aws:sts::{role.account_id}:assumed-role/{role.name}/{instance_id}"
        template: dict[str, Any] = {
            "issued_by": "AssumeRole",
            "account_id": role.account_id,
            "kind": "assumed-role",
            "entity_id": role.id,
            "arn": session_arn,
            "user_id": assumed_id,
            "name": instance_id,
            "session_policy": None,
            "source_access_key": None,
        }
        out = credentials_for(s, template, INSTANCE_SESSION_SECONDS)
    out["AssumedRoleUser"] = {"AssumedRoleId": assumed_id, "Arn": session_arn}
    return out
