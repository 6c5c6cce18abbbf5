"""Metric math over plain series: what each function and operator gives."""

from __future__ import annotations

import pytest

from mallee.services.cloudwatch.metric_math import Evaluator, Grid, MathError, references

A = {0.0: 1.0, 60.0: 2.0, 120.0: 4.0}
B = {0.0: 10.0, 120.0: 0.0}


def run(expression: str) -> object:
    return Evaluator({"a": A, "b": B}, Grid(0, 240, 60), ["a", "b"]).run(expression)


def test_operators_keep_common_timestamps_and_drop_undefined_points() -> None:
    assert run("a + b") == {0.0: 11.0, 120.0: 4.0}
    assert run("a / b") == {0.0: 0.1}
    assert run("-a ^ 2 + 1") == {0.0: 0.0, 60.0: -3.0, 120.0: -15.0}
    assert run("(a > 1) || (a == 1)") == {0.0: 1.0, 60.0: 1.0, 120.0: 1.0}
    assert run("2 * 3 - 1") == 5.0


def test_functions() -> None:
    assert run("SUM(a)") == 7.0
    assert run("AVG([a, b])") == {0.0: 5.5, 60.0: 2.0, 120.0: 2.0}
    assert run("MAX(METRICS())") == {0.0: 10.0, 60.0: 2.0, 120.0: 4.0}
    assert run("RATE(a)") == {60.0: 1 / 60, 120.0: 2 / 60}
    assert run("FILL(b, 7)") == {0.0: 10.0, 60.0: 7.0, 120.0: 0.0, 180.0: 7.0}
    assert run("FILL(b, LINEAR)") == {0.0: 10.0, 60.0: 5.0, 120.0: 0.0}
    assert run("IF(a >= 2, a, 0)") == {0.0: 0.0, 60.0: 2.0, 120.0: 4.0}
    assert run("IF(a != 2, b)") == {0.0: 10.0, 120.0: 0.0}
    assert references("a + SUM([b, METRICS()]) * c2") == {"a", "b", "c2"}


@pytest.mark.parametrize("bad", ["a +", "a $ b", "NOPE(a)", "zz * 2", "FILL(a)", "(a"])
def test_malformed_expressions_say_so(bad: str) -> None:
    with pytest.raises(MathError):
        run(bad)
