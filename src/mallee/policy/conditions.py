"""Condition operators (String*, Numeric*, Date*, Bool, Binary, IpAddress, Arn*, Null) with the
...IfExists suffix and the ForAllValues/ForAnyValue set prefixes, as IAM evaluates them."""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from mallee.policy.errors import PolicyError
from mallee.policy.wildcard import wildcard_match

Context = Mapping[str, Sequence[str]]
Matcher = Callable[[str, str], bool]


def _num(value: str) -> float | None:
    try:
        return float(value)
    except ValueError:
        return None


def _date(value: str) -> float | None:
    try:
        return float(value)
    except ValueError:
        pass
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.timestamp()


def _compare(conv: Callable[[str], float | None], test: Callable[[float, float], bool]) -> Matcher:
    def match(actual: str, expected: str) -> bool:
        a, e = conv(actual), conv(expected)
        return a is not None and e is not None and test(a, e)

    return match


def _ip(actual: str, expected: str) -> bool:
    try:
        network = ipaddress.ip_network(expected, strict=False)
        return ipaddress.ip_address(actual) in network
    except ValueError:
        return False


def _arn_like(actual: str, expected: str) -> bool:
    # ARNs compare component by component; a wildcard never spans a ':' boundary it should not.
    a_parts = actual.split(":", 5)
    e_parts = expected.split(":", 5)
    if len(a_parts) != 6 or len(e_parts) != 6:
        return False
    return all(wildcard_match(e, a) for a, e in zip(a_parts, e_parts, strict=True))


# Positive matchers; the "Not" operators negate these (see NEGATED).
_MATCHERS: dict[str, Matcher] = {
    "StringEquals": lambda a, e: a == e,
    "StringEqualsIgnoreCase": lambda a, e: a.lower() == e.lower(),
    "StringLike": lambda a, e: wildcard_match(e, a),
    "NumericEquals": _compare(_num, lambda a, e: a == e),
    "NumericLessThan": _compare(_num, lambda a, e: a < e),
    "NumericLessThanEquals": _compare(_num, lambda a, e: a <= e),
    "NumericGreaterThan": _compare(_num, lambda a, e: a > e),
    "NumericGreaterThanEquals": _compare(_num, lambda a, e: a >= e),
    "DateEquals": _compare(_date, lambda a, e: a == e),
    "DateLessThan": _compare(_date, lambda a, e: a < e),
    "DateLessThanEquals": _compare(_date, lambda a, e: a <= e),
    "DateGreaterThan": _compare(_date, lambda a, e: a > e),
    "DateGreaterThanEquals": _compare(_date, lambda a, e: a >= e),
    "Bool": lambda a, e: a.lower() == e.lower(),
    "BinaryEquals": lambda a, e: a == e,
    "IpAddress": _ip,
    "ArnEquals": _arn_like,
    "ArnLike": _arn_like,
}

NEGATED: dict[str, str] = {
    "StringNotEquals": "StringEquals",
    "StringNotEqualsIgnoreCase": "StringEqualsIgnoreCase",
    "StringNotLike": "StringLike",
    "NumericNotEquals": "NumericEquals",
    "DateNotEquals": "DateEquals",
    "NotIpAddress": "IpAddress",
    "ArnNotEquals": "ArnEquals",
    "ArnNotLike": "ArnLike",
}

_SET_PREFIXES = ("ForAllValues:", "ForAnyValue:")


@dataclass(frozen=True, slots=True)
class Condition:
    operator: str  # as written, e.g. "ForAnyValue:StringLikeIfExists"
    base: str  # positive base operator, e.g. "StringLike", or "Null"
    negated: bool
    if_exists: bool
    set_op: str | None  # "ForAllValues", "ForAnyValue" or None
    key: str  # lower-cased: condition keys are case-insensitive
    values: tuple[str, ...]


def _value_str(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float | str):
        return str(value)
    raise PolicyError("Syntax errors in policy. Condition values must be strings.")


def _split_operator(operator: str) -> tuple[str, bool, bool, str | None]:
    set_op: str | None = None
    name = operator
    for prefix in _SET_PREFIXES:
        if name.startswith(prefix):
            set_op, name = prefix[:-1], name[len(prefix) :]
    if_exists = name.endswith("IfExists") and name != "IfExists"
    if if_exists:
        name = name[: -len("IfExists")]
    if name == "Null" and not if_exists:
        return "Null", False, False, set_op
    if name in _MATCHERS:
        return name, False, if_exists, set_op
    if name in NEGATED:
        return NEGATED[name], True, if_exists, set_op
    raise PolicyError(f"Invalid Condition type : {operator}")


def parse_conditions(raw: Any) -> tuple[Condition, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, dict):
        raise PolicyError("Syntax errors in policy. Condition must be an object.")
    out: list[Condition] = []
    for operator, block in raw.items():
        base, negated, if_exists, set_op = _split_operator(operator)
        if not isinstance(block, dict) or not block:
            raise PolicyError(f"Syntax errors in policy. Condition {operator} needs keys.")
        for key, value in block.items():
            items = value if isinstance(value, list) else [value]
            if not items:
                raise PolicyError(f"Syntax errors in policy. Condition key {key} has no value.")
            if base != "Null" and ":" not in key:
                raise PolicyError(
                    "Actions/Conditions must be prefaced by a vendor, e.g., iam, sdb, ec2, etc."
                )
            values = tuple(_value_str(v) for v in items)
            out.append(Condition(operator, base, negated, if_exists, set_op, key.lower(), values))
    return tuple(out)


def _any_value(matcher: Matcher, actual: str, expected: Sequence[str]) -> bool:
    return any(matcher(actual, e) for e in expected)


def _single(cond: Condition, actual: Sequence[str], expected: Sequence[str]) -> bool:
    matcher = _MATCHERS[cond.base]
    if cond.set_op == "ForAllValues":
        # Vacuously true for an empty set, as IAM does.
        if cond.negated:
            return all(not _any_value(matcher, a, expected) for a in actual)
        return all(_any_value(matcher, a, expected) for a in actual)
    if cond.set_op == "ForAnyValue":
        if cond.negated:
            return any(not _any_value(matcher, a, expected) for a in actual)
        return any(_any_value(matcher, a, expected) for a in actual)
    hit = any(_any_value(matcher, a, expected) for a in actual)
    return not hit if cond.negated else hit


def condition_holds(
    cond: Condition, context: Context, expected: Sequence[str] | None = None
) -> bool:
    """`expected` are the policy values after variable substitution (default: as written)."""
    values = cond.values if expected is None else expected
    actual = context.get(cond.key)
    if cond.base == "Null":
        want_absent = any(v.lower() == "true" for v in values)
        return (not actual) == want_absent
    if not actual:
        if cond.if_exists or cond.set_op == "ForAllValues":
            return True
        # A missing key never matches; the negated operators therefore hold.
        return cond.negated and cond.set_op is None
    return _single(cond, actual, values)
