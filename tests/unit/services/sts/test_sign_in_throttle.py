"""The sign-in throttle's counts and locks, on a real store, with the clock in the test's hand."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import select

from mallee.services.sts import sign_in_throttle as throttle
from mallee.store import Store
from mallee.store.tables.iam import SignInFailure

T0 = 1_000_000.0


def begin(store: Store, attempt: throttle.Attempt, now: float) -> float:
    return admit(store, attempt, now).wait


def admit(store: Store, attempt: throttle.Attempt, now: float) -> throttle.Admission:
    with store.session() as s:
        return throttle.begin(s, attempt, now)


def succeeded(store: Store, attempt: throttle.Attempt, admission: throttle.Admission) -> None:
    with store.session() as s:
        throttle.succeeded(s, attempt, admission)


def test_locks_grow_from_the_limit_up_to_a_ceiling() -> None:
    limit = throttle.USER_LIMIT
    assert [throttle.lock_seconds(n, limit) for n in range(limit)] == [0.0] * limit
    first = throttle.FIRST_LOCK
    assert [throttle.lock_seconds(limit + n, limit) for n in range(4)] == [
        first,
        2 * first,
        4 * first,
        8 * first,
    ]
    assert throttle.lock_seconds(limit + 1000, limit) == throttle.MAX_LOCK
    assert throttle.MAX_LOCK < throttle.WINDOW


def test_the_limit_th_attempt_locks_the_user_then_longer(store: Store) -> None:
    attempt = throttle.attempt("123456789012", "Alice", "10.0.0.1")
    for n in range(throttle.USER_LIMIT):
        assert begin(store, attempt, T0 + n) == 0.0
    locked_at = T0 + throttle.USER_LIMIT - 1
    # The right password or not, from anywhere: refused until the lock ends.
    elsewhere = throttle.attempt("123456789012", "alice", "10.0.0.2")
    assert begin(store, elsewhere, locked_at + 1) == pytest.approx(throttle.FIRST_LOCK - 1)
    # Refused attempts are not counted: retrying during a lock does not lengthen it.
    for _ in range(10):
        begin(store, attempt, locked_at + 1)
    assert begin(store, attempt, locked_at + throttle.FIRST_LOCK) == 0.0
    again = locked_at + throttle.FIRST_LOCK
    assert begin(store, attempt, again + 0.5) == pytest.approx(2 * throttle.FIRST_LOCK - 0.5)


def test_a_success_starts_the_user_afresh(store: Store) -> None:
    attempt = throttle.attempt("acct", "bob", "10.0.0.1")
    for n in range(throttle.USER_LIMIT - 1):
        assert begin(store, attempt, T0 + n) == 0.0
    admission = admit(store, attempt, T0 + 10)  # the limit-th: locks while it is checked
    assert admission.wait == 0.0 and attempt.user.key in admission.locked
    succeeded(store, attempt, admission)  # ... and the right password lifts it
    for n in range(throttle.USER_LIMIT):
        assert begin(store, attempt, T0 + 11 + n) == 0.0
    assert begin(store, attempt, T0 + 11 + throttle.USER_LIMIT) > 0


def test_one_address_spraying_many_users_is_locked(store: Store) -> None:
    for n in range(throttle.SOURCE_LIMIT):
        assert begin(store, throttle.attempt("acct", f"user{n}", "10.0.0.9"), T0) == 0.0
    assert begin(store, throttle.attempt("acct", "another", "10.0.0.9"), T0 + 1) > 0
    assert begin(store, throttle.attempt("acct", "another", "10.0.0.8"), T0 + 1) == 0.0


def test_successes_from_one_address_do_not_lock_it(store: Store) -> None:
    for n in range(3 * throttle.SOURCE_LIMIT):
        attempt = throttle.attempt("acct", f"user{n}", "10.0.0.7")
        admission = admit(store, attempt, T0 + n)
        assert admission.wait == 0.0
        succeeded(store, attempt, admission)


def test_a_success_after_an_addresss_lock_leaves_no_lock(store: Store) -> None:
    for n in range(throttle.SOURCE_LIMIT):
        begin(store, throttle.attempt("acct", f"guess{n}", "10.0.0.6"), T0)
    later = T0 + throttle.FIRST_LOCK
    someone = throttle.attempt("acct", "someone", "10.0.0.6")
    admission = admit(store, someone, later)
    assert admission.wait == 0.0 and someone.source.key in admission.locked
    succeeded(store, someone, admission)
    # The next user at that address is not refused because someone signed in...
    next_one = throttle.attempt("acct", "next", "10.0.0.6")
    assert begin(store, next_one, later + 0.1) == 0.0
    # ... but a failure there locks it again, for longer.
    assert begin(store, next_one, later + 0.2) == pytest.approx(2 * throttle.FIRST_LOCK - 0.1)


def test_an_hour_without_attempts_forgets_them(store: Store) -> None:
    attempt = throttle.attempt("acct", "carol", "10.0.0.1")
    for n in range(throttle.USER_LIMIT - 1):
        begin(store, attempt, T0 + n)
    later = T0 + throttle.WINDOW + throttle.USER_LIMIT
    for n in range(throttle.USER_LIMIT - 1):
        assert begin(store, attempt, later + n) == 0.0
    with store.read() as s:
        counts = s.scalars(select(SignInFailure.failures)).all()
    assert sorted(counts) == [throttle.USER_LIMIT - 1] * 2


def test_names_are_not_stored(store: Store) -> None:
    begin(store, throttle.attempt("acct", "dave", "10.0.0.1"), T0)
    with store.read() as s:
        keys = s.scalars(select(SignInFailure.key)).all()
    assert len(keys) == 2 and not any("dave" in k or "10.0.0.1" in k for k in keys)


def test_attempts_at_once_cannot_all_slip_under_the_limit(store: Store) -> None:
    attempt = throttle.attempt("acct", "erin", "10.0.0.1")
    waits: list[float] = []
    start = threading.Barrier(12)

    def one() -> None:
        start.wait()
        waits.append(begin(store, attempt, T0))

    threads = [threading.Thread(target=one) for _ in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert waits.count(0.0) == throttle.USER_LIMIT
