"""Who signed a request (GetCallerIdentity), and whose an access key is (GetAccessKeyInfo)."""

from __future__ import annotations

from mallee.api.context import RequestContext
from mallee.services.base import Operations, Params, Result, Runtime
from mallee.services.sts.errors import invalid_parameter_value
from mallee.store.tables.iam import IamAccessKey, StsSession


def get_caller_identity(rt: Runtime, ctx: RequestContext, params: Params) -> Result:
    p = ctx.principal
    return {"UserId": p.user_id, "Account": p.account_id, "Arn": p.arn}


def get_access_key_info(rt: Runtime, ctx: RequestContext, params: Params) -> Result:
    key_id = str(params.get("AccessKeyId") or "")
    account: str | None = None
    with rt.store.read() as s:
        if key_id.startswith("ASIA"):
            found = s.get(StsSession, key_id)
            account = found.account_id if found else None
        else:
            key = s.get(IamAccessKey, key_id)
            account = key.account_id if key else None
    if account is None:
        raise invalid_parameter_value(f"Unknown access key {key_id}")
    return {"Account": account}


OPERATIONS: Operations = {
    "GetCallerIdentity": get_caller_identity,
    "GetAccessKeyInfo": get_access_key_info,
}
