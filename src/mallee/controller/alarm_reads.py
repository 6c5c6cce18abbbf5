"""The datapoints of many alarms in one query: what mallee.metrics.store.statistics answers for
each (without percentiles), for every metric of a group of alarms that share a period and an
evaluation range, so a tick evaluating a thousand alarms asks the database a few times rather
than a thousand.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import cast

from sqlalchemy import Table, and_, func, literal, select
from sqlalchemy.orm import Session

from mallee.metrics import store as metrics
from mallee.metrics.points import Bucket
from mallee.store.tables.metrics import CwDatapoint

# (account, namespace, name, sorted dimensions)
MetricKey = tuple[str, str, str, tuple[tuple[str, str], ...]]
# SQLite allows at most 32766 bound parameters; stay well under.
CHUNK = 500


def read_many(
    s: Session, keys: Sequence[MetricKey], start: float, end: float, period: int
) -> dict[MetricKey, list[Bucket]]:
    """Each metric's buckets over [start, end) in `period` steps, every unit's rows apart (as
    statistics() gives them with with_bins=False)."""
    first = metrics.align_start(start, period)
    tier = metrics.tier_for(first, period)
    ids = {metrics.metric_id(*key): key for key in keys}
    table = cast(Table, CwDatapoint.__table__)
    slot = ((table.c.bucket - literal(first)) // literal(period)).label("slot")
    out: dict[MetricKey, list[Bucket]] = {key: [] for key in keys}
    chunks = sorted(ids)
    conn = s.connection()
    for i in range(0, len(chunks), CHUNK):
        rows = conn.execute(
            select(
                table.c.metric_id,
                slot,
                table.c.unit,
                func.sum(table.c.count),
                func.sum(table.c.sum),
                func.min(table.c.minimum),
                func.max(table.c.maximum),
            )
            .where(
                and_(
                    table.c.metric_id.in_(chunks[i : i + CHUNK]),
                    table.c.tier == tier,
                    table.c.bucket >= first,
                    table.c.bucket < math.ceil(end),
                )
            )
            .group_by(table.c.metric_id, slot, table.c.unit)
        ).all()
        for mid, k, unit, count, total, minimum, maximum in rows:
            if count > 0:
                out[ids[mid]].append(
                    Bucket(float(first + int(k) * period), count, total, minimum, maximum, unit)
                )
    return out
