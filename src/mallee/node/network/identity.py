"""Which cloud a data plane belongs to: the first part of its namespaces' names on a host."""

from __future__ import annotations

from mallee.cloud_identity import system_account_id
from mallee.node.network.names import cloud_id_of
from mallee.store import Store


def cloud_id(store: Store) -> str:
    """8 hex digits from the id of the cloud's `eucalyptus` account: random, made once by
    `mallee init` and never changed, so every process on every host of the cloud derives the
    same names, whatever URL it reaches the database by, and another cloud never does."""
    return cloud_id_of(system_account_id(store))
