"""STS (Tokens): GetCallerIdentity, GetSessionToken, AssumeRole, GetAccessKeyInfo,
Eucalyptus' GetAccessToken (password sign-in) and mallee's RevokeAccessToken (sign-out)."""

from __future__ import annotations

from typing import ClassVar

from mallee.api.context import RequestContext
from mallee.api.http import HttpRequest
from mallee.services.base import Params, Provider, Result
from mallee.services.iam.common import parse_arn
from mallee.services.iam.credentials import invalidate
from mallee.services.sts import access_tokens, sessions
from mallee.sign_in_source import source_address


class StsProvider(Provider):
    service: ClassVar[str] = "sts"
    action_prefix: ClassVar[str] = "sts"
    # AWS: neither needs a permission (and neither can be denied by policy); nor does ending
    # one's own session.
    always_allowed_operations: ClassVar[frozenset[str]] = frozenset(
        {"GetCallerIdentity", "GetSessionToken", "RevokeAccessToken"}
    )
    # Signed by no key: it checks the password in its Basic header itself.
    anonymous_operations: ClassVar[frozenset[str]] = frozenset({"GetAccessToken"})
    # The role's trust policy must allow AssumeRole whatever identity policies say.
    resource_policy_required: ClassVar[frozenset[str]] = frozenset({"AssumeRole"})

    def off_loop(self, request: HttpRequest) -> bool:
        """GetAccessToken hashes a password (scrypt: a core for tens of milliseconds), so it is
        handled off the server's event loop; the rest (GetCallerIdentity above all, which
        clients call all the time) would only pay the thread hand-over (~80 us a request)."""
        try:
            return request.form_params().get("Action") == "GetAccessToken"
        except UnicodeDecodeError:  # not a form any operation reads; the chain says so
            return False

    def resources(self, ctx: RequestContext) -> list[str]:
        if ctx.operation_name == "AssumeRole":
            return [str(ctx.params.get("RoleArn") or "*")]
        return ["*"]

    def resource_policy(self, ctx: RequestContext, arn: str) -> tuple[str, str | None]:
        """(owner account, trust policy) of the role an AssumeRole names."""
        with self.store.read() as s:
            role = sessions.find_role(s, arn)
            if role is not None:
                return role.account_id, role.trust_policy
        parts = parse_arn(arn)
        return (parts[3] if parts else ""), None

    def get_caller_identity(self, ctx: RequestContext, params: Params) -> Result:
        p = ctx.principal
        return {"UserId": p.user_id, "Account": p.account_id, "Arn": p.arn}

    def get_session_token(self, ctx: RequestContext, params: Params) -> Result:
        with self.store.session() as s:
            return sessions.get_session_token(s, ctx.principal, params)

    def assume_role(self, ctx: RequestContext, params: Params) -> Result:
        with self.store.session() as s:
            return sessions.assume_role(s, ctx.principal, params)

    def get_access_key_info(self, ctx: RequestContext, params: Params) -> Result:
        with self.store.read() as s:
            return sessions.get_access_key_info(s, ctx.principal, params)

    def get_access_token(self, ctx: RequestContext, params: Params) -> Result:
        source = source_address(ctx.http, self.runtime.settings.data_dir)
        header = ctx.http.headers.get("authorization")
        return access_tokens.get_access_token(self.store, header, params, source)

    def revoke_access_token(self, ctx: RequestContext, params: Params) -> Result:
        with self.store.session() as s:
            sessions.revoke(s, ctx.principal)
        # Other processes forget it within their cache's second (credentials.CACHE_SECONDS).
        invalidate(ctx.principal.access_key_id)
        return {}
