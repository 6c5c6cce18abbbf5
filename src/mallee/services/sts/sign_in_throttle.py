"""Password sign-ins throttled per user and per source address.

Within a window, the LIMITth attempt on a counter locks it: until the lock ends every further
attempt is refused before its password is hashed, the right password too. Each attempt after
that locks it again, for twice as long as the last time, up to MAX_LOCK; an hour with no
attempt forgets the count. A success clears the user's counter, and the address gets back its
attempt (and the lock that attempt set).

An attempt counts as failed from its start, before its password is checked, so attempts sent at
once cannot all slip in under the limit while their hashes run. Attempts refused during a lock
are not counted: a user who retries while locked out does not lock themselves out for longer.
The counts live in the database, so every api process refuses the same guesser; an attempt
costs one small write transaction before its hash, and a success one more.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from sqlalchemy import case, delete, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from mallee.store.tables.iam import SignInFailure

# One user's password: a few typos pass, a guesser gets a handful of tries an hour.
USER_LIMIT = 5
# One address: many users may sign in from behind one NAT.
SOURCE_LIMIT = 20
WINDOW = 3600.0
FIRST_LOCK = 2.0
# Below WINDOW: a counter that stops being tried is always forgotten unlocked.
MAX_LOCK = 900.0


@dataclass(frozen=True, slots=True)
class Counter:
    key: str
    limit: int


@dataclass(frozen=True, slots=True)
class Attempt:
    """The counters one sign-in attempt counts against."""

    user: Counter
    source: Counter

    @property
    def counters(self) -> tuple[Counter, Counter]:
        return self.user, self.source


@dataclass(frozen=True, slots=True)
class Admission:
    # 0: the attempt may go on; else the seconds until the lock that refuses it ends.
    wait: float
    # The counters it locked by being counted: a success lifts those locks.
    locked: frozenset[str] = frozenset()


def attempt(account: str, user: str, source: str) -> Attempt:
    """`account`: the account's id when it exists, else the name as typed (an attacker may not
    double their tries by naming an account both ways); names compare case-insensitively."""
    return Attempt(
        Counter(_digest("user", account.lower(), user.lower()), USER_LIMIT),
        Counter(_digest("source", source), SOURCE_LIMIT),
    )


def _digest(*parts: str) -> str:
    return hashlib.sha256("\0".join(parts).encode("utf-8", "replace")).hexdigest()


def lock_seconds(failures: int, limit: int) -> float:
    """How long a counter at `failures` stays locked (0: not locked)."""
    if failures < limit:
        return 0.0
    return min(MAX_LOCK, FIRST_LOCK * 2.0 ** min(failures - limit, 32))


def begin(s: Session, attempt: Attempt, now: float) -> Admission:
    """Count the attempt, or refuse it (uncounted) while one of its counters is locked."""
    s.execute(delete(SignInFailure).where(SignInFailure.last_at < now - WINDOW))
    wait = 0.0
    counted: list[tuple[Counter, int]] = []
    for counter in attempt.counters:
        failures, locked_until = _count(s, counter.key, now)
        if locked_until > now:
            wait = max(wait, locked_until - now)
        else:
            counted.append((counter, failures))
    if wait:
        for counter, _ in counted:
            _take_back(s, counter.key, lift=False)
        return Admission(wait)
    locked: set[str] = set()
    for counter, failures in counted:
        lock = lock_seconds(failures, counter.limit)
        if lock:
            s.execute(
                update(SignInFailure)
                .where(SignInFailure.key == counter.key)
                .values(locked_until=now + lock)
            )
            locked.add(counter.key)
    return Admission(0.0, frozenset(locked))


def succeeded(s: Session, attempt: Attempt, admission: Admission) -> None:
    """The password was right: the user starts afresh, the address gets its attempt back."""
    s.execute(delete(SignInFailure).where(SignInFailure.key == attempt.user.key))
    source = attempt.source.key
    _take_back(s, source, lift=source in admission.locked)


def _count(s: Session, key: str, now: float) -> tuple[int, float]:
    """Add one to the counter unless it is locked, in one statement (atomic where attempts
    race); (failures, locked_until) after it. A counter past its window is gone already."""
    locked = SignInFailure.locked_until > now
    values: dict[str, Any] = {
        "failures": case((locked, SignInFailure.failures), else_=SignInFailure.failures + 1),
        "last_at": case((locked, SignInFailure.last_at), else_=now),
    }
    first = {"key": key, "failures": 1, "last_at": now, "locked_until": 0.0}
    statement: Any
    if s.get_bind().dialect.name == "sqlite":
        statement = sqlite_insert(SignInFailure).values(first)
    else:
        statement = pg_insert(SignInFailure).values(first)
    statement = statement.on_conflict_do_update(index_elements=["key"], set_=values)
    row = s.execute(statement.returning(SignInFailure.failures, SignInFailure.locked_until)).one()
    return int(row[0]), float(row[1])


def _take_back(s: Session, key: str, *, lift: bool) -> None:
    values: dict[str, Any] = {"failures": SignInFailure.failures - 1}
    if lift:
        values["locked_until"] = 0.0
    s.execute(
        update(SignInFailure)
        .where(SignInFailure.key == key, SignInFailure.failures > 0)
        .values(values)
    )
