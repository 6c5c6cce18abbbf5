"""The controller's step that publishes the built-in metrics (AWS/EC2, AWS/EBS).

It reads the nodes' cumulative counters, cuts them into periods (`metric_intervals`) and stores
each closed period's datapoints (`builtin_metrics`) with `mallee.metrics.store.put`, in the
transaction that moves the source's row in `metric_sources` to the boundary it reached, by a
conditional UPDATE from the row it read. A controller killed between two steps therefore
resumes from the last boundary it stored, and a second controller racing it (a lease handed
over) loses its transaction instead of storing a period twice.

The nodes report every few seconds, so a period shows up in the statistics a few seconds after
it closes: PUBLISH_EVERY plus the node's REPORT_EVERY at most.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import CursorResult, Table, and_, bindparam, delete, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from mallee.controller import builtin_metrics as bm
from mallee.controller.metric_intervals import Reading, advance, due_status_period
from mallee.metrics import store as metric_store
from mallee.metrics.points import Datum
from mallee.store import Store
from mallee.store.tables.compute import InstanceCounters, VolumeCounters
from mallee.store.tables.ebs import Ec2Volume
from mallee.store.tables.ec2 import Ec2Instance, Ec2Tag
from mallee.store.tables.metric_sources import InstanceMetricSource, VolumeMetricSource

log = logging.getLogger(__name__)

PUBLISH_EVERY = 5.0
# Sources handled per transaction: one lost race costs only its batch, retried next pass; and
# a batch's transaction holds SQLite's write lock (which placement and the api's writes wait
# for) for its statements only, ~40 ms at 100 detailed instances.
BATCH = 100
# How often the publisher's thread looks whether a pass is due, and forgets gone sources.
CHECK_EVERY = 0.5
FORGET_EVERY = 10.0
# A running instance whose counters are older than this has no live VM (the node rewrites
# them at least every SAMPLE_REFRESH, 30 s, while the VM runs): its instance check fails.
STALE_AFTER = 45.0
# A just started instance is initializing: no instance check yet (DescribeInstanceStatus's).
INITIALIZING = 60.0

_ICOLS = [getattr(InstanceCounters, c) for c in bm.INSTANCE_COUNTERS]
_VCOLS = [getattr(VolumeCounters, c) for c in bm.VOLUME_COUNTERS]


class RaceLost(Exception):
    """Another controller moved a source row since this one read it."""


@dataclass(frozen=True, slots=True)
class _Step:
    """One source's change: the datapoints to store and its row's new values, guarded by the
    values it had (None: no row yet)."""

    key: str
    volume: bool
    data: list[Datum]
    row: dict[str, Any]
    expected: tuple[float, float] | None


class MetricsPublisher:
    def __init__(self) -> None:
        # The last reading seen per source (in memory only: it refines where a boundary is
        # interpolated from; a restarted controller does without it).
        self._seen: dict[str, Reading] = {}
        self._at = 0.0

    def due(self, now: float) -> bool:
        return now - self._at >= PUBLISH_EVERY

    def run(self, store: Store, *, now: float, silent_nodes: set[str]) -> int:
        """One pass; returns how many datapoints it stored."""
        self._at = now
        steps = self._instance_steps(store, now, silent_nodes)
        steps += self._volume_steps(store)
        stored = 0
        for start in range(0, len(steps), BATCH):
            stored += self._store(store, steps[start : start + BATCH])
        return stored

    def forget_gone(self, store: Store) -> None:
        """Rows of instances terminated or gone, and of volumes no longer in use."""
        with store.session() as s:
            s.execute(
                delete(InstanceMetricSource).where(
                    ~select(Ec2Instance.id)
                    .where(
                        Ec2Instance.id == InstanceMetricSource.instance_id,
                        Ec2Instance.state != "terminated",
                    )
                    .exists()
                )
            )
            s.execute(
                delete(VolumeMetricSource).where(
                    ~select(Ec2Volume.id)
                    .where(
                        Ec2Volume.id == VolumeMetricSource.volume_id, Ec2Volume.state == "in-use"
                    )
                    .exists()
                )
            )
            live = set(s.scalars(select(InstanceMetricSource.instance_id)))
            live |= set(s.scalars(select(VolumeMetricSource.volume_id)))
        self._seen = {k: v for k, v in self._seen.items() if k in live}

    # --- instances ----------------------------------------------------------------------------

    def _instance_steps(self, store: Store, now: float, silent: set[str]) -> list[_Step]:
        src = InstanceMetricSource
        with store.read() as s:
            rows = s.execute(
                select(
                    Ec2Instance.id,
                    Ec2Instance.account_id,
                    Ec2Instance.image_id,
                    Ec2Instance.instance_type,
                    Ec2Instance.cores,
                    Ec2Instance.monitoring,
                    Ec2Instance.state,
                    Ec2Instance.node,
                    Ec2Instance.state_changed_at,
                    InstanceCounters.sampled_at,
                    InstanceCounters.booted_at.label("sample_boot"),
                    *_labelled(InstanceCounters, bm.INSTANCE_COUNTERS, "c_"),
                    src.at,
                    src.booted_at.label("anchor_boot"),
                    *_labelled(src, bm.INSTANCE_COUNTERS, "a_"),
                    src.status_at,
                )
                .outerjoin(InstanceCounters, InstanceCounters.instance_id == Ec2Instance.id)
                .outerjoin(src, src.instance_id == Ec2Instance.id)
                .where(Ec2Instance.state.in_(("pending", "running")))
            ).all()
            tags = s.execute(
                select(Ec2Tag.resource_id, Ec2Tag.value).where(
                    Ec2Tag.key == bm.ASG_TAG, Ec2Tag.resource_id.in_([r.id for r in rows])
                )
            ).all()
        groups = {t.resource_id: t.value for t in tags}
        steps = []
        for r in rows:
            facts = bm.InstanceFacts(
                r.account_id,
                r.id,
                r.image_id,
                r.instance_type,
                int(r.cores),
                bool(r.monitoring),
                groups.get(r.id, ""),
            )
            anchor = _reading(r, "at", "anchor_boot", bm.INSTANCE_COUNTERS, "a_")
            data: list[Datum] = []
            new_anchor = anchor
            sample = _reading(r, "sampled_at", "sample_boot", bm.INSTANCE_COUNTERS, "c_")
            if sample is not None:
                new_anchor, intervals = advance(
                    anchor, sample, facts.period, before=self._seen.get(r.id)
                )
                self._seen[r.id] = sample
                for interval in intervals:
                    data += bm.ec2_data(facts, interval)
            status_at = float(r.status_at or 0.0)
            new_status = status_at
            if r.state == "running":
                if not status_at:
                    # Counting starts with the first whole period it runs.
                    new_status = float(now // facts.period * facts.period)
                elif (due := due_status_period(status_at, now, facts.period)) is not None:
                    system = r.node in silent
                    stale = sample is None or now - sample.at > STALE_AFTER
                    booting = now - float(r.state_changed_at) <= INITIALIZING
                    data += bm.status_data(facts, due, system, stale and not system and not booting)
                    new_status = due + facts.period
            if new_anchor is None:
                if new_status == status_at:
                    continue
                # No reading yet (its VM has never reported): the row keeps the status checks
                # only, its `at` 0 meaning no reading.
                new_anchor = Reading(0.0, 0.0, tuple(0.0 for _ in bm.INSTANCE_COUNTERS))
            elif anchor == new_anchor and new_status == status_at and not data:
                continue
            row = {
                "at": new_anchor.at,
                "booted_at": new_anchor.booted_at,
                **dict(zip(bm.INSTANCE_COUNTERS, new_anchor.values, strict=True)),
                "status_at": new_status,
            }
            expected = None if r.at is None else (float(r.at), status_at)
            steps.append(_Step(r.id, False, data, row, expected))
        return steps

    # --- volumes ------------------------------------------------------------------------------

    def _volume_steps(self, store: Store) -> list[_Step]:
        src = VolumeMetricSource
        with store.read() as s:
            rows = s.execute(
                select(
                    VolumeCounters.volume_id,
                    VolumeCounters.instance_id,
                    Ec2Volume.account_id,
                    VolumeCounters.sampled_at,
                    InstanceCounters.booted_at.label("sample_boot"),
                    *_labelled(VolumeCounters, bm.VOLUME_COUNTERS, "c_"),
                    src.instance_id.label("anchor_instance"),
                    src.at,
                    src.booted_at.label("anchor_boot"),
                    *_labelled(src, bm.VOLUME_COUNTERS, "a_"),
                )
                .join(Ec2Volume, Ec2Volume.id == VolumeCounters.volume_id)
                .outerjoin(
                    InstanceCounters, InstanceCounters.instance_id == VolumeCounters.instance_id
                )
                .outerjoin(src, src.volume_id == VolumeCounters.volume_id)
                .where(Ec2Volume.state == "in-use")
            ).all()
        steps = []
        for r in rows:
            sample = _reading(r, "sampled_at", "sample_boot", bm.VOLUME_COUNTERS, "c_")
            stored = _reading(r, "at", "anchor_boot", bm.VOLUME_COUNTERS, "a_")
            assert sample is not None
            # Counters count from the volume's plugging into this VM, not from its boot: a
            # volume seen anew (or in another instance) starts from its reading.
            same = r.anchor_instance == r.instance_id
            anchor = stored if same else None
            before = self._seen.get(r.volume_id) if same else None
            new_anchor, intervals = advance(
                anchor, sample, bm.EBS_PERIOD, before=before, from_boot=False
            )
            self._seen[r.volume_id] = sample
            data = [d for i in intervals for d in bm.ebs_data(r.account_id, r.volume_id, i)]
            if anchor is not None and anchor == new_anchor:
                continue
            row = {
                "instance_id": r.instance_id,
                "at": new_anchor.at,
                "booted_at": new_anchor.booted_at,
                **dict(zip(bm.VOLUME_COUNTERS, new_anchor.values, strict=True)),
            }
            expected = None if stored is None else (stored.at, 0.0)
            steps.append(_Step(r.volume_id, True, data, row, expected))
        return steps

    # --- storing ------------------------------------------------------------------------------

    def _store(self, store: Store, steps: Sequence[_Step]) -> int:
        # Worked out before the transaction: it holds the write lock only for the statements.
        adds = metric_store.additions(bm.combine([d for step in steps for d in step.data]))
        try:
            with store.session() as s:
                _move_all(s, steps)
                metric_store.write(s, adds)
        except (RaceLost, IntegrityError):
            # Nothing of the batch was stored; the next pass reads the rows again.
            log.info("metrics publisher: another controller moved a source; retrying")
            for step in steps:
                self._seen.pop(step.key, None)
            return 0
        return sum(len(step.data) for step in steps)


class PublisherThread:
    """The publisher's passes, and its forgetting of gone sources, on a thread of their own
    while this controller is active: a pass after a minute boundary takes most of a second
    with 1000 instances, which the tick's placement must not wait for. A pass makes the same
    transactions on any thread, so a controller killed (or losing its lease) mid-pass repeats
    and loses nothing."""

    def __init__(
        self,
        store: Store,
        silent_nodes: Callable[[Store, float], set[str]],
        publisher: MetricsPublisher | None = None,
    ) -> None:
        self.store = store
        self.publisher = publisher or MetricsPublisher()
        self._silent = silent_nodes
        self._active = threading.Event()
        self._stop = threading.Event()
        self._forgot_at = 0.0
        self._thread = threading.Thread(target=self._loop, name="metrics-publisher", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def set_active(self, active: bool) -> None:
        """Whether this controller holds the lease (a standby publishes nothing)."""
        if active:
            self._active.set()
        else:
            self._active.clear()

    def stop(self, timeout: float = 30.0) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout)

    def step(self, now: float) -> int:
        """What one look of the thread does; returns the datapoints stored."""
        if now - self._forgot_at >= FORGET_EVERY:
            self._forgot_at = now
            self.publisher.forget_gone(self.store)
        if not self.publisher.due(now):
            return 0
        return self.publisher.run(self.store, now=now, silent_nodes=self._silent(self.store, now))

    def _loop(self) -> None:
        while not self._stop.is_set():
            if self._active.is_set():
                try:
                    self.step(time.time())
                except Exception:
                    # One failed pass must not end publishing; the next looks again.
                    log.exception("metrics publisher pass failed")
            self._stop.wait(CHECK_EVERY)


def _move_all(s: Session, steps: Sequence[_Step]) -> None:
    """Each step's row inserted (a new source) or moved from the values it was read with, in
    two statements per table: a row another controller moved first fails the whole batch."""
    conn = s.connection()
    for volume, entity in ((False, InstanceMetricSource), (True, VolumeMetricSource)):
        table = cast(Table, entity.__table__)
        key = table.c.volume_id if volume else table.c.instance_id
        mine = [step for step in steps if step.volume == volume]
        new = [{key.name: step.key, **step.row} for step in mine if step.expected is None]
        if new:
            conn.execute(insert(table), new)
        moved = [step for step in mine if step.expected is not None]
        if not moved:
            continue
        guard = and_(key == bindparam("k_key"), table.c.at == bindparam("k_at"))
        if not volume:
            guard = and_(guard, table.c.status_at == bindparam("k_status"))
        columns = list(moved[0].row)
        statement = update(table).where(guard).values({c: bindparam(f"v_{c}") for c in columns})
        params = []
        for step in moved:
            assert step.expected is not None
            at, status = step.expected
            params.append(
                {"k_key": step.key, "k_at": at, "k_status": status}
                | {f"v_{c}": v for c, v in step.row.items()}
            )
        if volume:
            for p in params:
                del p["k_status"]
        done = conn.execute(statement, params)
        if cast("CursorResult[Any]", done).rowcount != len(moved):
            raise RaceLost(", ".join(step.key for step in moved))


def _labelled(table: Any, names: Sequence[str], prefix: str) -> list[Any]:
    return [getattr(table, n).label(prefix + n) for n in names]


def _reading(row: Any, at: str, boot: str, names: Sequence[str], prefix: str) -> Reading | None:
    """The reading in `row`'s columns `at`, `boot` and `prefix`+names; None when `at` is NULL
    (the outer join found no row) or 0 (a source row without a reading yet)."""
    when = getattr(row, at)
    if not when:
        return None
    values = tuple(float(getattr(row, prefix + n) or 0.0) for n in names)
    return Reading(float(when), float(getattr(row, boot) or 0.0), values)
