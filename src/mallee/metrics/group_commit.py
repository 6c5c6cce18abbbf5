"""Concurrent puts of one process share one transaction, so one commit (one fsync) makes them
all durable.

A put is answered only after the transaction holding its data committed, as any write is. The
first put to arrive while no commit is running leads: it takes every put queued by then (its
own among them), stores them in one transaction and wakes them; puts that arrive meanwhile
queue, and the first of them leads the next commit. A lone put therefore commits at once, as
before, and under load a commit's fsync is paid once for all the puts that waited for it.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass, field

from mallee.metrics import store as metrics
from mallee.metrics.points import Datum
from mallee.store import Store

# Puts merged into one transaction at most (each has up to 1000 datapoints).
MAX_GROUP = 64


@dataclass(slots=True)
class _Put:
    data: Sequence[Datum]
    now: float
    woken: threading.Event = field(default_factory=threading.Event)
    lead: bool = False
    error: BaseException | None = None
    # The group's transaction failed: this put runs in one of its own, so one put's failure
    # (its account deleted meanwhile) never fails the others.
    alone: bool = False


class GroupCommit:
    def __init__(self, store: Store) -> None:
        self._store = store
        self._lock = threading.Lock()
        self._queue: list[_Put] = []
        self._busy = False

    def put(self, data: Sequence[Datum], now: float) -> None:
        """Stores `data` (as metrics.put) and returns once it is committed."""
        me = _Put(data, now)
        with self._lock:
            self._queue.append(me)
            if not self._busy:
                self._busy = me.lead = True
        if not me.lead:
            me.woken.wait()
        if me.lead:
            self._commit(me)
        if me.alone:
            self._one(me.data, me.now)
        elif me.error is not None:
            raise me.error

    def _commit(self, me: _Put) -> None:
        with self._lock:
            group, self._queue = self._queue[:MAX_GROUP], self._queue[MAX_GROUP:]
        try:
            with self._store.session() as s:
                metrics.put(s, [d for p in group for d in p.data], now=max(p.now for p in group))
        except BaseException as err:  # whatever it was, the group must still be woken
            for p in group:
                if len(group) > 1 and isinstance(err, Exception):
                    p.alone = True
                else:
                    p.error = err
        with self._lock:
            following = self._queue[0] if self._queue else None
            if following is None:
                self._busy = False
            else:
                following.lead = True
        for p in group:
            if p is not me:
                p.woken.set()
        if following is not None:
            following.woken.set()

    def _one(self, data: Sequence[Datum], now: float) -> None:
        with self._store.session() as s:
            metrics.put(s, data, now=now)
