"""STS (Tokens): GetCallerIdentity, GetSessionToken, AssumeRole, GetAccessKeyInfo,
Eucalyptus' GetAccessToken (password sign-in), mallee's RevokeAccessToken (sign-out) and its
internal AssumeRoleForInstance (the metadata service's)."""

from __future__ import annotations

from typing import ClassVar

from mallee.api.context import RequestContext
from mallee.identity.arns import parse_arn
from mallee.services.base import Operations, Provider, operations_of
from mallee.services.sts import access_tokens, callers, instance_roles, sessions

_TABLES: tuple[Operations, ...] = (
    callers.OPERATIONS,
    sessions.OPERATIONS,
    access_tokens.OPERATIONS,
    {"AssumeRoleForInstance": instance_roles.assume_role_for_instance},
)


class StsProvider(Provider):
    service: ClassVar[str] = "sts"
    action_prefix: ClassVar[str] = "sts"
    operations: ClassVar[Operations] = operations_of(*_TABLES)
    # AWS: neither needs a permission (and neither can be denied by policy); nor does ending
    # one's own session.
    always_allowed_operations: ClassVar[frozenset[str]] = frozenset(
        {"GetCallerIdentity", "GetSessionToken", "RevokeAccessToken"}
    )
    # Signed by no key: it checks the password in its Basic header itself.
    anonymous_operations: ClassVar[frozenset[str]] = frozenset({"GetAccessToken"})
    # The role's trust policy must allow AssumeRole whatever identity policies say.
    resource_policy_required: ClassVar[frozenset[str]] = frozenset(
        {"AssumeRole", "AssumeRoleForInstance"}
    )
    # The metadata service's: ec2.amazonaws.com asks for an instance's role credentials.
    internal_operations: ClassVar[frozenset[str]] = frozenset({"AssumeRoleForInstance"})

    # They issue sessions, so they run off the server's event loop as every write does
    # (GetAccessToken also hashes a password: scrypt holds a core for tens of milliseconds).
    writing_reads: ClassVar[frozenset[str]] = frozenset(
        {"GetSessionToken", "GetFederationToken", "GetAccessToken"}
    )

    def resources(self, ctx: RequestContext) -> list[str]:
        if ctx.operation_name in ("AssumeRole", "AssumeRoleForInstance"):
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

    def action_name(self, ctx: RequestContext) -> str:
        # An instance's role is assumed as EC2 assumes it: the trust policy grants AssumeRole.
        if ctx.operation_name == "AssumeRoleForInstance":
            return "AssumeRole"
        return ctx.operation_name
