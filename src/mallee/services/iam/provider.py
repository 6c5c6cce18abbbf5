"""IAM (Euare): one method per operation, each a call into a resource-family module."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

from sqlalchemy.orm import Session

from mallee.api.context import RequestContext
from mallee.api.http import HttpRequest
from mallee.services.base import Params, Provider, Result
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
    unissued_credentials,
    users,
)
from mallee.services.iam.authz import policies_changed
from mallee.services.iam.lookups import Scope, scope_for
from mallee.services.iam.resources import iam_resources

Handler = Callable[[Session, Scope, Params], Result]


class IamProvider(Provider):
    service: ClassVar[str] = "iam"
    action_prefix: ClassVar[str] = "iam"
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

    def off_loop(self, request: HttpRequest) -> bool:
        return passwords.hashes(request)

    def resources(self, ctx: RequestContext) -> list[str]:
        return iam_resources(self.store, ctx)

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

    def _write(self, ctx: RequestContext, params: Params, fn: Handler) -> Result:
        try:
            with self.store.session() as s:
                return fn(s, scope_for(s, ctx.principal, params), params)
        finally:
            policies_changed()

    def _read(self, ctx: RequestContext, params: Params, fn: Handler) -> Result:
        with self.store.read() as s:
            return fn(s, scope_for(s, ctx.principal, params), params)

    def _inline(self, ctx: RequestContext, params: Params, fn: Any, kind: str) -> Result:
        return self._write(ctx, params, _of_kind(fn, kind))

    # Accounts (Eucalyptus) ----------------------------------------------------------------
    def create_account(self, ctx: RequestContext, params: Params) -> Result:
        return self._write(ctx, params, accounts.create_account)

    def delete_account(self, ctx: RequestContext, params: Params) -> Result:
        # Several transactions of its own (the account's object data goes first).
        try:
            return accounts.delete_account(self.runtime, params)
        finally:
            policies_changed()

    def list_accounts(self, ctx: RequestContext, params: Params) -> Result:
        return self._read(ctx, params, accounts.list_accounts)

    def put_account_policy(self, ctx: RequestContext, params: Params) -> Result:
        return self._write(ctx, params, accounts.put_account_policy)

    def get_account_policy(self, ctx: RequestContext, params: Params) -> Result:
        return self._read(ctx, params, accounts.get_account_policy)

    def list_account_policies(self, ctx: RequestContext, params: Params) -> Result:
        return self._read(ctx, params, accounts.list_account_policies)

    def delete_account_policy(self, ctx: RequestContext, params: Params) -> Result:
        return self._write(ctx, params, accounts.delete_account_policy)

    def create_account_alias(self, ctx: RequestContext, params: Params) -> Result:
        return self._write(ctx, params, accounts.create_account_alias)

    def delete_account_alias(self, ctx: RequestContext, params: Params) -> Result:
        return self._write(ctx, params, accounts.delete_account_alias)

    def list_account_aliases(self, ctx: RequestContext, params: Params) -> Result:
        return self._read(ctx, params, accounts.list_account_aliases)

    def get_account_summary(self, ctx: RequestContext, params: Params) -> Result:
        return self._read(ctx, params, accounts.get_account_summary)

    # Users --------------------------------------------------------------------------------
    def create_user(self, ctx: RequestContext, params: Params) -> Result:
        return self._write(ctx, params, users.create_user)

    def get_user(self, ctx: RequestContext, params: Params) -> Result:
        return self._read(ctx, params, users.get_user)

    def list_users(self, ctx: RequestContext, params: Params) -> Result:
        return self._read(ctx, params, users.list_users)

    def update_user(self, ctx: RequestContext, params: Params) -> Result:
        return self._write(ctx, params, users.update_user)

    def delete_user(self, ctx: RequestContext, params: Params) -> Result:
        return self._write(ctx, params, users.delete_user)

    def list_groups_for_user(self, ctx: RequestContext, params: Params) -> Result:
        return self._read(ctx, params, users.list_groups_for_user)

    def tag_user(self, ctx: RequestContext, params: Params) -> Result:
        return self._write(ctx, params, users.tag_user)

    def untag_user(self, ctx: RequestContext, params: Params) -> Result:
        return self._write(ctx, params, users.untag_user)

    def list_user_tags(self, ctx: RequestContext, params: Params) -> Result:
        return self._read(ctx, params, users.list_user_tags)

    # Groups -------------------------------------------------------------------------------
    def create_group(self, ctx: RequestContext, params: Params) -> Result:
        return self._write(ctx, params, groups.create_group)

    def get_group(self, ctx: RequestContext, params: Params) -> Result:
        return self._read(ctx, params, groups.get_group)

    def list_groups(self, ctx: RequestContext, params: Params) -> Result:
        return self._read(ctx, params, groups.list_groups)

    def update_group(self, ctx: RequestContext, params: Params) -> Result:
        return self._write(ctx, params, groups.update_group)

    def delete_group(self, ctx: RequestContext, params: Params) -> Result:
        return self._write(ctx, params, groups.delete_group)

    def add_user_to_group(self, ctx: RequestContext, params: Params) -> Result:
        return self._write(ctx, params, groups.add_user_to_group)

    def remove_user_from_group(self, ctx: RequestContext, params: Params) -> Result:
        return self._write(ctx, params, groups.remove_user_from_group)

    # Roles and instance profiles ----------------------------------------------------------
    def create_role(self, ctx: RequestContext, params: Params) -> Result:
        return self._write(ctx, params, roles.create_role)

    def get_role(self, ctx: RequestContext, params: Params) -> Result:
        return self._read(ctx, params, roles.get_role)

    def list_roles(self, ctx: RequestContext, params: Params) -> Result:
        return self._read(ctx, params, roles.list_roles)

    def update_role(self, ctx: RequestContext, params: Params) -> Result:
        return self._write(ctx, params, roles.update_role)

    def update_role_description(self, ctx: RequestContext, params: Params) -> Result:
        return self._write(ctx, params, roles.update_role_description)

    def update_assume_role_policy(self, ctx: RequestContext, params: Params) -> Result:
        return self._write(ctx, params, roles.update_assume_role_policy)

    def delete_role(self, ctx: RequestContext, params: Params) -> Result:
        return self._write(ctx, params, roles.delete_role)

    def tag_role(self, ctx: RequestContext, params: Params) -> Result:
        return self._write(ctx, params, roles.tag_role)

    def untag_role(self, ctx: RequestContext, params: Params) -> Result:
        return self._write(ctx, params, roles.untag_role)

    def list_role_tags(self, ctx: RequestContext, params: Params) -> Result:
        return self._read(ctx, params, roles.list_role_tags)

    def list_instance_profiles_for_role(self, ctx: RequestContext, params: Params) -> Result:
        return self._read(ctx, params, roles.list_instance_profiles_for_role)

    def create_instance_profile(self, ctx: RequestContext, params: Params) -> Result:
        return self._write(ctx, params, profiles.create_instance_profile)

    def get_instance_profile(self, ctx: RequestContext, params: Params) -> Result:
        return self._read(ctx, params, profiles.get_instance_profile)

    def list_instance_profiles(self, ctx: RequestContext, params: Params) -> Result:
        return self._read(ctx, params, profiles.list_instance_profiles)

    def delete_instance_profile(self, ctx: RequestContext, params: Params) -> Result:
        return self._write(ctx, params, profiles.delete_instance_profile)

    def add_role_to_instance_profile(self, ctx: RequestContext, params: Params) -> Result:
        return self._write(ctx, params, profiles.add_role_to_instance_profile)

    def remove_role_from_instance_profile(self, ctx: RequestContext, params: Params) -> Result:
        return self._write(ctx, params, profiles.remove_role_from_instance_profile)

    # Access keys and passwords ------------------------------------------------------------
    def create_access_key(self, ctx: RequestContext, params: Params) -> Result:
        return self._write(ctx, params, keys.create_access_key)

    def list_access_keys(self, ctx: RequestContext, params: Params) -> Result:
        return self._read(ctx, params, keys.list_access_keys)

    def update_access_key(self, ctx: RequestContext, params: Params) -> Result:
        return self._write(ctx, params, keys.update_access_key)

    def delete_access_key(self, ctx: RequestContext, params: Params) -> Result:
        return self._write(ctx, params, keys.delete_access_key)

    def get_access_key_last_used(self, ctx: RequestContext, params: Params) -> Result:
        return self._read(ctx, params, keys.get_access_key_last_used)

    def create_login_profile(self, ctx: RequestContext, params: Params) -> Result:
        return self._write(ctx, params, passwords.create_login_profile)

    def get_login_profile(self, ctx: RequestContext, params: Params) -> Result:
        return self._read(ctx, params, passwords.get_login_profile)

    def update_login_profile(self, ctx: RequestContext, params: Params) -> Result:
        return self._write(ctx, params, passwords.update_login_profile)

    def delete_login_profile(self, ctx: RequestContext, params: Params) -> Result:
        return self._write(ctx, params, passwords.delete_login_profile)

    def change_password(self, ctx: RequestContext, params: Params) -> Result:
        return self._write(ctx, params, passwords.change_password)

    # Inline policies ----------------------------------------------------------------------
    def put_user_policy(self, ctx: RequestContext, params: Params) -> Result:
        return self._inline(ctx, params, policies.put_policy, "user")

    def get_user_policy(self, ctx: RequestContext, params: Params) -> Result:
        return self._inline(ctx, params, policies.get_policy, "user")

    def list_user_policies(self, ctx: RequestContext, params: Params) -> Result:
        return self._inline(ctx, params, policies.list_policies, "user")

    def delete_user_policy(self, ctx: RequestContext, params: Params) -> Result:
        return self._inline(ctx, params, policies.delete_policy, "user")

    def put_group_policy(self, ctx: RequestContext, params: Params) -> Result:
        return self._inline(ctx, params, policies.put_policy, "group")

    def get_group_policy(self, ctx: RequestContext, params: Params) -> Result:
        return self._inline(ctx, params, policies.get_policy, "group")

    def list_group_policies(self, ctx: RequestContext, params: Params) -> Result:
        return self._inline(ctx, params, policies.list_policies, "group")

    def delete_group_policy(self, ctx: RequestContext, params: Params) -> Result:
        return self._inline(ctx, params, policies.delete_policy, "group")

    def put_role_policy(self, ctx: RequestContext, params: Params) -> Result:
        return self._inline(ctx, params, policies.put_policy, "role")

    def get_role_policy(self, ctx: RequestContext, params: Params) -> Result:
        return self._inline(ctx, params, policies.get_policy, "role")

    def list_role_policies(self, ctx: RequestContext, params: Params) -> Result:
        return self._inline(ctx, params, policies.list_policies, "role")

    def delete_role_policy(self, ctx: RequestContext, params: Params) -> Result:
        return self._inline(ctx, params, policies.delete_policy, "role")

    # Managed policies ---------------------------------------------------------------------
    def create_policy(self, ctx: RequestContext, params: Params) -> Result:
        return self._write(ctx, params, managed_policies.create_policy)

    def get_policy(self, ctx: RequestContext, params: Params) -> Result:
        return self._read(ctx, params, managed_policies.get_policy)

    def delete_policy(self, ctx: RequestContext, params: Params) -> Result:
        return self._write(ctx, params, managed_policies.delete_policy)

    def list_policies(self, ctx: RequestContext, params: Params) -> Result:
        return self._read(ctx, params, managed_policies.list_policies)

    def list_entities_for_policy(self, ctx: RequestContext, params: Params) -> Result:
        return self._read(ctx, params, managed_policies.list_entities_for_policy)

    def tag_policy(self, ctx: RequestContext, params: Params) -> Result:
        return self._write(ctx, params, managed_policies.tag_policy)

    def untag_policy(self, ctx: RequestContext, params: Params) -> Result:
        return self._write(ctx, params, managed_policies.untag_policy)

    def list_policy_tags(self, ctx: RequestContext, params: Params) -> Result:
        return self._read(ctx, params, managed_policies.list_policy_tags)

    def create_policy_version(self, ctx: RequestContext, params: Params) -> Result:
        return self._write(ctx, params, policy_versions.create_policy_version)

    def get_policy_version(self, ctx: RequestContext, params: Params) -> Result:
        return self._read(ctx, params, policy_versions.get_policy_version)

    def list_policy_versions(self, ctx: RequestContext, params: Params) -> Result:
        return self._read(ctx, params, policy_versions.list_policy_versions)

    def delete_policy_version(self, ctx: RequestContext, params: Params) -> Result:
        return self._write(ctx, params, policy_versions.delete_policy_version)

    def set_default_policy_version(self, ctx: RequestContext, params: Params) -> Result:
        return self._write(ctx, params, policy_versions.set_default_policy_version)

    # Attached policies and permissions boundaries -----------------------------------------
    def attach_user_policy(self, ctx: RequestContext, params: Params) -> Result:
        return self._write(ctx, params, _of_kind(attachments.attach_policy, "user"))

    def detach_user_policy(self, ctx: RequestContext, params: Params) -> Result:
        return self._write(ctx, params, _of_kind(attachments.detach_policy, "user"))

    def list_attached_user_policies(self, ctx: RequestContext, params: Params) -> Result:
        return self._read(ctx, params, _of_kind(attachments.list_attached, "user"))

    def attach_group_policy(self, ctx: RequestContext, params: Params) -> Result:
        return self._write(ctx, params, _of_kind(attachments.attach_policy, "group"))

    def detach_group_policy(self, ctx: RequestContext, params: Params) -> Result:
        return self._write(ctx, params, _of_kind(attachments.detach_policy, "group"))

    def list_attached_group_policies(self, ctx: RequestContext, params: Params) -> Result:
        return self._read(ctx, params, _of_kind(attachments.list_attached, "group"))

    def attach_role_policy(self, ctx: RequestContext, params: Params) -> Result:
        return self._write(ctx, params, _of_kind(attachments.attach_policy, "role"))

    def detach_role_policy(self, ctx: RequestContext, params: Params) -> Result:
        return self._write(ctx, params, _of_kind(attachments.detach_policy, "role"))

    def list_attached_role_policies(self, ctx: RequestContext, params: Params) -> Result:
        return self._read(ctx, params, _of_kind(attachments.list_attached, "role"))

    def put_user_permissions_boundary(self, ctx: RequestContext, params: Params) -> Result:
        return self._write(ctx, params, _of_kind(attachments.put_boundary, "user"))

    def delete_user_permissions_boundary(self, ctx: RequestContext, params: Params) -> Result:
        return self._write(ctx, params, _of_kind(attachments.delete_boundary, "user"))

    def put_role_permissions_boundary(self, ctx: RequestContext, params: Params) -> Result:
        return self._write(ctx, params, _of_kind(attachments.put_boundary, "role"))

    def delete_role_permissions_boundary(self, ctx: RequestContext, params: Params) -> Result:
        return self._write(ctx, params, _of_kind(attachments.delete_boundary, "role"))

    # Credentials mallee does not issue ----------------------------------------------------
    def list_ssh_public_keys(self, ctx: RequestContext, params: Params) -> Result:
        return self._read(ctx, params, unissued_credentials.list_ssh_public_keys)

    def list_service_specific_credentials(self, ctx: RequestContext, params: Params) -> Result:
        return self._read(ctx, params, unissued_credentials.list_service_specific_credentials)

    def list_mfa_devices(self, ctx: RequestContext, params: Params) -> Result:
        return self._read(ctx, params, unissued_credentials.list_mfa_devices)

    def list_signing_certificates(self, ctx: RequestContext, params: Params) -> Result:
        return self._read(ctx, params, unissued_credentials.list_signing_certificates)


_ATTACHING = frozenset(
    f"{verb}{kind}Policy" for verb in ("Attach", "Detach") for kind in ("User", "Group", "Role")
)
_BOUNDING = frozenset(
    {"CreateUser", "CreateRole", "PutUserPermissionsBoundary", "PutRolePermissionsBoundary"}
)


def _of_kind(fn: Any, kind: str) -> Handler:
    """A handler for one owner kind (user, group, role) of a function that serves all three."""

    def call(s: Session, scope: Scope, p: Params) -> Result:
        result: Result = fn(s, scope, kind, p)
        return result

    return call
