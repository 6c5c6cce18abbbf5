"""Writing datapoints into the roll-up tiers and reading a period's statistics back.

Every datum is added into one row per tier it belongs to (high-resolution data into the
1-second tier too), so a read picks the coarsest tier whose buckets fit the period and the
start, and sums at most a few rows per period: a 14-day query at one minute reads 20,160 rows
(summed by the database unless percentiles are asked), never the raw points.
"""

from __future__ import annotations

import json
import math
import sqlite3
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from hashlib import blake2b
from typing import Any, cast

from sqlalchemy import (
    BigInteger,
    Integer,
    Table,
    and_,
    bindparam,
    case,
    delete,
    func,
    literal_column,
    select,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Connection
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
    return _digest(account_id, namespace, name, dimensions_text(dimensions))


def _digest(account_id: str, namespace: str, name: str, dimensions: str) -> str:
    text = json.dumps([account_id, namespace, name, dimensions])
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


def _values(table: Table) -> dict[str, Any]:
    # Parameter names differ from the columns': Core keeps those for its own VALUES.
    return {c.name: bindparam(f"v_{c.name}", type_=c.type) for c in table.columns}


def _keys(table: Table) -> list[str]:
    return [c.name for c in table.primary_key.columns]


def _overwrite(table: Table, dialect: str) -> Prepared:
    """INSERT one row by its v_<column> parameters, overwriting the other columns of an
    existing key (the hot path's statements are compiled once: see store/prepared.py)."""
    insert = sqlite_insert if dialect == "sqlite" else pg_insert
    statement = insert(table).values(_values(table))
    keys = _keys(table)
    return Prepared(
        statement.on_conflict_do_update(
            index_elements=keys,
            set_={c.name: statement.excluded[c.name] for c in table.columns if c.name not in keys},
        )
    )


# SQLite's writers are serial, so a bucket's row is merged in the upsert itself: one prepared
# statement stepped for every row of a put, no read first. The histograms merge through a
# function registered on each connection (_with_functions).
_BINS_MERGE = "mallee_cw_bins_merge"


def _merge_upsert() -> Prepared:
    statement = sqlite_insert(_POINTS).values(_values(_POINTS))
    old, new = _POINTS.c, statement.excluded

    def extreme(pick: str) -> Any:
        # _Acc.add's rule: an empty side (count 0) does not count.
        return case(
            (old["count"] <= 0, new[pick]),
            (new["count"] <= 0, old[pick]),
            else_=getattr(func, "min" if pick == "minimum" else "max")(old[pick], new[pick]),
        )

    return Prepared(
        statement.on_conflict_do_update(
            index_elements=_keys(_POINTS),
            set_={
                "count": old["count"] + new["count"],
                "sum": old["sum"] + new["sum"],
                "minimum": extreme("minimum"),
                "maximum": extreme("maximum"),
                "binned": old["binned"] + new["binned"],
                "bins": getattr(func, _BINS_MERGE)(old["bins"], new["bins"]),
            },
        )
    )


_METRIC_UPSERT = {d: _overwrite(_METRICS, d) for d in ("sqlite", "postgresql")}
_POINT_MERGE = _merge_upsert()
_POINT_OVERWRITE = _overwrite(_POINTS, "postgresql")
# PostgreSQL: every row a put adds into is made to exist first, then locked, so two puts into
# one bucket add up instead of the later overwriting the earlier.
_PLACEHOLD = Prepared(pg_insert(_POINTS).values(_values(_POINTS)).on_conflict_do_nothing())


def _merge_blobs(old: bytes | None, new: bytes | None) -> bytes:
    if not new:
        return old or b""
    if not old:
        return new
    bins = histogram.decode(old)
    histogram.merge(bins, histogram.decode(new))
    return histogram.encode(bins)


def _with_functions(conn: Connection) -> None:
    """Registers the merge function on this SQLite connection, once (the pool keeps `info`
    as long as the driver's connection lives)."""
    proxied = conn.connection
    if not proxied.info.get(_BINS_MERGE):
        raw = cast(sqlite3.Connection, proxied.dbapi_connection)
        raw.create_function(_BINS_MERGE, 2, _merge_blobs, deterministic=True)
        proxied.info[_BINS_MERGE] = True


@dataclass(slots=True)
class Additions:
    """What a put adds, worked out before its transaction: a writer then holds the write lock
    (SQLite's one) only for the statements, not for this work."""

    # The identity rows (as the upserts bind them), in key order.
    identities: list[dict[str, Any]]
    # Per bucket row, in key order: so two writers into the same rows lock them in one order.
    adds: dict[Key, _Acc]
    keys: list[Key]
    rows: list[dict[str, Any]]


def additions(data: Sequence[Datum], *, now: float | None = None) -> Additions:
    stamp = time.time() if now is None else now
    identities: dict[str, dict[str, Any]] = {}
    adds: dict[Key, _Acc] = {}
    # A call's datapoints are mostly of a few metrics: each identity is digested once.
    ids: dict[tuple[str, str, str, tuple[tuple[str, str], ...]], str] = {}
    for d in data:
        ident = (d.account_id, d.namespace, d.name, d.dimensions)
        mid = ids.get(ident)
        if mid is None:
            text = dimensions_text(d.dimensions)
            mid = ids[ident] = _digest(d.account_id, d.namespace, d.name, text)
            identities[mid] = {
                "v_id": mid,
                "v_account_id": d.account_id,
                "v_namespace": d.namespace,
                "v_name": d.name,
                "v_dimensions": text,
                "v_last_put": stamp,
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
    keys = sorted(adds)
    return Additions(
        [identities[mid] for mid in sorted(identities)],
        adds,
        keys,
        [_row(key, adds[key]) for key in keys],
    )


def put(s: Session, data: Sequence[Datum], *, now: float | None = None) -> None:
    """Add `data` into every tier, in the caller's transaction."""
    if data:
        write(s, additions(data, now=now))


def write(s: Session, add: Additions) -> None:
    """Add `add` into every tier, in the caller's transaction: one upsert of the metrics'
    identities and one of their buckets, each a prepared statement run for all rows."""
    if not add.keys:
        return
    conn = s.connection()
    sqlite = conn.dialect.name == "sqlite"
    _METRIC_UPSERT["sqlite" if sqlite else "postgresql"].run_many(conn, add.identities)
    if sqlite:
        _with_functions(conn)
        _POINT_MERGE.run_many(conn, add.rows)
        return
    keys, adds = add.keys, dict(add.adds)
    _PLACEHOLD.run_many(conn, [_row(key, _Acc()) for key in keys])
    for tier in sorted({key[1] for key in keys}):
        mine = [key for key in keys if key[1] == tier]
        found = conn.execute(
            select(*_POINTS.c)
            .where(
                _POINTS.c.tier == tier,
                _POINTS.c.bucket >= min(key[2] for key in mine),
                _POINTS.c.bucket <= max(key[2] for key in mine),
                _POINTS.c.metric_id.in_(sorted({key[0] for key in mine})),
            )
            .order_by(*_POINTS.primary_key.columns)
            .with_for_update()
        )
        for mid, _, bucket, unit, count, total, minimum, maximum, binned, blob in found:
            acc = adds.get((mid, tier, bucket, unit))
            if acc is None:
                continue
            old = _Acc()
            old.add(count, total, minimum, maximum, binned, histogram.decode(blob))
            old.add(acc.count, acc.sum, acc.minimum, acc.maximum, acc.binned, acc.bins)
            adds[(mid, tier, bucket, unit)] = old
    _POINT_OVERWRITE.run_many(conn, [_row(key, adds[key]) for key in keys])


def _row(key: Key, acc: _Acc) -> dict[str, Any]:
    mid, tier, bucket, unit = key
    return {
        "v_metric_id": mid,
        "v_tier": tier,
        "v_bucket": bucket,
        "v_unit": unit,
        "v_count": acc.count,
        "v_sum": acc.sum,
        "v_minimum": acc.minimum,
        "v_maximum": acc.maximum,
        "v_binned": acc.binned,
        "v_bins": histogram.encode(acc.bins),
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
    conn = s.connection()
    where = {"mid": mid, "tier": tier, "low": first, "high": math.ceil(end)}
    if unit is not None:
        where["unit"] = unit
    if not with_bins:
        # Plain driver rows: ~1440 of them, where a row object each cost more than the sums.
        rows = _SUMMED[unit is not None].tuples(conn, first=first, period=period, **where)
        return [
            Bucket(float(first + int(k) * period), c, sm, mn, mx, u)
            for k, u, c, sm, mn, mx in rows
            if c > 0
        ]
    return _merge(_ROWS[unit is not None].all(conn, **where), first, period)


def _read(summed: bool, by_unit: bool) -> Prepared:
    """The statistics read of one metric's buckets in [low, high) of one tier (and one unit):
    its rows, or (summed) their sums per period, slot k starting at first + k * period."""
    c = _POINTS.c
    where = [
        c.metric_id == bindparam("mid"),
        c.tier == bindparam("tier", type_=Integer),
        c.bucket >= bindparam("low", type_=BigInteger),
        c.bucket < bindparam("high", type_=BigInteger),
    ]
    if by_unit:
        where.append(c.unit == bindparam("unit"))
    if not summed:
        return Prepared(
            select(
                c.bucket, c.unit, c["count"], c["sum"], c.minimum, c.maximum, c.binned, c.bins
            ).where(and_(*where))
        )
    # Integer division (bucket >= first): the slot's index.
    slot = (
        (c.bucket - bindparam("first", type_=BigInteger)) // bindparam("period", type_=BigInteger)
    ).label("slot")
    return Prepared(
        select(
            slot,
            c.unit,
            func.sum(c["count"]),
            func.sum(c["sum"]),
            func.min(c.minimum),
            func.max(c.maximum),
        )
        .where(and_(*where))
        # By the label: the expression's parameters would be bound twice (PostgreSQL).
        .group_by(literal_column("slot"), c.unit)
        .order_by(slot, c.unit)
    )


_ROWS = {by_unit: _read(False, by_unit) for by_unit in (False, True)}
_SUMMED = {by_unit: _read(True, by_unit) for by_unit in (False, True)}


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


__all__ = [
    "TIERS",
    "Additions",
    "Bucket",
    "Datum",
    "additions",
    "metric_id",
    "purge",
    "put",
    "statistics",
    "write",
]
