"""The cloud's own account: `eucalyptus`, made once by `mallee init`, found by every process.

IAM creates it (services/iam/bootstrap.py). What needs no more than its name or id (the node
agent naming its namespaces, the cli) reads it here, from the database, not through IAM.
"""

from __future__ import annotations

from sqlalchemy import select

from mallee.store import Store
from mallee.store.tables.iam import IamAccount

SYSTEM_ACCOUNT = "eucalyptus"


def system_account_id(store: Store) -> str:
    """Id of the `eucalyptus` account (which owns the cloud's public images)."""
    with store.read() as s:
        found = s.scalar(select(IamAccount.id).where(IamAccount.name == SYSTEM_ACCOUNT))
    if found is None:
        raise RuntimeError("the eucalyptus account does not exist yet")
    return found
