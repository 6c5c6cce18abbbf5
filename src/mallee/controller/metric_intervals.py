"""Cumulative counters cut into periods: the arithmetic of the built-in metrics publisher.

A node samples each VM's cumulative counters every few seconds. A period's figure is the
counters' growth between its two boundaries, each boundary's reading interpolated between the
two samples around it, so the growth over consecutive periods adds up to the counters' own and
no sample counts twice. Counters start over from zero when the VM process does (a reboot, a
stop and start, a relaunch after a crash): a new boot time, or a counter going down, says so.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

# Longer than this between two readings (a node silent, the controller down) and nothing is
# made up for the gap: its periods stay empty, as in AWS, and publishing resumes after it.
MAX_GAP = 900.0
# A VM first seen this soon after it started is counted from its start (its counters from
# zero then), so its first minute is not lost; one seen later starts from its first reading.
FROM_BOOT = 120.0
# Boot times read on two occasions may differ by this much for the same process (the host's
# btime is whole seconds).
BOOT_SLACK = 2.0


@dataclass(frozen=True, slots=True)
class Reading:
    """Cumulative counters at `at` (epoch seconds), of the VM process started at `booted_at`
    (0: unknown)."""

    at: float
    booted_at: float
    values: tuple[float, ...]


@dataclass(frozen=True, slots=True)
class Interval:
    """One period's growth: `start` is the period's start (the datapoint's timestamp) and
    `seconds` how much of it the growth covers (less than the period when counting began or
    resumed inside it)."""

    start: float
    seconds: float
    deltas: tuple[float, ...]


def restarted(anchor: Reading, sample: Reading) -> bool:
    """Whether the counters started over between the two readings."""
    if (
        anchor.booted_at
        and sample.booted_at
        and abs(sample.booted_at - anchor.booted_at) > BOOT_SLACK
    ):
        return True
    return any(new < old for new, old in zip(sample.values, anchor.values, strict=True))


def first_anchor(sample: Reading, from_boot: bool = True) -> Reading:
    """Where counting starts for a VM seen for the first time (or after its counters started
    over): its start, when that is recent and known (and the counters count from it), else
    this reading."""
    if from_boot and sample.booted_at and 0 <= sample.at - sample.booted_at <= FROM_BOOT:
        return Reading(sample.booted_at, sample.booted_at, tuple(0.0 for _ in sample.values))
    return sample


def advance(
    anchor: Reading | None,
    sample: Reading,
    period: int,
    before: Reading | None = None,
    *,
    from_boot: bool = True,
) -> tuple[Reading, list[Interval]]:
    """The periods that closed between `anchor` (the last boundary published, or where
    counting started) and `sample`, and the new anchor (the last boundary crossed, or where
    counting starts anew).

    `before` is a reading taken after the anchor and before `sample` (the publisher keeps the
    last one it saw in memory): a boundary after it is interpolated from it rather than from
    the anchor, which is closer. Without it the figures are the same in total, only spread
    over the periods less finely. `from_boot`: whether the counters count from the VM's
    start (an instance's) or from some later moment (a volume's, from its plugging)."""
    if anchor is None:
        anchor = first_anchor(sample, from_boot)
    elif sample.at <= anchor.at:
        return anchor, []
    elif restarted(anchor, sample):
        fresh = first_anchor(sample, from_boot)
        # A restart inside the last published period: the rest of that period is lost (the old
        # process's last counters are gone), and the new one counts from the boundary on.
        anchor = fresh if fresh.at >= anchor.at else sample
        before = None
    if sample.at - anchor.at > MAX_GAP:
        return sample, []
    if before is not None and not (
        anchor.at < before.at < sample.at and not restarted(anchor, before)
    ):
        before = None
    intervals: list[Interval] = []
    while True:
        start = math.floor(anchor.at / period) * period
        boundary = start + period
        if sample.at < boundary:
            return anchor, intervals
        low = before if before is not None and before.at <= boundary else anchor
        share = (boundary - low.at) / (sample.at - low.at)
        reading = tuple(
            lo + (hi - lo) * share for lo, hi in zip(low.values, sample.values, strict=True)
        )
        deltas = tuple(max(0.0, new - old) for new, old in zip(reading, anchor.values, strict=True))
        intervals.append(Interval(start, boundary - anchor.at, deltas))
        anchor = Reading(boundary, sample.booted_at, reading)


def due_status_period(last: float, now: float, period: int) -> float | None:
    """The start of the period whose status checks are due (the latest that closed after
    `last`, the end of the last one published), or None. Periods missed while nothing ran
    are not made up."""
    closed = math.floor(now / period) * period
    if closed <= last:
        return None
    return closed - period
