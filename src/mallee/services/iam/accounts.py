"""Accounts (Eucalyptus: the cloud admin creates them), account policies, aliases, summary."""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, exists, func, select
from sqlalchemy.orm import Session

from mallee.api.context import RequestContext
from mallee.cloud_identity import SYSTEM_ACCOUNT
from mallee.identity.accounts import ADMIN_USER, find_account
from mallee.identity.authz import policies_changed
from mallee.identity.clock import now
from mallee.identity.credentials import invalidate
from mallee.objectstore.account_data import empty_buckets, free_blobs, remaining_blobs
from mallee.policy import PolicyKind
from mallee.services.base import Operations, Params, Result, Runtime
from mallee.services.iam.common import (
    check_account_name,
    check_name,
    encode_document,
    new_account_id,
    paginate,
    validate_document,
)
from mallee.services.iam.entities import GROUPS, PROFILES, ROLES, USERS
from mallee.services.iam.errors import already_exists, delete_conflict, no_such_entity, validation
from mallee.services.iam.scope import Scope, account_or_404
from mallee.services.iam.transactions import reads, writes
from mallee.services.iam.users import add_user
from mallee.store.tables.iam import (
    IamAccessKey,
    IamAccount,
    IamAccountAlias,
    IamAccountPolicy,
    IamGroup,
    IamInlinePolicy,
    IamInstanceProfile,
    IamManagedPolicy,
    IamRole,
    IamTag,
    IamUser,
)


def _name_in_use(s: Session, name: str) -> bool:
    if find_account(s, name) is not None:
        return True
    return s.get(IamAccountAlias, name) is not None


def add_account(s: Session, name: str | None) -> IamAccount:
    """A new account with its `admin` user (the account root's identity, as Eucalyptus)."""
    account_id = new_account_id()
    while s.get(IamAccount, account_id) is not None:
        account_id = new_account_id()
    account = IamAccount(id=account_id, name=name or account_id, created_at=now())
    s.add(account)
    s.flush()
    add_user(s, account.id, ADMIN_USER)
    return account


def _account_out(a: IamAccount) -> dict[str, str]:
    return {"AccountName": a.name, "AccountId": a.id}


def create_account(s: Session, scope: Scope, params: dict[str, Any]) -> dict[str, Any]:
    name = params.get("AccountName")
    if name is not None:
        check_account_name(name)
        if _name_in_use(s, name):
            raise already_exists(f"Account {name} already exists.")
    return {"Account": _account_out(add_account(s, name))}


def list_accounts(s: Session, scope: Scope, params: dict[str, Any]) -> dict[str, Any]:
    rows = s.scalars(select(IamAccount).order_by(IamAccount.name))
    return {"Accounts": [_account_out(a) for a in rows]}


def _has_resources(s: Session, account_id: str) -> bool:
    checks = (
        select(IamUser.id).where(IamUser.account_id == account_id, IamUser.name_key != ADMIN_USER),
        select(IamGroup.id).where(IamGroup.account_id == account_id),
        select(IamRole.id).where(IamRole.account_id == account_id),
        select(IamInstanceProfile.id).where(IamInstanceProfile.account_id == account_id),
        select(IamManagedPolicy.id).where(IamManagedPolicy.account_id == account_id),
    )
    return any(s.scalar(select(exists(stmt))) for stmt in checks)


def _deletable(s: Session, params: dict[str, Any]) -> IamAccount:
    account = account_or_404(s, params.get("AccountName"))
    if account.name == SYSTEM_ACCOUNT:
        raise delete_conflict("The system account cannot be deleted.")
    if not params.get("Recursive") and _has_resources(s, account.id):
        raise delete_conflict(
            f"Account {account.name} has resources; delete them first or use Recursive."
        )
    return account


def delete_account_operation(rt: Runtime, ctx: RequestContext, params: Params) -> Result:
    """DeleteAccount runs several transactions of its own (see delete_account)."""
    try:
        return delete_account(rt, params)
    finally:
        policies_changed()


def delete_account(runtime: Runtime, params: dict[str, Any]) -> dict[str, Any]:
    """The account's rows go in one transaction, most by ON DELETE CASCADE. The object data
    of its buckets, which no cascade reaches, goes first and after it (see account_data)."""
    with runtime.store.read() as s:
        account_id = _deletable(s, params).id
    empty_buckets(runtime, account_id)
    with runtime.store.session() as s:
        account = _deletable(s, params)
        # Locked before its buckets are looked at: none can be created until this commits.
        s.execute(select(IamAccount.id).where(IamAccount.id == account.id).with_for_update())
        freed = remaining_blobs(s, account.id)
        entity_ids = (
            select(IamUser.id)
            .where(IamUser.account_id == account.id)
            .union(
                select(IamRole.id).where(IamRole.account_id == account.id),
                select(IamManagedPolicy.id).where(IamManagedPolicy.account_id == account.id),
            )
        )
        s.execute(delete(IamTag).where(IamTag.entity_id.in_(entity_ids)))
        s.execute(delete(IamInlinePolicy).where(IamInlinePolicy.account_id == account.id))
        s.delete(account)
    # Cached keys of the account must go too.
    invalidate()
    free_blobs(runtime, freed)
    return {}


# Account policies (cloud admin) ----------------------------------------------------------


def _account_policy(s: Session, account: IamAccount, name: Any) -> IamAccountPolicy:
    found = s.scalars(
        select(IamAccountPolicy).where(
            IamAccountPolicy.account_id == account.id, IamAccountPolicy.name == str(name)
        )
    ).first()
    if found is None:
        raise no_such_entity(f"Can not find policy {name} of account {account.name}")
    return found


def put_account_policy(s: Session, scope: Scope, params: dict[str, Any]) -> dict[str, Any]:
    account = account_or_404(s, params.get("AccountName"))
    name = check_name(params.get("PolicyName"), "policyName", 128)
    text = validate_document(
        params.get("PolicyDocument"), PolicyKind.ACCOUNT, "account", f"account {account.name}"
    )
    found = s.scalars(
        select(IamAccountPolicy).where(
            IamAccountPolicy.account_id == account.id, IamAccountPolicy.name == name
        )
    ).first()
    if found is None:
        s.add(IamAccountPolicy(account_id=account.id, name=name, document=text))
    else:
        found.document = text
    return {}


def get_account_policy(s: Session, scope: Scope, params: dict[str, Any]) -> dict[str, Any]:
    account = account_or_404(s, params.get("AccountName"))
    policy = _account_policy(s, account, params.get("PolicyName"))
    return {
        "AccountName": account.name,
        "PolicyName": policy.name,
        "PolicyDocument": encode_document(policy.document),
    }


def list_account_policies(s: Session, scope: Scope, params: dict[str, Any]) -> dict[str, Any]:
    account = account_or_404(s, params.get("AccountName"))
    stmt = select(IamAccountPolicy).where(IamAccountPolicy.account_id == account.id)
    rows, page = paginate(s, stmt, IamAccountPolicy.name, params)
    return {"PolicyNames": [p.name for p in rows], **page}


def delete_account_policy(s: Session, scope: Scope, params: dict[str, Any]) -> dict[str, Any]:
    account = account_or_404(s, params.get("AccountName"))
    s.delete(_account_policy(s, account, params.get("PolicyName")))
    return {}


# Aliases ---------------------------------------------------------------------------------


def _check_alias(alias: Any) -> str:
    if not isinstance(alias, str) or not 3 <= len(alias) <= 63:
        raise validation("The account alias must be 3 to 63 characters long.")
    try:
        return check_account_name(alias)
    except Exception as err:
        raise validation(
            "The account alias must contain only digits, lowercase letters and hyphens, "
            "and must not start or end with a hyphen."
        ) from err


def create_account_alias(s: Session, scope: Scope, params: dict[str, Any]) -> dict[str, Any]:
    alias = _check_alias(params.get("AccountAlias"))
    mine = s.scalars(
        select(IamAccountAlias).where(IamAccountAlias.account_id == scope.account_id)
    ).first()
    if mine is not None and mine.alias == alias:
        return {}
    owner = find_account(s, alias)
    if s.get(IamAccountAlias, alias) is not None or (
        owner is not None and owner.id != scope.account_id
    ):
        raise already_exists(f"The account alias {alias} already exists.")
    if mine is not None:
        s.delete(mine)
        s.flush()
    s.add(IamAccountAlias(alias=alias, account_id=scope.account_id))
    return {}


def delete_account_alias(s: Session, scope: Scope, params: dict[str, Any]) -> dict[str, Any]:
    alias = params.get("AccountAlias")
    found = s.get(IamAccountAlias, str(alias)) if alias else None
    if found is None or found.account_id != scope.account_id:
        raise no_such_entity(f"The account alias {alias} cannot be found.")
    s.delete(found)
    return {}


def list_account_aliases(s: Session, scope: Scope, params: dict[str, Any]) -> dict[str, Any]:
    stmt = select(IamAccountAlias).where(IamAccountAlias.account_id == scope.account_id)
    rows, page = paginate(s, stmt, IamAccountAlias.alias, params)
    return {"AccountAliases": [a.alias for a in rows], **page}


def _count(s: Session, column: Any, *where: Any) -> int:
    return int(s.scalar(select(func.count(column)).where(*where)) or 0)


def get_account_summary(s: Session, scope: Scope, params: dict[str, Any]) -> dict[str, Any]:
    acct = scope.account_id
    admin_keys = (
        select(IamAccessKey.id)
        .join(IamUser, IamUser.id == IamAccessKey.user_id)
        .where(IamUser.account_id == acct, IamUser.name_key == ADMIN_USER)
    )
    summary = {
        "Users": _count(s, IamUser.id, IamUser.account_id == acct),
        "UsersQuota": USERS.quota,
        "Groups": _count(s, IamGroup.id, IamGroup.account_id == acct),
        "GroupsQuota": GROUPS.quota,
        "Roles": _count(s, IamRole.id, IamRole.account_id == acct),
        "RolesQuota": ROLES.quota,
        "InstanceProfiles": _count(s, IamInstanceProfile.id, IamInstanceProfile.account_id == acct),
        "InstanceProfilesQuota": PROFILES.quota,
        "Policies": _count(s, IamManagedPolicy.id, IamManagedPolicy.account_id == acct),
        "PoliciesQuota": 1500,
        "PolicySizeQuota": 6144,
        "PolicyVersionsInUseQuota": 10000,
        "VersionsPerPolicyQuota": 5,
        "AccessKeysPerUserQuota": 2,
        "GroupsPerUserQuota": 10,
        "UserPolicySizeQuota": 2048,
        "GroupPolicySizeQuota": 5120,
        "RolePolicySizeQuota": 10240,
        "AttachedPoliciesPerUserQuota": 10,
        "AttachedPoliciesPerGroupQuota": 10,
        "AttachedPoliciesPerRoleQuota": 10,
        "AccountAccessKeysPresent": 1 if s.scalar(select(exists(admin_keys))) else 0,
        "AccountMFAEnabled": 0,
        "MFADevices": 0,
        "MFADevicesInUse": 0,
        "ServerCertificates": 0,
        "ServerCertificatesQuota": 20,
        "SigningCertificatesPerUserQuota": 2,
        "ProvidersQuota": 100,
        "GlobalEndpointTokenVersion": 1,
    }
    return {"SummaryMap": summary}


OPERATIONS: Operations = {
    "CreateAccount": writes(create_account),
    "DeleteAccount": delete_account_operation,
    "ListAccounts": reads(list_accounts),
    "PutAccountPolicy": writes(put_account_policy),
    "GetAccountPolicy": reads(get_account_policy),
    "ListAccountPolicies": reads(list_account_policies),
    "DeleteAccountPolicy": writes(delete_account_policy),
    "CreateAccountAlias": writes(create_account_alias),
    "DeleteAccountAlias": writes(delete_account_alias),
    "ListAccountAliases": reads(list_account_aliases),
    "GetAccountSummary": reads(get_account_summary),
}
