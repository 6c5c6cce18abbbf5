"""Cumulative counters cut into periods: boundaries, interpolation, restarts and gaps."""

from __future__ import annotations

import pytest

from mallee.controller.metric_intervals import (
    MAX_GAP,
    Interval,
    Reading,
    advance,
    due_status_period,
)


def r(at: float, *values: float, boot: float = 0.0) -> Reading:
    return Reading(at, boot, tuple(float(v) for v in values))


def test_a_first_reading_long_after_boot_publishes_nothing_and_anchors_there() -> None:
    anchor, intervals = advance(None, r(1030, 50, boot=100), 60)
    assert (anchor, intervals) == (r(1030, 50, boot=100), [])


def test_a_fresh_vm_is_counted_from_its_start() -> None:
    # Booted at 1010, first sample 5 s later: the counters count from zero at the boot.
    anchor, intervals = advance(None, r(1015, 4, boot=1010), 60)
    assert anchor == r(1010, 0, boot=1010)
    assert intervals == []
    anchor, intervals = advance(anchor, r(1025, 14, boot=1010), 60)
    # 1020 is the boundary: 10 of the 15 s since the boot, interpolated linearly.
    assert intervals == [Interval(960, 10, (pytest.approx(14 * 10 / 15),))]
    assert anchor.at == 1020


def test_a_boundary_is_interpolated_between_the_samples_around_it() -> None:
    anchor = r(60, 100)
    # Without the sample before the boundary, the reading at 120 is interpolated from 60.
    alone, intervals = advance(anchor, r(125, 300), 60)
    assert intervals == [Interval(60, 60, (pytest.approx(100 + 200 * 60 / 65 - 100),))]
    # With it (at 115, value 150), from 115 to 125: 150 + 150 * 5/10 = 225.
    near, intervals = advance(anchor, r(125, 300), 60, before=r(115, 150))
    assert intervals == [Interval(60, 60, (pytest.approx(125),))]
    assert near == r(120, 225)
    assert alone.at == near.at == 120


def test_the_periods_add_up_to_the_counters_growth() -> None:
    anchor: Reading | None = None
    total = 0.0
    value = 0.0
    for step in range(1, 400):
        value += step % 7  # uneven growth
        sample = r(1000 + 5 * step, value)
        anchor, intervals = advance(anchor, sample, 60)
        total += sum(i.deltas[0] for i in intervals)
    assert anchor is not None and anchor.at == 2940
    # Everything from the first sample (value 1) to the last boundary is published once.
    assert total == pytest.approx(anchor.values[0] - 1)


def test_several_boundaries_between_two_samples_each_get_a_share() -> None:
    anchor, intervals = advance(r(60, 0), r(240, 180), 60)
    assert [(i.start, i.seconds) for i in intervals] == [(60, 60), (120, 60), (180, 60)]
    assert [i.deltas[0] for i in intervals] == [pytest.approx(60)] * 3
    assert anchor == r(240, 180)


def test_a_stale_sample_changes_nothing() -> None:
    anchor = r(120, 10)
    assert advance(anchor, r(118, 9), 60) == (anchor, [])
    assert advance(anchor, r(120, 10), 60) == (anchor, [])


def test_a_restart_counts_anew_from_the_new_boot() -> None:
    anchor = r(120, 500, boot=10)
    # The VM restarted at 150; at 185 its counters read 40: from 150 on, nothing before.
    new, intervals = advance(anchor, r(185, 40, boot=150), 60)
    assert intervals == [Interval(120, 30, (pytest.approx(40 * 30 / 35),))]
    assert new.at == 180 and new.booted_at == 150


def test_a_counter_going_down_is_a_restart_even_without_boot_times() -> None:
    new, intervals = advance(r(120, 500), r(185, 40), 60)
    # Nothing is known of when the new process started: counting starts at the sample.
    assert (new, intervals) == (r(185, 40), [])


def test_a_long_gap_is_not_made_up() -> None:
    anchor = r(120, 10)
    late = r(120 + MAX_GAP + 30, 5000)
    assert advance(anchor, late, 60) == (late, [])


def test_a_gap_within_bounds_is_spread_evenly() -> None:
    _, intervals = advance(r(120, 0), r(420, 300), 60)
    assert [i.start for i in intervals] == [120, 180, 240, 300, 360]
    assert all(i.deltas[0] == pytest.approx(60) for i in intervals)


def test_volumes_count_from_their_first_reading_not_the_boot() -> None:
    anchor, intervals = advance(None, r(1015, 4, boot=1010), 60, from_boot=False)
    assert (anchor, intervals) == (r(1015, 4, boot=1010), [])


def test_status_checks_are_due_once_per_closed_period() -> None:
    assert due_status_period(120, 150, 60) is None
    assert due_status_period(120, 181, 60) == 120
    # Behind by several periods: only the last closed one.
    assert due_status_period(120, 600, 60) == 540
    assert due_status_period(300, 599, 300) is None
