"""The cron evaluator scheduled actions' Recurrence runs on."""

from __future__ import annotations

import datetime as dt

import pytest

from mallee import cron


def at(text: str, tz: str = "UTC") -> float:
    zone = cron.zone(tz)
    return dt.datetime.fromisoformat(text).replace(tzinfo=zone).timestamp()


def iso(moment: float | None, tz: str = "UTC") -> str:
    assert moment is not None
    return dt.datetime.fromtimestamp(moment, cron.zone(tz)).strftime("%Y-%m-%d %H:%M")


@pytest.mark.parametrize(
    ("expression", "after", "expected"),
    [
        ("*/5 * * * *", "2026-12-07 10:02", "2026-12-07 10:05"),
        ("*/5 * * * *", "2026-12-07 10:05", "2026-12-07 10:10"),
        ("0 9 * * MON-FRI", "2026-12-05 10:00", "2026-12-07 09:00"),
        ("30 18 1 * *", "2026-12-07 10:00", "2027-01-01 18:30"),
        ("0 0 29 FEB *", "2026-03-01 00:00", "2028-02-29 00:00"),
        # Both day fields restricted: either matches (Vixie cron).
        ("0 12 15 * 0", "2026-12-07 13:00", "2026-12-13 12:00"),
        ("0 0 * * 7", "2026-12-07 00:00", "2026-12-13 00:00"),
        ("5,10-12/2 3 * * *", "2026-12-07 03:06", "2026-12-07 03:10"),
    ],
)
def test_next_after(expression: str, after: str, expected: str) -> None:
    assert iso(cron.next_after(expression, "", at(after))) == expected


def test_time_zones_and_a_skipped_local_time() -> None:
    tz = "America/New_York"
    moment = cron.next_after("0 8 * * *", tz, at("2026-12-07 09:00", tz))
    assert iso(moment, tz) == "2026-12-08 08:00"
    assert iso(moment) == "2026-12-08 13:00"
    # 02:30 does not exist on 2027-03-14 in New York: that day is skipped.
    moment = cron.next_after("30 2 * * *", tz, at("2027-03-13 03:00", tz))
    assert iso(moment, tz) == "2027-03-15 02:30"


@pytest.mark.parametrize(
    "bad", ["* * * *", "60 * * * *", "* 24 * * *", "*/0 * * * *", "5-1 * * * *", "x * * * *"]
)
def test_bad_expressions(bad: str) -> None:
    with pytest.raises(cron.CronError):
        cron.parse(bad)


def test_bad_time_zone() -> None:
    with pytest.raises(cron.CronError):
        cron.zone("Mars/Olympus")
