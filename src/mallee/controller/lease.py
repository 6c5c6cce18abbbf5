"""A named lease in the database: at most one holder acts at a time."""

from __future__ import annotations

from sqlalchemy.exc import IntegrityError

from mallee.store import Store
from mallee.store.tables.compute import Lease


def acquire(store: Store, name: str, holder: str, *, ttl: float, now: float) -> int | None:
    """Take or renew the lease; its epoch when `holder` has it, None when another does.

    The epoch changes whenever the holder does, so a holder that lost the lease while paused
    can tell (fencing) by comparing epochs.
    """
    for attempt in range(2):
        try:
            with store.session() as s:
                row = s.get(Lease, name)
                if row is None:
                    s.add(Lease(name=name, holder=holder, expires_at=now + ttl, epoch=1))
                    return 1
                if row.holder != holder and row.expires_at > now:
                    return None
                if row.holder != holder:
                    row.holder = holder
                    row.epoch += 1
                row.expires_at = now + ttl
                return row.epoch
        except IntegrityError:
            # Two first-ever claims raced on the insert; the loser reads the winner's row.
            if attempt:
                raise
    return None


def release(store: Store, name: str, holder: str) -> None:
    """Give the lease up at once (a clean shutdown), so a standby need not wait for expiry."""
    with store.session() as s:
        row = s.get(Lease, name)
        if row is not None and row.holder == holder:
            row.expires_at = 0.0
