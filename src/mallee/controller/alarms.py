"""The alarm engine: evaluates every alarm on its period, records its state changes and runs
the actions they owe.

Each tick:
1. Metric alarms whose `next_eval_at` has come are evaluated over their last EvaluationPeriods
   complete periods (controller/alarm_eval.py). An alarm is evaluated just after each of its
   periods closes (1, 4 and 8 seconds after, so data published a few seconds late still
   counts within 10 seconds) and at least once a minute, as AWS evaluates, so late data and a
   SetAlarmState are corrected.
2. Composite alarms are evaluated when one of their children changed state since they last
   were (or when they are new), in rounds so a composite of composites follows in the same
   tick; before the metric alarms too, so a SetAlarmState on a child is seen before the
   child's evaluation undoes it (a child changed after its parents' pass waits a tick).
   SetAlarmState on a composite holds until a child changes, as in AWS.
3. The outbox's pending actions run (controller/alarm_actions.py).

A state change is one transaction (mallee.metrics.alarm_state.transition): the alarm row,
its history item and its outbox rows together, conditional on the state the engine read.
Every decision is made from the rows and the datapoints alone, so a restarted controller
evaluates again and changes nothing that is already true.
"""

from __future__ import annotations

import json
import logging
import math
import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, cast

from sqlalchemy import Table, bindparam, delete, select, update
from sqlalchemy.orm import Session

from mallee.controller import alarm_composite, alarm_reads
from mallee.controller.alarm_actions import AccountCalls, ActionRunner
from mallee.controller.alarm_eval import Decision, Rule, Slot, decide
from mallee.metrics import alarm_state
from mallee.metrics.points import Bucket
from mallee.store import Store
from mallee.store.tables.alarms import CwAlarm, CwAlarmAction, CwAlarmHistory

log = logging.getLogger(__name__)

# Seconds after a period closes at which its alarms are evaluated again.
SETTLE = (1.0, 4.0, 8.0)
# An alarm is evaluated at least this often (AWS: every minute).
EVERY = 60.0
# History is kept two weeks (AWS).
HISTORY_SECONDS = 14 * 86400.0
# Rounds of composite evaluation per tick (a chain of composites deeper than this follows in
# the next ticks).
COMPOSITE_ROUNDS = 8


class Reader(Protocol):
    """mallee.metrics.store.statistics, or a test's stand-in."""

    def __call__(
        self,
        s: Session,
        account_id: str,
        namespace: str,
        name: str,
        dimensions: Sequence[tuple[str, str]],
        start: float,
        end: float,
        period: int,
        unit: str | None = None,
        *,
        with_bins: bool = True,
    ) -> list[Bucket]: ...


class MathReader(Protocol):
    """A metric-math alarm's series: the ReturnData query of `queries` (the alarm's Metrics)
    over [start, end), as (timestamp, value) pairs. `mallee controller` is given one that asks
    GetMetricData as the alarm's account (cli/alarm_calls.py)."""

    def __call__(
        self,
        account_id: str,
        queries: list[dict[str, Any]],
        start: float,
        end: float,
        period: int,
    ) -> list[tuple[float, float]]: ...


def next_evaluation(now: float, period: int) -> float:
    """When an alarm of `period` evaluated at `now` is evaluated next."""
    boundary = math.floor(now / period) * period
    for offset in SETTLE:
        if boundary + offset > now:
            return min(boundary + offset, now + EVERY)
    return min(boundary + period + SETTLE[0], now + EVERY)


def merged(buckets: Sequence[Bucket]) -> dict[float, Bucket]:
    """One bucket per period: an alarm without a Unit sees the data of every unit together."""
    by_time: dict[float, Bucket] = {}
    for b in buckets:
        seen = by_time.get(b.timestamp)
        if seen is None:
            by_time[b.timestamp] = b
        else:
            by_time[b.timestamp] = Bucket(
                b.timestamp,
                seen.count + b.count,
                seen.sum + b.sum,
                min(seen.minimum, b.minimum),
                max(seen.maximum, b.maximum),
                seen.unit,
            )
    return by_time


@dataclass
class TickOutcome:
    evaluated: int = 0
    changed: int = 0
    composites: int = 0
    actions: int = 0
    changed_names: list[str] = field(default_factory=list)


def _rule_of(alarm: CwAlarm) -> Rule:
    extended = bool(alarm.extended_statistic)
    return Rule(
        comparison=alarm.comparison_operator,
        threshold=float(alarm.threshold or 0.0),
        evaluation_periods=alarm.evaluation_periods,
        datapoints_to_alarm=alarm.datapoints_to_alarm or alarm.evaluation_periods,
        treat_missing=alarm.treat_missing_data,
        period=_period_of(alarm),
        statistic=alarm.extended_statistic if extended else alarm.statistic,
        extended=extended,
    )


def _period_of(alarm: CwAlarm) -> int:
    if alarm.period:
        return alarm.period
    periods = [
        int(q.get("MetricStat", {}).get("Period") or q.get("Period") or 0)
        for q in json.loads(alarm.metrics or "[]")
    ]
    return max([p for p in periods if p] or [60])


def _metric_key(alarm: CwAlarm) -> alarm_reads.MetricKey:
    dimensions = tuple(sorted((str(n), str(v)) for n, v in json.loads(alarm.dimensions or "[]")))
    return (alarm.account_id, alarm.namespace, alarm.metric_name, dimensions)


class AlarmEngine:
    def __init__(
        self,
        store: Store,
        reader: Reader,
        calls: AccountCalls | None = None,
        *,
        math_reader: MathReader | None = None,
        region: str = "eucalyptus",
        batch_reads: bool = False,
    ) -> None:
        self.store = store
        self.reader = reader
        # Read the plain alarms' datapoints a group at a time (alarm_reads) rather than
        # through `reader` one by one: `reader` must then be the metric store's.
        self.batch_reads = batch_reads
        self.math_reader = math_reader
        self.actions = ActionRunner(store, calls, region=region)
        self._purged_at = 0.0

    # The tick ----------------------------------------------------------------------------
    def tick(self, now: float | None = None) -> TickOutcome:
        now = time.time() if now is None else now
        outcome = TickOutcome()
        # Composites first see the changes SetAlarmState made since the last tick, before an
        # evaluation of their children may undo them (AWS evaluates a composite on each of
        # its children's changes), then those the metric alarms make now.
        self.evaluate_composites(now, outcome)
        changed = self.evaluate_metric_alarms(now, outcome)
        if changed:
            self.evaluate_composites(now, outcome, changed)
        outcome.actions = self.actions.run(now)
        if now - self._purged_at >= 3600.0:
            self._purged_at = now
            self.purge_history(now)
        return outcome

    # Metric alarms -------------------------------------------------------------------------
    def evaluate_metric_alarms(self, now: float, outcome: TickOutcome) -> list[tuple[str, str]]:
        """Evaluates the metric alarms due; the (account, name) of those that changed."""
        with self.store.read() as s:
            due = list(
                s.scalars(
                    select(CwAlarm).where(
                        CwAlarm.next_eval_at <= now, CwAlarm.alarm_type == "MetricAlarm"
                    )
                )
            )
            # A child whose change its composite has not seen waits for the next tick, whose
            # composite pass comes first: evaluating it now could undo a SetAlarmState before
            # any composite saw it.
            unseen = alarm_composite.unseen_by_a_parent(s, due)
            due = [a for a in due if a.id not in unseen]
            read = self._read_batched(s, due, now) if self.batch_reads else {}
            decisions: list[tuple[CwAlarm, Decision | None]] = [
                (alarm, self._decide(s, alarm, now, read.get(alarm.id))) for alarm in due
            ]
        changed: list[tuple[str, str]] = []
        if not decisions:
            return changed
        outcome.evaluated += len(decisions)
        with self.store.session() as s:
            schedule = [
                {"alarm_id": a.id, "due": next_evaluation(now, _period_of(a))} for a, _ in decisions
            ]
            table = cast(Table, CwAlarm.__table__)
            s.connection().execute(
                update(table)
                .where(table.c.id == bindparam("alarm_id"))
                .values(next_eval_at=bindparam("due")),
                schedule,
            )
            wanted = [
                alarm_state.Change(alarm, d.state, d.reason, d.reason_data)
                for alarm, d in decisions
                if d is not None and d.state != alarm.state_value
            ]
            for done in alarm_state.transitions(s, wanted, now):
                outcome.changed += 1
                outcome.changed_names.append(done.alarm.name)
                changed.append((done.alarm.account_id, done.alarm.name))
        return changed

    def _read_batched(
        self, s: Session, due: Sequence[CwAlarm], now: float
    ) -> dict[int, list[Bucket]]:
        """The buckets of the due alarms on one metric without Unit or percentile, by alarm."""
        groups: dict[tuple[int, float, float], list[CwAlarm]] = defaultdict(list)
        for alarm in due:
            if alarm.metrics or alarm.extended_statistic or alarm.unit:
                continue
            period = _period_of(alarm)
            boundary = float(math.floor(now / period) * period)
            start = boundary - alarm.evaluation_periods * period
            groups[(period, start, boundary)].append(alarm)
        out: dict[int, list[Bucket]] = {}
        for (period, start, end), alarms in groups.items():
            keys = {a.id: _metric_key(a) for a in alarms}
            found = alarm_reads.read_many(s, list(set(keys.values())), start, end, period)
            for alarm_id, key in keys.items():
                out[alarm_id] = found[key]
        return out

    def _decide(
        self, s: Session, alarm: CwAlarm, now: float, read: list[Bucket] | None = None
    ) -> Decision | None:
        rule = _rule_of(alarm)
        period = rule.period
        boundary = math.floor(now / period) * period
        start = boundary - rule.evaluation_periods * period
        try:
            values = self._values(s, alarm, rule, start, boundary, read)
        except Exception:
            # One alarm whose metric cannot be read must not hold up the others.
            log.exception("alarm %s of %s could not be evaluated", alarm.name, alarm.account_id)
            return None
        slots = [
            Slot(t, *values.get(t, (None, 0.0)))
            for t in (start + k * period for k in range(rule.evaluation_periods))
        ]
        return decide(rule, slots, now)

    def _values(
        self,
        s: Session,
        alarm: CwAlarm,
        rule: Rule,
        start: float,
        end: float,
        read: list[Bucket] | None = None,
    ) -> dict[float, tuple[float | None, float]]:
        if alarm.metrics:
            if self.math_reader is None:
                raise RuntimeError("metric math alarms need the math reader")
            series = self.math_reader(
                alarm.account_id, json.loads(alarm.metrics), start, end, rule.period
            )
            return {float(t): (v, 1.0) for t, v in series}
        buckets = read
        if buckets is None:
            _, namespace, name, dimensions = _metric_key(alarm)
            buckets = self.reader(
                s,
                alarm.account_id,
                namespace,
                name,
                dimensions,
                start,
                end,
                rule.period,
                alarm.unit or None,
                with_bins=rule.extended,
            )
        out: dict[float, tuple[float | None, float]] = {}
        for t, bucket in merged(buckets).items():
            out[float(t)] = (bucket.statistic(rule.statistic), bucket.count)
        return out

    # Composite alarms ----------------------------------------------------------------------
    def evaluate_composites(
        self, now: float, outcome: TickOutcome, changed: list[tuple[str, str]] | None = None
    ) -> None:
        """The composites due (`changed` None), or the parents of the `changed` alarms; then
        round by round the parents of the composites that changed."""
        for _ in range(COMPOSITE_ROUNDS):
            done = alarm_composite.evaluate_due(self.store, now, changed)
            outcome.composites += done.evaluated
            outcome.changed += done.changed
            outcome.changed_names.extend(name for _, name in done.changed_names)
            if not done.changed:
                return
            changed = done.changed_names

    # Housekeeping --------------------------------------------------------------------------
    def purge_history(self, now: float) -> None:
        with self.store.session() as s:
            s.execute(
                delete(CwAlarmHistory).where(CwAlarmHistory.timestamp < now - HISTORY_SECONDS)
            )
            # Finished outbox rows are kept as long as the history that tells of them.
            s.execute(
                delete(CwAlarmAction).where(
                    CwAlarmAction.state.in_(("done", "failed")),
                    CwAlarmAction.transitioned_at < now - HISTORY_SECONDS,
                )
            )
