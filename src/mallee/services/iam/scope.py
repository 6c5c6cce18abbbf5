"""Which account an IAM call acts in: the caller's, or DelegateAccount's for the cloud admin."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from mallee.api.context import Principal
from mallee.identity.accounts import find_account
from mallee.services.iam.errors import access_denied, no_such_entity, validation
from mallee.store.tables.iam import IamAccount


@dataclass(frozen=True, slots=True)
class Scope:
    """The account an IAM call acts in (the caller's, or DelegateAccount's for the cloud admin)."""

    account_id: str
    principal: Principal
    delegated: bool = False


def account_or_404(s: Session, name_or_id: Any) -> IamAccount:
    if not isinstance(name_or_id, str) or not name_or_id:
        raise validation("AccountName is required.")
    found = find_account(s, name_or_id)
    if found is None:
        raise no_such_entity(f"Can not find account {name_or_id}")
    return found


def scope_for(s: Session, principal: Principal, params: dict[str, Any]) -> Scope:
    delegate = params.get("DelegateAccount")
    if not delegate:
        return Scope(principal.account_id, principal)
    if not principal.is_cloud_admin:
        raise access_denied("Only the cloud administrator may act as another account.")
    account = account_or_404(s, delegate)
    return Scope(account.id, principal, delegated=account.id != principal.account_id)
