"""Cloud property definitions and their value types.

A value is stored and shown in one canonical text form per type; `canonical` turns what an
administrator typed into it (or says why not), `typed` turns it into the Python value code reads.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Literal

Kind = Literal["int", "bool", "string", "enum", "duration", "json"]
DurationUnit = Literal["seconds", "minutes", "hours"]
PropertyValue = int | bool | str | timedelta | dict[str, Any]

_UNIT_SECONDS = {"seconds": 1, "minutes": 60, "hours": 3600}
_SUFFIX_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_TRUE = ("true", "yes", "on", "1")
_FALSE = ("false", "no", "off", "0")
MAX_TEXT = 64 * 1024


class BadValue(ValueError):
    """A value the property's type refuses; the message says what was expected."""


@dataclass(frozen=True, slots=True)
class PropertyDef:
    name: str
    kind: Kind
    # Canonical text form of the default.
    default: str
    description: str
    choices: tuple[str, ...] = ()
    # Inclusive bounds: the value for ints, the count of `unit`s for durations.
    minimum: int | None = None
    maximum: int | None = None
    # Durations are shown and stored as a whole number of this unit (Eucalyptus style).
    unit: DurationUnit = "seconds"
    # Strings: a full-match regular expression the value must satisfy.
    pattern: str | None = None

    def canonical(self, text: str) -> str:
        """The canonical form of `text`, or BadValue."""
        if len(text) > MAX_TEXT:
            raise BadValue(f"longer than {MAX_TEXT} characters")
        return _CANONICAL[self.kind](self, text)

    def typed(self, canonical: str) -> PropertyValue:
        return _TYPED[self.kind](self, canonical)


def _bounded(prop: PropertyDef, number: int, what: str) -> int:
    if prop.minimum is not None and number < prop.minimum:
        raise BadValue(f"{what} must be at least {prop.minimum}")
    if prop.maximum is not None and number > prop.maximum:
        raise BadValue(f"{what} must be at most {prop.maximum}")
    return number


def _int(prop: PropertyDef, text: str) -> str:
    try:
        number = int(text.strip(), 10)
    except ValueError:
        raise BadValue("expected an integer") from None
    return str(_bounded(prop, number, "value"))


def _bool(prop: PropertyDef, text: str) -> str:
    lowered = text.strip().lower()
    if lowered in _TRUE:
        return "true"
    if lowered in _FALSE:
        return "false"
    raise BadValue("expected true or false")


def _string(prop: PropertyDef, text: str) -> str:
    if prop.pattern is not None and re.fullmatch(prop.pattern, text) is None:
        raise BadValue(f"must match {prop.pattern}")
    return text


def _enum(prop: PropertyDef, text: str) -> str:
    for choice in prop.choices:
        if choice.lower() == text.strip().lower():
            return choice
    raise BadValue(f"expected one of: {', '.join(prop.choices)}")


def _duration(prop: PropertyDef, text: str) -> str:
    """A whole number of the property's unit, or a number with a unit suffix (90s, 15m, 2h, 1d)."""
    match = re.fullmatch(r"\s*(\d+)\s*([smhd]?)\s*", text.lower())
    if match is None:
        raise BadValue(f"expected a number of {prop.unit} or a duration such as 90s, 15m, 2h, 1d")
    amount, suffix = int(match.group(1)), match.group(2)
    if not suffix:
        return str(_bounded(prop, amount, f"{prop.unit}"))
    seconds = amount * _SUFFIX_SECONDS[suffix]
    units, rest = divmod(seconds, _UNIT_SECONDS[prop.unit])
    if rest:
        raise BadValue(f"must be a whole number of {prop.unit}")
    return str(_bounded(prop, units, f"{prop.unit}"))


def _json(prop: PropertyDef, text: str) -> str:
    try:
        parsed = json.loads(text)
    except json.JSONDecodeError as err:
        raise BadValue(
            f"not valid JSON ({err.msg} at line {err.lineno} column {err.colno})"
        ) from None
    if not isinstance(parsed, dict):
        raise BadValue("expected a JSON object")
    # Kept as typed so `euctl --edit` shows the administrator's own layout back.
    return text


_CANONICAL: dict[str, Callable[[PropertyDef, str], str]] = {
    "int": _int,
    "bool": _bool,
    "string": _string,
    "enum": _enum,
    "duration": _duration,
    "json": _json,
}


def _typed_json(prop: PropertyDef, canonical: str) -> dict[str, Any]:
    parsed: dict[str, Any] = json.loads(canonical)
    return parsed


def _typed_duration(prop: PropertyDef, canonical: str) -> timedelta:
    return timedelta(seconds=int(canonical) * _UNIT_SECONDS[prop.unit])


_TYPED: dict[str, Callable[[PropertyDef, str], PropertyValue]] = {
    "int": lambda prop, v: int(v),
    "bool": lambda prop, v: v == "true",
    "string": lambda prop, v: v,
    "enum": lambda prop, v: v,
    "duration": _typed_duration,
    "json": _typed_json,
}
