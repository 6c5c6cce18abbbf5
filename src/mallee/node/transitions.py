"""The agent's instance state changes, committed in groups.

Each change is a conditional UPDATE (`WHERE state = expected`) that is durable before `move`
returns. Steps run on several threads, and on SQLite every commit is an fsync taken under the
one write lock the api and the controller also want; so changes that arrive while a commit is
under way wait for it and then go together in the next one (group commit), instead of taking
the lock once each.
"""

from __future__ import annotations

import functools
import logging
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import bindparam, update

from mallee.node.network.desired import NETWORKED_STATES
from mallee.store import Store
from mallee.store.prepared import Prepared
from mallee.store.tables.ebs import unready_volumes
from mallee.store.tables.ec2 import Ec2Instance
from mallee.store.tables.network import bump_network

log = logging.getLogger(__name__)


@dataclass(slots=True)
class _Change:
    instance_id: str
    expected: str
    new: str
    fields: dict[str, Any]
    done: bool = False
    moved: bool = False
    error: BaseException | None = None
    at: float = field(default_factory=time.time)


class Transitions:
    def __init__(self, store: Store) -> None:
        self.store = store
        self._queue: list[_Change] = []
        self._queue_lock = threading.Lock()
        self._commit_lock = threading.Lock()

    def move(self, instance_id: str, expected: str, new: str, **fields: Any) -> bool:
        """Move the instance from `expected` to `new` (with `fields`); False when it was not
        in `expected` any more. Raises what the commit raised (the caller retries later)."""
        change = _Change(instance_id, expected, new, fields)
        with self._queue_lock:
            self._queue.append(change)
        with self._commit_lock:
            if not change.done:
                with self._queue_lock:
                    batch, self._queue = self._queue, []
                self._commit(batch)
        if change.error is not None:
            raise change.error
        if change.moved:
            log.info("%s: %s -> %s", instance_id, expected, new)
        return change.moved

    def _commit(self, batch: list[_Change]) -> None:
        try:
            with self.store.session() as s:
                bump = False
                conn = s.connection()
                for change in batch:
                    values = {f"v_{k}": v for k, v in change.fields.items()}
                    change.moved = bool(
                        _move(tuple(change.fields)).run(
                            conn,
                            instance=change.instance_id,
                            expected=change.expected,
                            v_state=change.new,
                            v_state_changed_at=change.at,
                            **values,
                        )
                    )
                    # Its address leaves every firewall that names it (peer groups, this node's).
                    bump = bump or (change.moved and change.new not in NETWORKED_STATES)
                    if change.moved and change.new == "stopped":
                        unready_volumes(s, change.instance_id)
                if bump:
                    bump_network(s)
        except Exception as err:
            # Each waiting step raises it and is retried on a later tick.
            for change in batch:
                change.error, change.moved = err, False
        finally:
            for change in batch:
                change.done = True


@functools.cache
def _move(fields: tuple[str, ...]) -> Prepared:
    """The conditional UPDATE setting state, state_changed_at and `fields` (parameters are the
    columns' names prefixed with v_), prepared once per set of fields."""
    table = Ec2Instance.__table__.c
    columns = ("state", "state_changed_at", *fields)
    return Prepared(
        update(Ec2Instance)
        .where(Ec2Instance.id == bindparam("instance"), Ec2Instance.state == bindparam("expected"))
        .values({c: bindparam(f"v_{c}", type_=table[c].type) for c in columns})
    )
