"""What a datapoint is once validated, and what a period's aggregate of them is."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from operator import attrgetter

from mallee.metrics import histogram


@dataclass(frozen=True, slots=True)
class Datum:
    """One datapoint (or statistic set) as validated."""

    account_id: str
    namespace: str
    name: str
    # Sorted by name.
    dimensions: tuple[tuple[str, str], ...]
    # Epoch seconds.
    timestamp: float
    # AWS unit name, "None" when none.
    unit: str
    count: float
    sum: float
    minimum: float
    maximum: float
    # (value, count) pairs, for percentiles. Empty for a statistic set: its percentiles are
    # known only when all its samples are one value (minimum == maximum), as AWS says.
    values: tuple[tuple[float, float], ...] = ()
    # StorageResolution: 1 (kept at one second for three hours) or 60.
    resolution: int = 60


@dataclass(frozen=True, slots=True)
class Bucket:
    """One period's aggregate."""

    timestamp: float
    count: float
    sum: float
    minimum: float
    maximum: float
    unit: str
    # The histogram of its raw values; None when some samples came without them (a statistic
    # set of several values), so its percentiles are unknown.
    bins: histogram.Bins | None = field(default=None, compare=False, repr=False)

    @property
    def average(self) -> float:
        return self.sum / self.count if self.count else 0.0

    def percentile(self, p: float) -> float | None:
        """The pNN statistic (p in 0..100), or None when the bucket cannot answer it."""
        if self.bins is None or not self.count:
            return None
        return histogram.percentile(self.bins, p, self.minimum, self.maximum)

    def statistic(self, name: str) -> float | None:
        """One named statistic (SampleCount, Sum, Average, Minimum, Maximum or pNN, as
        checked by whoever took the name), None when the bucket has none."""
        return statistic_getter(name)(self)


# Looked up per datapoint and statistic (1440 x 5 in a two-week GetMetricStatistics).
_PLAIN: dict[str, Callable[[Bucket], float]] = {
    "SampleCount": attrgetter("count"),
    "Sum": attrgetter("sum"),
    "Minimum": attrgetter("minimum"),
    "Maximum": attrgetter("maximum"),
    "Average": attrgetter("average"),
}


def statistic_getter(name: str) -> Callable[[Bucket], float | None]:
    """Bucket.statistic for one name, looked up once for many buckets."""
    plain = _PLAIN.get(name)
    if plain is not None:
        return plain
    if name.startswith("p"):
        try:
            p = float(name[1:])
        except ValueError:
            return _none
        return lambda bucket: bucket.percentile(p)
    return _none


def _none(bucket: Bucket) -> None:
    return None
