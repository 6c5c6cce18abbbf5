"""ListMetrics' rows: an account's metrics by namespace, name and dimensions, in a stable
order so a page token is the last metric a page held."""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import cast

from sqlalchemy import Table, select, tuple_
from sqlalchemy.orm import Session

from mallee.store.tables.metrics import CwMetric

# ListMetrics shows a metric for two weeks after its last datapoint, as AWS.
LISTED_FOR = 14 * 86400
RECENT = 3 * 3600


@dataclass(frozen=True, slots=True)
class Metric:
    id: str
    namespace: str
    name: str
    dimensions: tuple[tuple[str, str], ...]


# A dimension filter: the metric has a dimension of that name (with that value, unless None).
DimensionFilter = tuple[str, str | None]


def _matches(dimensions: Sequence[tuple[str, str]], filters: Sequence[DimensionFilter]) -> bool:
    have = dict(dimensions)
    for name, value in filters:
        if name not in have or (value is not None and have[name] != value):
            return False
    return True


def list_metrics(
    s: Session,
    account_id: str,
    *,
    namespace: str | None = None,
    name: str | None = None,
    dimensions: Sequence[DimensionFilter] = (),
    recently_active: bool = False,
    after: tuple[str, str, str] | None = None,
    limit: int = 500,
    now: float | None = None,
) -> tuple[list[Metric], tuple[str, str, str] | None]:
    """A page of the account's metrics in (namespace, name, id) order after `after`, and the
    key to continue from when there may be more."""
    stamp = time.time() if now is None else now
    t = cast(Table, CwMetric.__table__)
    since = stamp - (RECENT if recently_active else LISTED_FOR)
    q = select(t.c.id, t.c.namespace, t.c.name, t.c.dimensions).where(
        t.c.account_id == account_id, t.c.last_put >= since
    )
    if namespace is not None:
        q = q.where(t.c.namespace == namespace)
    if name is not None:
        q = q.where(t.c.name == name)
    if after is not None:
        q = q.where(tuple_(t.c.namespace, t.c.name, t.c.id) > tuple_(*after))
    q = q.order_by(t.c.namespace, t.c.name, t.c.id)
    found: list[Metric] = []
    # Dimension filters are applied here, so the database is read in chunks until a page fills.
    chunk = limit if not dimensions else max(limit, 1000)
    last: tuple[str, str, str] | None = None
    while True:
        rows = s.connection().execute(q.limit(chunk)).all()
        for mid, ns, mname, dims in rows:
            last = (ns, mname, mid)
            pairs = tuple((str(k), str(v)) for k, v in json.loads(dims))
            if _matches(pairs, dimensions):
                found.append(Metric(mid, ns, mname, pairs))
                if len(found) == limit:
                    return found, last
        if len(rows) < chunk or last is None:
            return found, None
        q = q.where(tuple_(t.c.namespace, t.c.name, t.c.id) > tuple_(*last))
