"""The roll-up tiers: what a put writes, what a statistics read returns, what purge keeps."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import func, select

from mallee.metrics import listing
from mallee.metrics import store as metrics
from mallee.metrics.points import Datum
from mallee.store import Store
from mallee.store.tables.iam import IamAccount
from mallee.store.tables.metrics import CwDatapoint, CwMetric

ACCOUNT = "111122223333"
DIMS = (("InstanceId", "i-1"),)
# A day boundary, so every tier's buckets start together.
NOW = 1_800_000_000.0 - 1_800_000_000 % 86400 + 86400


@pytest.fixture
def db(store: Store) -> Store:
    with store.session() as s:
        s.add(IamAccount(id=ACCOUNT, name="acct", created_at=dt.datetime.now(dt.UTC)))
    return store


def datum(
    ts: float, value: float, *, name: str = "CPU", unit: str = "Percent", resolution: int = 60
) -> Datum:
    return Datum(
        ACCOUNT, "Test", name, DIMS, ts, unit, 1.0, value, value, value, ((value, 1.0),),
        resolution,
    )  # fmt: skip


def test_a_put_adds_into_every_tier_and_reads_back_per_period(db: Store) -> None:
    start = NOW - 3600
    with db.session() as s:
        metrics.put(s, [datum(start + i * 10, float(i)) for i in range(360)], now=NOW)
    with db.read() as s:
        tiers = dict(
            s.execute(select(CwDatapoint.tier, func.count()).group_by(CwDatapoint.tier)).all()
        )
        minute = metrics.statistics(s, ACCOUNT, "Test", "CPU", DIMS, start, NOW, 60, now=NOW)
        summed = metrics.statistics(
            s, ACCOUNT, "Test", "CPU", DIMS, start, NOW, 300, with_bins=False, now=NOW
        )
        hour = metrics.statistics(s, ACCOUNT, "Test", "CPU", DIMS, start, NOW, 3600, now=NOW)
    # Standard resolution: no 1-second rows; 60 minutes, 12 five-minute buckets, one hour.
    assert tiers == {60: 60, 300: 12, 3600: 1}
    assert len(minute) == 60
    assert (minute[0].timestamp, minute[0].count, minute[0].sum) == (start, 6, 15)
    assert (minute[0].minimum, minute[0].maximum, minute[0].unit) == (0, 5, "Percent")
    assert [b.count for b in summed] == [30] * 12
    assert summed[1].sum == sum(range(30, 60)) and summed[1].percentile(50) is None
    assert len(hour) == 1 and hour[0].count == 360 and hour[0].average == 179.5
    assert abs((hour[0].percentile(90) or 0) - 323) <= 3.3


def test_puts_into_one_bucket_add_up_and_units_stay_apart(db: Store) -> None:
    with db.session() as s:
        metrics.put(s, [datum(NOW - 50, 10), datum(NOW - 40, 30)], now=NOW)
    with db.session() as s:
        metrics.put(s, [datum(NOW - 30, 20), datum(NOW - 20, 7, unit="Count")], now=NOW)
    with db.read() as s:
        both = metrics.statistics(s, ACCOUNT, "Test", "CPU", DIMS, NOW - 60, NOW, 60, now=NOW)
        pct = metrics.statistics(
            s, ACCOUNT, "Test", "CPU", DIMS, NOW - 60, NOW, 60, "Percent", now=NOW
        )
    assert [(b.unit, b.count, b.sum) for b in both] == [("Count", 1, 7), ("Percent", 3, 60)]
    assert (pct[0].minimum, pct[0].maximum) == (10, 30)
    assert pct[0].percentile(50) == pytest.approx(20, rel=0.01)


def test_a_statistic_set_has_percentiles_only_when_its_samples_are_one_value(db: Store) -> None:
    spread = Datum(ACCOUNT, "Test", "Lat", DIMS, NOW - 120, "None", 4, 10, 1, 4)
    flat = Datum(ACCOUNT, "Test", "Flat", DIMS, NOW - 120, "None", 4, 12, 3, 3)
    with db.session() as s:
        metrics.put(s, [spread, flat], now=NOW)
    with db.read() as s:
        lat = metrics.statistics(s, ACCOUNT, "Test", "Lat", DIMS, NOW - 180, NOW, 60, now=NOW)
        fl = metrics.statistics(s, ACCOUNT, "Test", "Flat", DIMS, NOW - 180, NOW, 60, now=NOW)
    assert lat[0].count == 4 and lat[0].percentile(50) is None
    assert fl[0].percentile(99) == 3


def test_high_resolution_data_is_read_by_the_second(db: Store) -> None:
    with db.session() as s:
        metrics.put(s, [datum(NOW - 20 + i, 1.0, resolution=1) for i in range(20)], now=NOW)
    with db.read() as s:
        tens = metrics.statistics(s, ACCOUNT, "Test", "CPU", DIMS, NOW - 20, NOW, 10, now=NOW)
        minute = metrics.statistics(s, ACCOUNT, "Test", "CPU", DIMS, NOW - 60, NOW, 60, now=NOW)
    assert [(b.timestamp, b.count) for b in tens] == [(NOW - 20, 10), (NOW - 10, 10)]
    assert [b.count for b in minute] == [20]


def test_the_start_is_rounded_as_aws_rounds_it() -> None:
    assert metrics.align_start(NOW - 61, 60, NOW) == NOW - 120
    assert metrics.align_start(NOW - 61, 10, NOW) == NOW - 61
    old = NOW - 20 * 86400 - 61
    assert metrics.align_start(old, 300, NOW) == NOW - 20 * 86400 - 300
    assert metrics.align_start(old, 60, NOW) == NOW - 20 * 86400 - 120
    assert metrics.tier_for(int(NOW - 300), 600) == 300


def test_purge_keeps_each_tier_for_its_retention(db: Store) -> None:
    points = [
        datum(NOW - 3600 * 4, 1.0, resolution=1),  # 1-second row expired, coarser ones kept
        datum(NOW - 86400 * 20, 2.0),  # only the 5-minute and hourly rows outlive 15 days
        datum(NOW - 86400 * 100, 3.0),  # only the hourly row outlives 63 days
    ]
    with db.session() as s:
        metrics.put(s, points, now=NOW)
    with db.session() as s:
        assert metrics.purge(s, now=NOW) == 4
    with db.read() as s:
        left = s.execute(select(CwDatapoint.tier, func.count()).group_by(CwDatapoint.tier)).all()
    assert dict(left) == {60: 1, 300: 2, 3600: 3}
    # A metric with no data for longer than the longest tier is gone with its rows.
    with db.session() as s:
        metrics.purge(s, now=NOW + 456 * 86400)
    with db.read() as s:
        assert s.execute(select(func.count()).select_from(CwMetric)).scalar() == 0
        assert s.execute(select(func.count()).select_from(CwDatapoint)).scalar() == 0


def test_list_metrics_filters_and_pages(db: Store) -> None:
    data = [
        Datum(ACCOUNT, ns, name, dims, NOW - 60, "None", 1, 1, 1, 1)
        for ns in ("A", "B")
        for name in ("m1", "m2")
        for dims in ((("InstanceId", "i-1"),), (("InstanceId", "i-2"), ("Type", "t1")), ())
    ]
    with db.session() as s:
        metrics.put(s, data, now=NOW - 4 * 3600)
        metrics.put(s, data[:1], now=NOW)
    with db.read() as s:
        page, after = listing.list_metrics(s, ACCOUNT, limit=5, now=NOW)
        rest, end = listing.list_metrics(s, ACCOUNT, limit=10, after=after, now=NOW)
        b_m2, _ = listing.list_metrics(s, ACCOUNT, namespace="B", name="m2", now=NOW)
        typed, _ = listing.list_metrics(s, ACCOUNT, dimensions=[("Type", None)], now=NOW)
        i1, _ = listing.list_metrics(s, ACCOUNT, dimensions=[("InstanceId", "i-1")], now=NOW)
        recent, _ = listing.list_metrics(s, ACCOUNT, recently_active=True, now=NOW)
        later, _ = listing.list_metrics(s, ACCOUNT, now=NOW + 15 * 86400)
    assert len(page) == 5 and after is not None and len(rest) == 7 and end is None
    assert {m.id for m in page}.isdisjoint(m.id for m in rest)
    assert [m.namespace for m in page + rest] == ["A"] * 6 + ["B"] * 6
    assert len(b_m2) == 3 and {m.name for m in b_m2} == {"m2"}
    assert len(typed) == 4 and all(dict(m.dimensions)["Type"] == "t1" for m in typed)
    assert len(i1) == 4
    assert [(m.namespace, m.name, m.dimensions) for m in recent] == [("A", "m1", DIMS)]
    assert later == []
