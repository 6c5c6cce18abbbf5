"""A mergeable log-scaled histogram of raw values, for percentiles of any merged bucket.

Each value falls in a bin whose bounds are gamma^(i-1) and gamma^i (with gamma chosen for
1% relative error, as DDSketch), by sign, with zero on its own: two buckets merge by adding
their bins' counts, so a roll-up tier or a 14-day query keeps its percentiles without the
raw points. A bin is reported as the value in its middle, clamped to the bucket's min and max.
"""

from __future__ import annotations

import math
from array import array
from collections.abc import Iterable, Mapping

RELATIVE_ERROR = 0.01
GAMMA = (1 + RELATIVE_ERROR) / (1 - RELATIVE_ERROR)
_LOG_GAMMA = math.log(GAMMA)
# Keys: 2*i for a positive value in bin i, 2*i+1 for a negative one; zero has a key beyond
# any bin of a finite double (|i| < 40,000).
_ZERO = 1 << 40
_VERSION = b"\x01"

Bins = dict[int, float]


def key_of(value: float) -> int:
    if value == 0:
        return _ZERO
    index = math.ceil(math.log(abs(value)) / _LOG_GAMMA)
    return 2 * index + (1 if value < 0 else 0)


def value_of(key: int) -> float:
    if key == _ZERO:
        return 0.0
    index, negative = divmod(key, 2)
    middle = 2 * GAMMA**index / (GAMMA + 1)
    return -middle if negative else middle


def add(bins: Bins, pairs: Iterable[tuple[float, float]]) -> None:
    for value, count in pairs:
        if count > 0:
            key = key_of(value)
            bins[key] = bins.get(key, 0.0) + count


def merge(into: Bins, other: Mapping[int, float]) -> None:
    for key, count in other.items():
        into[key] = into.get(key, 0.0) + count


def encode(bins: Mapping[int, float]) -> bytes:
    if not bins:
        return b""
    keys = array("q", bins.keys())
    counts = array("d", bins.values())
    return _VERSION + keys.tobytes() + counts.tobytes()


def decode(blob: bytes | None) -> Bins:
    if not blob:
        return {}
    body = memoryview(blob)[1:]
    n = len(body) // 16
    keys = array("q")
    keys.frombytes(body[: 8 * n])
    counts = array("d")
    counts.frombytes(body[8 * n :])
    return dict(zip(keys, counts, strict=True))


def _sort_key(key: int) -> float:
    return value_of(key)


def percentile(bins: Mapping[int, float], p: float, minimum: float, maximum: float) -> float:
    """The value at percentile `p` (0..100) of the values in `bins`."""
    total = sum(bins.values())
    if p <= 0:
        return minimum
    if p >= 100:
        return maximum
    # A hair under, so 99.9% of 5000 samples is the 4995th, not the next (float rounding).
    rank = p / 100 * total * (1 - 1e-12)
    seen = 0.0
    found = maximum
    for key in sorted(bins, key=_sort_key):
        seen += bins[key]
        if seen >= rank:
            found = value_of(key)
            break
    return min(max(found, minimum), maximum)
