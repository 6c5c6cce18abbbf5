"""EC2 Describe* filters: names checked, values matched with `*` and `?` wildcards.

Different filters AND, the values of one filter OR. Wildcards are matched by a linear-time
two-pointer scan, so no pattern a caller sends can make matching exponential.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from mallee.api.errors import ServiceError

TAG_FILTERS = ("tag-key", "tag-value")
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Filter:
    name: str
    values: tuple[str, ...]


def _invalid(name: str) -> ServiceError:
    return ServiceError("InvalidParameterValue", f"The filter '{name}' is invalid", 400)


def parse_filters(raw: list[dict[str, Any]] | None, known: Collection[str]) -> list[Filter]:
    out = []
    for item in raw or []:
        name = str(item.get("Name") or "")
        values = tuple(str(v) for v in item.get("Values") or [])
        if not (name in known or name in TAG_FILTERS or name.startswith("tag:")):
            raise _invalid(name)
        if not values:
            raise ServiceError(
                "InvalidParameterValue", f"The filter '{name}' must have at least one value", 400
            )
        out.append(Filter(name, values))
    return out


def wildcard(pattern: str, text: str) -> bool:
    """`*` any run, `?` one character, `\\` escapes; backtracks only to the last star."""
    tokens = _tokens(pattern)
    t = p = 0
    star_p, star_t = -1, 0
    while t < len(text):
        if p < len(tokens) and tokens[p] != "*" and _same(tokens[p], text[t]):
            t, p = t + 1, p + 1
        elif p < len(tokens) and tokens[p] == "*":
            star_p, star_t = p, t
            p += 1
        elif star_p >= 0:
            star_t += 1
            t, p = star_t, star_p + 1
        else:
            return False
    while p < len(tokens) and tokens[p] == "*":
        p += 1
    return p == len(tokens)


def _same(token: str, char: str) -> bool:
    # "?" is any one character; an escaped wildcard ("\\?", "\\*") is that character.
    if token == "?":
        return True
    return (token[1] if len(token) == 2 else token) == char


def _tokens(pattern: str) -> list[str]:
    out: list[str] = []
    i = 0
    while i < len(pattern):
        char = pattern[i]
        if char == "\\" and i + 1 < len(pattern) and pattern[i + 1] in "*?\\":
            nxt = pattern[i + 1]
            out.append("\\" + nxt if nxt in "*?" else nxt)
            i += 2
            continue
        if char == "*" and out and out[-1] == "*":
            i += 1  # "**" is "*"
            continue
        out.append(char)
        i += 1
    return out


def _texts(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, bool):
        return ["true" if value else "false"]
    if isinstance(value, (str, int, float)):
        return [str(value)]
    if isinstance(value, Iterable):
        return [t for item in value for t in _texts(item)]
    return [str(value)]


def _one(flt: Filter, value_of: Callable[[str], Any], tags: Mapping[str, str]) -> bool:
    if flt.name.startswith("tag:"):
        key = flt.name[4:]
        candidates = [tags[key]] if key in tags else []
    elif flt.name == "tag-key":
        candidates = list(tags)
    elif flt.name == "tag-value":
        candidates = list(tags.values())
    else:
        candidates = _texts(value_of(flt.name))
    return any(wildcard(p, c) for p in flt.values for c in candidates)


def matches(
    filters: Sequence[Filter], value_of: Callable[[str], Any], tags: Mapping[str, str]
) -> bool:
    return all(_one(f, value_of, tags) for f in filters)


def lookup(table: Mapping[str, Callable[[T], Any]], item: T) -> Callable[[str], Any]:
    """`value_of` for `matches`: filter name -> the item's value, from a table of getters."""

    def value_of(name: str) -> Any:
        return table[name](item)

    return value_of
