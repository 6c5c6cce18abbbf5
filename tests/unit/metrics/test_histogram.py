from __future__ import annotations

import random

from mallee.metrics import histogram


def test_percentiles_are_within_one_percent_of_the_exact_values() -> None:
    rng = random.Random(7)
    values = [rng.lognormvariate(3, 1.5) for _ in range(5000)]
    bins: histogram.Bins = {}
    histogram.add(bins, ((v, 1.0) for v in values))
    ordered = sorted(values)
    for p in (10, 50, 90, 99, 99.9):
        exact = ordered[max(0, int(p / 100 * len(ordered) + 0.5) - 1)]
        got = histogram.percentile(bins, p, ordered[0], ordered[-1])
        assert abs(got - exact) <= 0.011 * exact, (p, got, exact)


def test_merged_histograms_answer_as_one_and_survive_encoding() -> None:
    a: histogram.Bins = {}
    b: histogram.Bins = {}
    histogram.add(a, [(float(v), 1.0) for v in range(1, 51)])
    histogram.add(b, [(float(v), 1.0) for v in range(51, 101)])
    merged = histogram.decode(histogram.encode(a))
    histogram.merge(merged, histogram.decode(histogram.encode(b)))
    assert sum(merged.values()) == 100
    assert abs(histogram.percentile(merged, 50, 1, 100) - 50) <= 0.5
    assert histogram.percentile(merged, 100, 1, 100) == 100
    assert histogram.percentile(merged, 0, 1, 100) == 1


def test_zero_and_negative_values_keep_their_order() -> None:
    bins: histogram.Bins = {}
    histogram.add(bins, [(-10.0, 1.0), (0.0, 1.0), (10.0, 1.0), (-0.5, 1.0)])
    assert histogram.percentile(bins, 25, -10, 10) == -10
    assert abs(histogram.percentile(bins, 50, -10, 10) + 0.5) <= 0.01
    assert histogram.percentile(bins, 75, -10, 10) == 0
    assert histogram.encode({}) == b"" and histogram.decode(b"") == {}
