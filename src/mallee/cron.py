"""Unix cron expressions (minute hour day-of-month month day-of-week), as Auto Scaling's
scheduled actions take them in Recurrence: the API checks them and the controller's group
engine computes each next run, so the evaluator sits below both.

Fields take `*`, numbers, ranges `a-b`, steps `*/n` and `a-b/n`, lists `a,b`, month and day
names (JAN, MON) and 7 for Sunday. When both day fields are restricted a day matching either
runs, as Vixie cron. Times are read in an IANA time zone; a local time a DST change skips is
not run that day, and one it repeats runs once (its first occurrence).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

_MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
_DAYS = ("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT")
# (low, high, names) of each field.
_FIELDS: tuple[tuple[int, int, tuple[str, ...]], ...] = (
    (0, 59, ()),
    (0, 23, ()),
    (1, 31, ()),
    (1, 12, _MONTHS),
    (0, 7, _DAYS),
)
# Far enough for any valid expression (Feb 29 on a given weekday recurs within 28 years).
_HORIZON_DAYS = 366 * 29


class CronError(ValueError):
    """The expression or time zone is not valid."""


@dataclass(frozen=True, slots=True)
class Cron:
    minutes: frozenset[int]
    hours: frozenset[int]
    days: frozenset[int]
    months: frozenset[int]
    weekdays: frozenset[int]  # 0 = Sunday
    any_day: bool
    any_weekday: bool

    def day_matches(self, day: dt.date) -> bool:
        if day.month not in self.months:
            return False
        by_day = day.day in self.days
        by_weekday = (day.isoweekday() % 7) in self.weekdays
        if self.any_day and self.any_weekday:
            return True
        if self.any_day:
            return by_weekday
        if self.any_weekday:
            return by_day
        return by_day or by_weekday


def _value(text: str, low: int, high: int, names: tuple[str, ...]) -> int:
    upper = text.upper()
    if upper in names:
        return names.index(upper) + (1 if names is _MONTHS else 0)
    if not text.isdigit():
        raise CronError(f"'{text}' is not a valid value")
    value = int(text)
    if not low <= value <= high:
        raise CronError(f"{value} is outside {low}-{high}")
    return value


def _field(text: str, low: int, high: int, names: tuple[str, ...]) -> frozenset[int]:
    out: set[int] = set()
    for part in text.split(","):
        base, _, step_text = part.partition("/")
        step = 1
        if step_text:
            if not step_text.isdigit() or int(step_text) == 0:
                raise CronError(f"'{part}' has an invalid step")
            step = int(step_text)
        if base == "*":
            first, last = low, high
        elif "-" in base:
            a, _, b = base.partition("-")
            first, last = _value(a, low, high, names), _value(b, low, high, names)
            if first > last:
                raise CronError(f"'{base}' is an empty range")
        else:
            first = _value(base, low, high, names)
            last = high if step_text else first
        out.update(range(first, last + 1, step))
    if not out:
        raise CronError(f"'{text}' matches nothing")
    return frozenset(out)


def parse(expression: str) -> Cron:
    parts = expression.split()
    if len(parts) != 5:
        raise CronError(f"'{expression}' does not have five fields")
    values = [_field(p, *spec) for p, spec in zip(parts, _FIELDS, strict=True)]
    weekdays = frozenset(d % 7 for d in values[4])
    return Cron(
        minutes=values[0],
        hours=values[1],
        days=values[2],
        months=values[3],
        weekdays=weekdays,
        any_day=parts[2] == "*",
        any_weekday=parts[4] == "*",
    )


def zone(name: str) -> dt.tzinfo:
    """The IANA time zone `name` ("" is UTC)."""
    if not name or name.upper() == "UTC":
        return dt.UTC
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise CronError(f"'{name}' is not a valid time zone") from None


def next_after(expression: str, time_zone: str, after: float) -> float | None:
    """The first time (epoch seconds) strictly after `after` the expression names, or None."""
    cron = parse(expression)
    tz = zone(time_zone)
    start = dt.datetime.fromtimestamp(after, tz).replace(tzinfo=None)
    start = start.replace(second=0, microsecond=0) + dt.timedelta(minutes=1)
    day = start.date()
    for _ in range(_HORIZON_DAYS):
        if cron.day_matches(day):
            first = start.time() if day == start.date() else dt.time(0, 0)
            for hour in sorted(cron.hours):
                if hour < first.hour:
                    continue
                for minute in sorted(cron.minutes):
                    if hour == first.hour and minute < first.minute:
                        continue
                    moment = _real(dt.datetime.combine(day, dt.time(hour, minute)), tz)
                    if moment is not None and moment > after:
                        return moment
        day += dt.timedelta(days=1)
    return None


def _real(local: dt.datetime, tz: dt.tzinfo) -> float | None:
    """`local` in `tz` as epoch seconds; None when a DST change skips that local time."""
    aware = local.replace(tzinfo=tz, fold=0)
    back = aware.astimezone(dt.UTC).astimezone(tz).replace(tzinfo=None)
    if back != local:
        return None
    return aware.timestamp()
