"""The cloud's own accounts: `eucalyptus`, made once by `mallee init`, found by every process;
and `(eucalyptus)loadbalancing`, which owns the load balancers' workers and their addresses.

IAM creates `eucalyptus` (services/iam/bootstrap.py). What needs no more than its name or id (the
node agent naming its namespaces, the cli) reads it here, from the database, not through IAM.
The controller makes the load balancing account here on first use: it may not import IAM, and
the account needs no user (nobody signs in as it; Eucalyptus' name keeps users from taking it,
as IAM's account names allow no parentheses).
"""

from __future__ import annotations

import datetime as dt
import secrets

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from mallee.store import Store
from mallee.store.tables.iam import IamAccount

SYSTEM_ACCOUNT = "eucalyptus"
LOADBALANCING_ACCOUNT = "(eucalyptus)loadbalancing"
# Two processes making the account at once, or a random id taken: read again, or retry.
_ENSURE_ATTEMPTS = 3


def system_account_id(store: Store) -> str:
    """Id of the `eucalyptus` account (which owns the cloud's public images)."""
    with store.read() as s:
        found = s.scalar(select(IamAccount.id).where(IamAccount.name == SYSTEM_ACCOUNT))
    if found is None:
        raise RuntimeError("the eucalyptus account does not exist yet")
    return found


def _account_id(store: Store, name: str) -> str | None:
    with store.read() as s:
        return s.scalar(select(IamAccount.id).where(IamAccount.name == name))


def ensure_loadbalancing_account(store: Store) -> str:
    """Id of `(eucalyptus)loadbalancing`, made if missing (its unique name makes it race-safe)."""
    for _ in range(_ENSURE_ATTEMPTS):
        found = _account_id(store, LOADBALANCING_ACCOUNT)
        if found is not None:
            return found
        # IAM's account ids: 12 digits, no leading zero.
        account_id = str(secrets.randbelow(9 * 10**11) + 10**11)
        try:
            with store.session() as s:
                s.add(
                    IamAccount(
                        id=account_id,
                        name=LOADBALANCING_ACCOUNT,
                        created_at=dt.datetime.now(dt.UTC).replace(microsecond=0),
                    )
                )
            return account_id
        except IntegrityError:
            continue
    raise RuntimeError(f"could not make the {LOADBALANCING_ACCOUNT} account")
