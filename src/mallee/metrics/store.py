"""Writing datapoints into the roll-up tiers and reading a period's statistics back.

Every datum is added into one row per tier it belongs to (high-resolution data into the
1-second tier too), so a read picks the coarsest tier whose buckets fit the period and the
start, and sums at most a few rows per period: a 14-day query at one minute reads 20,160 rows
(summed by the database unless percentiles are asked), never the raw points.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from hashlib import blake2b
from typing import Any, cast

from sqlalchemy import Table, and_, bindparam, delete, func, literal, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from mallee.metrics import histogram
from mallee.metrics.points import Bucket, Datum
from mallee.store.prepared import Prepared
from mallee.store.tables.metrics import CwDatapoint, CwMetric

# (tier's bucket length, how long its rows are kept), both in seconds: AWS's retention.
TIERS: tuple[tuple[int, int], ...] = (
    (1, 3 * 3600),
    (60, 15 * 86400),
    (300, 63 * 86400),
    (3600, 455 * 86400),
)
RETENTION = dict(TIERS)
_HIGH_RESOLUTION_TIERS = tuple(t for t, _ in TIERS)
_STANDARD_TIERS = tuple(t for t, _ in TIERS if t >= 60)
# A metric with no data for this long has no rows left in any tier.
IDENTITY_RETENTION = max(RETENTION.values())

Dimensions = Sequence[tuple[str, str]]


def dimensions_text(dimensions: Dimensions) -> str:
    return json.dumps(sorted([list(d) for d in dimensions]), separators=(",", ":"))


def metric_id(account_id: str, namespace: str, name: str, dimensions: Dimensions) -> str:
    """The identity row's key: a digest, so a put keys its datapoints without a lookup."""
    text = json.dumps([account_id, namespace, name, dimensions_text(dimensions)])
    return blake2b(text.encode(), digest_size=16).hexdigest()


@dataclass(slots=True)
class _Acc:
    count: float = 0.0
    sum: float = 0.0
    minimum: float = 0.0
    maximum: float = 0.0
    binned: float = 0.0
    bins: histogram.Bins = field(default_factory=dict)

    def add(
        self,
        count: float,
        total: float,
        minimum: float,
        maximum: float,
        binned: float,
        bins: histogram.Bins,
    ) -> None:
        if self.count <= 0:
            self.minimum, self.maximum = minimum, maximum
        elif count > 0:
            self.minimum = min(self.minimum, minimum)
            self.maximum = max(self.maximum, maximum)
        self.count += count
        self.sum += total
        self.binned += binned
        histogram.merge(self.bins, bins)


def _pairs(d: Datum) -> tuple[tuple[float, float], ...]:
    if d.values:
        return d.values
    # A statistic set whose samples are all one value (AWS's condition for its percentiles).
    if d.minimum == d.maximum and d.count > 0:
        return ((d.minimum, d.count),)
    return ()


Key = tuple[str, int, int, str]

_POINTS = cast(Table, CwDatapoint.__table__)
_METRICS = cast(Table, CwMetric.__table__)


def _upsert(table: Table, dialect: str) -> Prepared:
    """INSERT one row by its v_<column> parameters, overwriting the other columns of an
    existing key (the hot path's statements are compiled once: see store/prepared.py)."""
    insert = sqlite_insert if dialect == "sqlite" else pg_insert
    statement = insert(table).values(
        {c.name: bindparam(f"v_{c.name}", type_=c.type) for c in table.columns}
    )
    keys = [c.name for c in table.primary_key.columns]
    return Prepared(
        statement.on_conflict_do_update(
            index_elements=keys,
            set_={c.name: statement.excluded[c.name] for c in table.columns if c.name not in keys},
        )
    )


_UPSERTS = {
    (name, dialect): _upsert(table, dialect)
    for name, table in (("metric", _METRICS), ("point", _POINTS))
    for dialect in ("sqlite", "postgresql")
}
# PostgreSQL: every row a put adds into is made to exist first, then locked, so two puts into
# one bucket add up instead of the later overwriting the earlier (SQLite's writers are serial).
_PLACEHOLD = Prepared(
    pg_insert(_POINTS)
    .values({c.name: bindparam(f"v_{c.name}", type_=c.type) for c in _POINTS.columns})
    .on_conflict_do_nothing()
)
_EXISTING = Prepared(
    select(
        _POINTS.c.bucket,
        _POINTS.c.unit,
        _POINTS.c.count,
        _POINTS.c.sum,
        _POINTS.c.minimum,
        _POINTS.c.maximum,
        _POINTS.c.binned,
        _POINTS.c.bins,
    )
    .where(
        _POINTS.c.metric_id == bindparam("mid"),
        _POINTS.c.tier == bindparam("tier"),
        _POINTS.c.bucket >= bindparam("low"),
        _POINTS.c.bucket <= bindparam("high"),
    )
    .with_for_update()
)


def _bound(row: dict[str, Any]) -> dict[str, Any]:
    return {f"v_{k}": v for k, v in row.items()}


def put(s: Session, data: Sequence[Datum], *, now: float | None = None) -> None:
    """Add `data` into every tier, in the caller's transaction."""
    if not data:
        return
    stamp = time.time() if now is None else now
    identities: dict[str, dict[str, Any]] = {}
    adds: dict[Key, _Acc] = {}
    # A call's datapoints are mostly of a few metrics: each identity is digested once.
    ids: dict[tuple[str, str, str, tuple[tuple[str, str], ...]], str] = {}
    for d in data:
        ident = (d.account_id, d.namespace, d.name, d.dimensions)
        mid = ids.get(ident) or ids.setdefault(ident, metric_id(*ident))
        if mid not in identities:
            identities[mid] = {
                "id": mid,
                "account_id": d.account_id,
                "namespace": d.namespace,
                "name": d.name,
                "dimensions": dimensions_text(d.dimensions),
                "last_put": stamp,
            }
        pairs = _pairs(d)
        bins: histogram.Bins = {}
        histogram.add(bins, pairs)
        binned = sum(c for _, c in pairs)
        second = int(d.timestamp)
        for tier in _HIGH_RESOLUTION_TIERS if d.resolution == 1 else _STANDARD_TIERS:
            key = (mid, tier, second - second % tier, d.unit)
            acc = adds.get(key)
            if acc is None:
                acc = adds[key] = _Acc()
            acc.add(d.count, d.sum, d.minimum, d.maximum, binned, bins)
    conn = s.connection()
    dialect = "sqlite" if conn.dialect.name == "sqlite" else "postgresql"
    for mid in sorted(identities):
        _UPSERTS[("metric", dialect)].run(conn, **_bound(identities[mid]))
    keys = sorted(adds)
    if dialect != "sqlite":
        for key in keys:
            _PLACEHOLD.run(conn, **_bound(_row(key, _Acc())))
    spans: dict[tuple[str, int], tuple[int, int]] = {}
    for mid, tier, bucket, _ in keys:
        low, high = spans.get((mid, tier), (bucket, bucket))
        spans[(mid, tier)] = (min(low, bucket), max(high, bucket))
    for (mid, tier), (low, high) in spans.items():
        for bucket, unit, count, total, minimum, maximum, binned, blob in _EXISTING.all(
            conn, mid=mid, tier=tier, low=low, high=high
        ):
            acc = adds.get((mid, tier, bucket, unit))
            if acc is None:
                continue
            old = _Acc()
            old.add(count, total, minimum, maximum, binned, histogram.decode(blob))
            old.add(acc.count, acc.sum, acc.minimum, acc.maximum, acc.binned, acc.bins)
            adds[(mid, tier, bucket, unit)] = old
    upsert = _UPSERTS[("point", dialect)]
    for key in keys:
        upsert.run(conn, **_bound(_row(key, adds[key])))


def _row(key: Key, acc: _Acc) -> dict[str, Any]:
    mid, tier, bucket, unit = key
    return {
        "metric_id": mid,
        "tier": tier,
        "bucket": bucket,
        "unit": unit,
        "count": acc.count,
        "sum": acc.sum,
        "minimum": acc.minimum,
        "maximum": acc.maximum,
        "binned": acc.binned,
        "bins": histogram.encode(acc.bins),
    }


def align_start(start: float, period: int, now: float | None = None) -> int:
    """The start AWS rounds a query's to: to the second for high-resolution periods, else to
    the minute, or for a start more than 15 (63) days ago to 5 minutes (an hour) when the
    period is a multiple of it."""
    second = int(start)
    if period % 60:
        return second
    age = (time.time() if now is None else now) - start
    unit = 60
    if age > RETENTION[60] and period % 300 == 0:
        unit = 300
    if age > RETENTION[300] and period % 3600 == 0:
        unit = 3600
    return second - second % unit


def tier_for(start: int, period: int) -> int:
    """The coarsest tier whose buckets tile the query's periods from `start`."""
    return [t for t, _ in TIERS if period % t == 0 and start % t == 0][-1]


def statistics(
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
    now: float | None = None,
) -> list[Bucket]:
    """The buckets [first + k*period, first + (k+1)*period) before `end` that have data, by
    time, one per unit present (or only `unit`'s); `first` is `start` as AWS rounds it
    (align_start). `with_bins=False` skips the histograms (no percentiles) so the database
    sums the rows."""
    first = align_start(start, period, now)
    tier = tier_for(first, period)
    mid = metric_id(account_id, namespace, name, dimensions)
    table = cast(Table, CwDatapoint.__table__)
    where = [
        table.c.metric_id == mid,
        table.c.tier == tier,
        table.c.bucket >= first,
        table.c.bucket < math.ceil(end),
    ]
    if unit is not None:
        where.append(table.c.unit == unit)
    conn = s.connection()
    if not with_bins:
        slot = ((table.c.bucket - literal(first)) // literal(period)).label("slot")
        rows = conn.execute(
            select(
                slot,
                table.c.unit,
                func.sum(table.c.count),
                func.sum(table.c.sum),
                func.min(table.c.minimum),
                func.max(table.c.maximum),
            )
            .where(and_(*where))
            .group_by(slot, table.c.unit)
            .order_by(slot, table.c.unit)
        ).all()
        return [
            Bucket(float(first + int(k) * period), c, sm, mn, mx, u)
            for k, u, c, sm, mn, mx in rows
            if c > 0
        ]
    found = conn.execute(
        select(
            table.c.bucket,
            table.c.unit,
            table.c.count,
            table.c.sum,
            table.c.minimum,
            table.c.maximum,
            table.c.binned,
            table.c.bins,
        ).where(and_(*where))
    ).all()
    return _merge(found, first, period)


def _merge(rows: Iterable[Any], first: int, period: int) -> list[Bucket]:
    accs: dict[tuple[int, str], _Acc] = {}
    for bucket, unit, count, total, minimum, maximum, binned, blob in rows:
        key = ((bucket - first) // period, unit)
        acc = accs.get(key)
        if acc is None:
            acc = accs[key] = _Acc()
        acc.add(count, total, minimum, maximum, binned, histogram.decode(blob))
    out = []
    for (k, unit), acc in sorted(accs.items()):
        if acc.count <= 0:
            continue
        # Percentiles only when every sample is in the histogram (AWS: raw data needed).
        complete = acc.binned >= acc.count * (1 - 1e-9)
        out.append(
            Bucket(
                float(first + k * period),
                acc.count,
                acc.sum,
                acc.minimum,
                acc.maximum,
                unit,
                acc.bins if complete else None,
            )
        )
    return out


def purge(s: Session, now: float | None = None) -> int:
    """Deletes the rows each tier no longer keeps, and metrics with no data left: the
    controller calls it now and then. Returns how many rows went."""
    stamp = time.time() if now is None else now
    table = cast(Table, CwDatapoint.__table__)
    gone = 0
    for tier, keep in TIERS:
        cut = int(stamp) - keep
        gone += (
            s.connection()
            .execute(
                delete(CwDatapoint).where(table.c.tier == tier, table.c.bucket < cut - cut % tier)
            )
            .rowcount
        )
    metrics = cast(Table, CwMetric.__table__)
    gone += (
        s.connection()
        .execute(delete(CwMetric).where(metrics.c.last_put < stamp - IDENTITY_RETENTION))
        .rowcount
    )
    return gone


__all__ = ["TIERS", "Bucket", "Datum", "metric_id", "purge", "put", "statistics"]
