"""IAM (Euare): the table of its operations, each a function of a resource-family module, and
the hooks the gateway's chain calls."""

from __future__ import annotations

from typing import ClassVar

from mallee.api.context import RequestContext
from mallee.services.base import Operations, Provider, operations_of
from mallee.services.iam import (
    accounts,
    attachments,
    groups,
    keys,
    managed_policies,
    passwords,
    policies,
    policy_versions,
    profiles,
    roles,
    server_certificates,
    unissued_credentials,
    users,
)
from mallee.services.iam.resources import iam_resources

_TABLES: tuple[Operations, ...] = (
    accounts.OPERATIONS,
    users.OPERATIONS,
    groups.OPERATIONS,
    roles.OPERATIONS,
    profiles.OPERATIONS,
    keys.OPERATIONS,
    passwords.OPERATIONS,
    policies.OPERATIONS,
    managed_policies.OPERATIONS,
    policy_versions.OPERATIONS,
    attachments.OPERATIONS,
    unissued_credentials.OPERATIONS,
    server_certificates.OPERATIONS,
)

_ATTACHING = frozenset(
    f"{verb}{kind}Policy" for verb in ("Attach", "Detach") for kind in ("User", "Group", "Role")
)
_BOUNDING = frozenset(
    {"CreateUser", "CreateRole", "PutUserPermissionsBoundary", "PutRolePermissionsBoundary"}
)


class IamProvider(Provider):
    service: ClassVar[str] = "iam"
    action_prefix: ClassVar[str] = "iam"
    operations: ClassVar[Operations] = operations_of(*_TABLES)
    admin_operations: ClassVar[frozenset[str]] = frozenset(
        {
            "CreateAccount",
            "DeleteAccount",
            "ListAccounts",
            "PutAccountPolicy",
            "GetAccountPolicy",
            "ListAccountPolicies",
            "DeleteAccountPolicy",
        }
    )

    def resources(self, ctx: RequestContext) -> list[str]:
        certificate = server_certificates.resources(self.store, ctx)
        return certificate or iam_resources(self.store, ctx)

    def resource_policy(self, ctx: RequestContext, arn: str) -> tuple[str, str | None]:
        """IAM resources carry no resource policy; only their owner matters (see owner_of)."""
        return managed_policies.owner_of(arn, ctx.principal.account_id, ctx.operation_name), None

    def condition_keys(self, ctx: RequestContext) -> dict[str, list[str]]:
        """iam:PolicyARN for attaching and detaching, iam:PermissionsBoundary for setting one."""
        op, params = ctx.operation_name, ctx.params
        if op in _ATTACHING and isinstance(params.get("PolicyArn"), str):
            return {"iam:policyarn": [params["PolicyArn"]]}
        if op in _BOUNDING and isinstance(params.get("PermissionsBoundary"), str):
            return {"iam:permissionsboundary": [params["PermissionsBoundary"]]}
        return {}
