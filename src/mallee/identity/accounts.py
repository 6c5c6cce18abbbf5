"""Accounts as sign-in and authorization find them."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from mallee.store.tables.iam import IamAccount

# The user whose keys and password are the account root's (the Eucalyptus convention).
ADMIN_USER = "admin"


def find_account(s: Session, name_or_id: str) -> IamAccount | None:
    if name_or_id.isdigit() and len(name_or_id) == 12:
        found = s.get(IamAccount, name_or_id)
        if found is not None:
            return found
    return s.scalars(select(IamAccount).where(IamAccount.name == name_or_id)).first()
