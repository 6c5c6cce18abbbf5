"""The controller lease: one holder at a time, takeover after expiry, fencing epochs."""

from __future__ import annotations

from mallee.controller import lease
from mallee.store import Store


def test_one_holder_at_a_time(store: Store) -> None:
    assert lease.acquire(store, "c", "a", ttl=10, now=100) == 1
    assert lease.acquire(store, "c", "b", ttl=10, now=105) is None
    # Renewal keeps the epoch.
    assert lease.acquire(store, "c", "a", ttl=10, now=106) == 1
    assert lease.acquire(store, "c", "b", ttl=10, now=115) is None


def test_takeover_after_expiry_bumps_the_epoch(store: Store) -> None:
    assert lease.acquire(store, "c", "a", ttl=10, now=100) == 1
    assert lease.acquire(store, "c", "b", ttl=10, now=111) == 2
    # The old holder comes back from a pause: it is fenced off.
    assert lease.acquire(store, "c", "a", ttl=10, now=112) is None


def test_release_hands_over_at_once(store: Store) -> None:
    assert lease.acquire(store, "c", "a", ttl=10, now=100) == 1
    lease.release(store, "c", "a")
    assert lease.acquire(store, "c", "b", ttl=10, now=101) == 2
    # Releasing a lease one does not hold changes nothing.
    lease.release(store, "c", "a")
    assert lease.acquire(store, "c", "a", ttl=10, now=102) is None
