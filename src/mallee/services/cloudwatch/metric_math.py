"""Metric math: the expressions of GetMetricData (arithmetic, comparisons, SUM, AVG, MIN, MAX,
RATE, DIFF, ABS, CEIL, FLOOR, FILL, IF, METRICS) over the time series of other queries.

A value is a scalar, a time series (timestamp -> value) or an array of time series. Between two
series an operator keeps the timestamps both have, as CloudWatch does; a division by zero or
an undefined result leaves the timestamp out.
"""

from __future__ import annotations

import itertools
import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

Series = dict[float, float]
Value = float | Series | list[Series]


class MathError(Exception):
    """The expression is malformed or uses something it cannot: the message says what."""


@dataclass(slots=True)
class Grid:
    """The periods of the query's range, which FILL fills and a scalar result spans."""

    start: float
    end: float
    period: int

    def times(self) -> list[float]:
        first = self.start - self.start % self.period if self.period % 60 == 0 else self.start
        out, t = [], first
        while t < self.end:
            out.append(float(t))
            t += self.period
        return out


_TOKEN = re.compile(
    r"\s*(?:(?P<num>\d+(?:\.\d*)?(?:[eE][+-]?\d+)?|\.\d+(?:[eE][+-]?\d+)?)"
    r"|(?P<name>[A-Za-z_][A-Za-z0-9_]*)"
    r"|(?P<str>\"[^\"]*\")"
    r"|(?P<op>==|!=|<=|>=|&&|\|\||[-+*/^()\[\],<>!]))"
)
_WORD_OPS = {"AND": "&&", "OR": "||", "NOT": "!"}


def _tokens(text: str) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    pos = 0
    while pos < len(text):
        if text[pos:].strip() == "":
            break
        m = _TOKEN.match(text, pos)
        if m is None or m.end() == pos:
            raise MathError(f"Unrecognized token at position {pos + 1}: {text[pos:].strip()[:20]}")
        pos = m.end()
        kind = m.lastgroup or ""
        word = m.group(kind)
        if kind == "name" and word in _WORD_OPS:
            kind, word = "op", _WORD_OPS[word]
        out.append((kind, word))
    return out


@dataclass(slots=True)
class _Node:
    kind: str  # num | ref | word | str | call | unary | binary | array
    text: str = ""
    number: float = 0.0
    args: list[_Node] = field(default_factory=list)


class _Parser:
    def __init__(self, text: str) -> None:
        self.toks = _tokens(text)
        self.i = 0

    def peek(self) -> tuple[str, str] | None:
        return self.toks[self.i] if self.i < len(self.toks) else None

    def take(self, op: str | None = None) -> tuple[str, str]:
        tok = self.peek()
        if tok is None:
            raise MathError("Syntax error: the expression ends too soon")
        if op is not None and tok != ("op", op):
            raise MathError(f"Syntax error: expected '{op}' but found '{tok[1]}'")
        self.i += 1
        return tok

    def parse(self) -> _Node:
        node = self.binary(0)
        tok = self.peek()
        if tok is not None:
            raise MathError(f"Syntax error: unexpected '{tok[1]}'")
        return node

    _LEVELS: tuple[tuple[str, ...], ...] = (
        ("||",),
        ("&&",),
        ("==", "!=", "<=", ">=", "<", ">"),
        ("+", "-"),
        ("*", "/"),
    )

    def binary(self, level: int) -> _Node:
        if level == len(self._LEVELS):
            return self.unary()
        node = self.binary(level + 1)
        while (tok := self.peek()) is not None and tok[0] == "op" and tok[1] in self._LEVELS[level]:
            self.i += 1
            node = _Node("binary", tok[1], args=[node, self.binary(level + 1)])
        return node

    def unary(self) -> _Node:
        tok = self.peek()
        if tok in (("op", "-"), ("op", "!"), ("op", "+")):
            self.i += 1
            return _Node("unary", tok[1], args=[self.unary()])
        base = self.primary()
        if self.peek() == ("op", "^"):
            self.i += 1
            return _Node("binary", "^", args=[base, self.unary()])
        return base

    def primary(self) -> _Node:
        kind, text = self.take()
        if kind == "num":
            return _Node("num", text, float(text))
        if kind == "str":
            return _Node("str", text[1:-1])
        if kind == "name":
            if self.peek() == ("op", "("):
                self.i += 1
                args: list[_Node] = []
                if self.peek() != ("op", ")"):
                    args.append(self.binary(0))
                    while self.peek() == ("op", ","):
                        self.i += 1
                        args.append(self.binary(0))
                self.take(")")
                return _Node("call", text.upper(), args=args)
            if text in ("REPEAT", "LINEAR"):
                return _Node("word", text)
            return _Node("ref", text)
        if text == "(":
            node = self.binary(0)
            self.take(")")
            return node
        if text == "[":
            items = [self.binary(0)]
            while self.peek() == ("op", ","):
                self.i += 1
                items.append(self.binary(0))
            self.take("]")
            return _Node("array", args=items)
        raise MathError(f"Syntax error: unexpected '{text}'")


def references(expression: str) -> set[str]:
    """The query ids an expression names (so they are computed first)."""
    return {word for kind, word in _tokens(expression) if kind == "name" and word[:1].islower()}


def _scalar_op(op: str) -> Callable[[float, float], float | None]:
    def div(a: float, b: float) -> float | None:
        return None if b == 0 else a / b

    def power(a: float, b: float) -> float | None:
        try:
            v = a**b
        except (OverflowError, ZeroDivisionError):
            return None
        return v if isinstance(v, float | int) and not isinstance(v, complex) else None

    table: dict[str, Callable[[float, float], float | None]] = {
        "+": lambda a, b: a + b,
        "-": lambda a, b: a - b,
        "*": lambda a, b: a * b,
        "/": div,
        "^": power,
        "==": lambda a, b: float(a == b),
        "!=": lambda a, b: float(a != b),
        "<": lambda a, b: float(a < b),
        ">": lambda a, b: float(a > b),
        "<=": lambda a, b: float(a <= b),
        ">=": lambda a, b: float(a >= b),
        "&&": lambda a, b: float(bool(a) and bool(b)),
        "||": lambda a, b: float(bool(a) or bool(b)),
    }
    return table[op]


def _clean(v: float | None) -> float | None:
    return None if v is None or math.isnan(v) or math.isinf(v) else float(v)


def _apply(op: str, a: Value, b: Value) -> Value:
    fn = _scalar_op(op)
    if isinstance(a, list):
        return [_as_series(_apply(op, x, b)) for x in a]
    if isinstance(b, list):
        return [_as_series(_apply(op, a, y)) for y in b]
    if isinstance(a, dict) and isinstance(b, dict):
        return _series((t, fn(v, b[t])) for t, v in a.items() if t in b)
    if isinstance(a, dict):
        s = float(b)  # type: ignore[arg-type]
        return _series((t, fn(v, s)) for t, v in a.items())
    if isinstance(b, dict):
        return _series((t, fn(a, v)) for t, v in b.items())
    out = _clean(fn(a, b))
    return math.nan if out is None else out


def _series(pairs: object) -> Series:
    out: Series = {}
    for t, v in pairs:  # type: ignore[attr-defined]
        c = _clean(v)
        if c is not None:
            out[t] = c
    return out


def _as_series(v: Value) -> Series:
    if not isinstance(v, dict):
        raise MathError("an array of time series cannot be nested")
    return v


def _map(v: Value, fn: Callable[[float], float]) -> Value:
    if isinstance(v, list):
        return [_as_series(_map(x, fn)) for x in v]
    if isinstance(v, dict):
        return _series((t, fn(x)) for t, x in v.items())
    out = _clean(fn(v))
    return math.nan if out is None else out


_AGGREGATES: dict[str, Callable[[Sequence[float]], float]] = {
    "SUM": lambda xs: float(sum(xs)),
    "AVG": lambda xs: sum(xs) / len(xs),
    "MIN": lambda xs: min(xs),
    "MAX": lambda xs: max(xs),
}


def _aggregate(name: str, v: Value) -> Value:
    fn = _AGGREGATES[name]
    if isinstance(v, list):
        times = sorted({t for s in v for t in s})
        return {t: fn([s[t] for s in v if t in s]) for t in times}
    if isinstance(v, dict):
        return fn(list(v.values())) if v else math.nan
    return v


_ELEMENTWISE: dict[str, Callable[[float], float]] = {
    "ABS": abs,
    "CEIL": lambda x: float(math.ceil(x)),
    "FLOOR": lambda x: float(math.floor(x)),
}


def _rate(s: Series, per_second: bool) -> Series:
    times = sorted(s)
    out: Series = {}
    for before, t in itertools.pairwise(times):
        change = s[t] - s[before]
        out[t] = change / (t - before) if per_second else change
    return out


class Evaluator:
    def __init__(self, series: Mapping[str, Value], grid: Grid, metrics: Sequence[str]) -> None:
        # Every query's value computed so far, by id; `metrics` are the MetricStat ids
        # (METRICS()).
        self.series = series
        self.grid = grid
        self.metrics = metrics

    def run(self, expression: str) -> Value:
        return self.value(_Parser(expression).parse())

    def value(self, node: _Node) -> Value:
        if node.kind == "num":
            return node.number
        if node.kind == "ref":
            if node.text not in self.series:
                raise MathError(f"Unknown metric or expression id: {node.text}")
            return self.series[node.text]
        if node.kind == "array":
            items: list[Series] = []
            for arg in node.args:
                v = self.value(arg)
                if isinstance(v, list):
                    items.extend(v)
                elif isinstance(v, dict):
                    items.append(v)
                else:
                    raise MathError("an array holds time series, not numbers")
            return items
        if node.kind == "unary":
            v = self.value(node.args[0])
            if node.text == "-":
                return _map(v, lambda x: -x)
            if node.text == "!":
                return _map(v, lambda x: float(not x))
            return v
        if node.kind == "binary":
            return _apply(node.text, self.value(node.args[0]), self.value(node.args[1]))
        if node.kind == "call":
            return self.call(node.text, node.args)
        raise MathError(f"'{node.text}' is not allowed here")

    def call(self, name: str, args: list[_Node]) -> Value:
        if name == "METRICS":
            if args:
                raise MathError("METRICS takes no arguments here")
            return [_as_series(self.series[m]) for m in self.metrics if m in self.series]
        if name in _AGGREGATES:
            return _aggregate(name, self._one(name, args))
        if name in ("RATE", "DIFF"):
            v = self._one(name, args)
            if isinstance(v, list):
                return [_rate(s, name == "RATE") for s in v]
            if isinstance(v, dict):
                return _rate(v, name == "RATE")
            raise MathError(f"{name} takes a time series")
        if name in ("ABS", "CEIL", "FLOOR"):
            return _map(self._one(name, args), _ELEMENTWISE[name])
        if name == "FILL":
            return self.fill(args)
        if name == "IF":
            return self.if_(args)
        raise MathError(f"Unknown function: {name}")

    def _one(self, name: str, args: list[_Node]) -> Value:
        if len(args) != 1:
            raise MathError(f"{name} takes one argument")
        return self.value(args[0])

    def fill(self, args: list[_Node]) -> Value:
        if len(args) != 2:
            raise MathError("FILL takes two arguments")
        target = self.value(args[0])
        how = args[1]
        if isinstance(target, list):
            return [self._fill_one(s, how) for s in target]
        if not isinstance(target, dict):
            raise MathError("FILL takes a time series")
        return self._fill_one(target, how)

    def _fill_one(self, s: Series, how: _Node) -> Series:
        times = self.grid.times()
        out = dict(s)
        if how.kind == "word":
            known = sorted(s)
            for t in times:
                if t in s:
                    continue
                before = [k for k in known if k < t]
                after = [k for k in known if k > t]
                if how.text == "REPEAT" and before:
                    out[t] = s[before[-1]]
                elif how.text == "LINEAR" and before and after:
                    a, b = before[-1], after[0]
                    out[t] = s[a] + (s[b] - s[a]) * (t - a) / (b - a)
            return dict(sorted(out.items()))
        fill = self.value(how)
        for t in times:
            if t not in out:
                v = fill.get(t) if isinstance(fill, dict) else fill
                if isinstance(v, float | int) and not math.isnan(v):
                    out[t] = float(v)
        return dict(sorted(out.items()))

    def if_(self, args: list[_Node]) -> Value:
        if len(args) not in (2, 3):
            raise MathError("IF takes two or three arguments")
        cond = self.value(args[0])
        yes = self.value(args[1])
        no = self.value(args[2]) if len(args) == 3 else None
        if isinstance(cond, list) or isinstance(yes, list) or isinstance(no, list):
            raise MathError("IF takes time series or numbers, not arrays")
        if not isinstance(cond, dict):
            chosen = yes if cond else no
            return math.nan if chosen is None else chosen
        out: Series = {}
        for t, c in cond.items():
            branch = yes if c else no
            v = branch.get(t) if isinstance(branch, dict) else branch
            if v is not None and not math.isnan(v):
                out[t] = float(v)
        return out


def result_series(value: Value, grid: Grid, times: Sequence[float]) -> Series:
    """The time series an expression's value is returned as: a scalar spans `times` (the other
    queries' timestamps) or else the grid."""
    if isinstance(value, list):
        raise MathError("The expression returns an array of time series, not one")
    if isinstance(value, dict):
        return value
    if math.isnan(value):
        return {}
    return {t: value for t in (times or grid.times())}
