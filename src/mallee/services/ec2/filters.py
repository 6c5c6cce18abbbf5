"""EC2 Describe* filters: names checked, values matched with `*` and `?` wildcards.

Different filters AND, the values of one filter OR. `*` matches any run of characters (also
none), `?` exactly one, and a backslash makes the next character literal (`\\*`, `\\?`, `\\\\`),
as EC2 documents. Patterns without a backslash use the policy engine's matcher; escaped ones a
token-wise version of the same algorithm: both take each literal segment at its leftmost place,
which never backtracks, so any pattern costs at most O(len(value) * len(pattern)).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from mallee.policy import wildcard_match
from mallee.services.ec2 import errors

TAG_FILTERS = ("tag-key", "tag-value")
T = TypeVar("T")
# One element of an escaped pattern's segment: a literal character, or None for `?`.
_Token = str | None


@dataclass(frozen=True, slots=True)
class Filter:
    name: str
    values: tuple[str, ...]


def parse_filters(raw: list[dict[str, Any]] | None, known: Collection[str]) -> list[Filter]:
    """Filters from the request; unknown names and empty value lists are AWS's errors."""
    out = []
    for item in raw or []:
        name = str(item.get("Name") or "")
        values = tuple(str(v) for v in item.get("Values") or [])
        tag_filter = name in TAG_FILTERS or (name.startswith("tag:") and len(name) > 4)
        if not (name in known or tag_filter):
            raise errors.invalid_filter(name)
        if not values:
            raise errors.filter_without_values(name)
        out.append(Filter(name, values))
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


@functools.lru_cache(maxsize=4096)
def _escaped_segments(pattern: str) -> tuple[tuple[_Token, ...], ...]:
    """The pattern split on its unescaped `*`s into segments of tokens."""
    segments: list[tuple[_Token, ...]] = []
    current: list[_Token] = []
    chars = iter(pattern)
    for ch in chars:
        if ch == "\\":
            current.append(next(chars, "\\"))
        elif ch == "*":
            segments.append(tuple(current))
            current = []
        else:
            current.append(None if ch == "?" else ch)
    segments.append(tuple(current))
    return tuple(segments)


def _at(text: str, pos: int, seg: tuple[_Token, ...]) -> bool:
    if pos + len(seg) > len(text):
        return False
    return all(t is None or text[pos + i] == t for i, t in enumerate(seg))


def _find(text: str, seg: tuple[_Token, ...], start: int, end: int) -> int:
    """Leftmost position >= start where `seg` matches wholly before `end`, or -1."""
    if None not in seg:
        return text.find("".join(t for t in seg if t is not None), start, end)
    return next((p for p in range(start, end - len(seg) + 1) if _at(text, p, seg)), -1)


def _escaped_match(pattern: str, text: str) -> bool:
    segs = _escaped_segments(pattern)
    if len(segs) == 1:
        return len(text) == len(segs[0]) and _at(text, 0, segs[0])
    head, tail = segs[0], segs[-1]
    tail_start = len(text) - len(tail)
    if tail_start < len(head) or not _at(text, 0, head) or not _at(text, tail_start, tail):
        return False
    pos = len(head)
    for seg in segs[1:-1]:
        found = _find(text, seg, pos, tail_start)
        if found < 0:
            return False
        pos = found + len(seg)
    return True


def value_matches(pattern: str, text: str) -> bool:
    """One filter value against one candidate value, with EC2's wildcards and escapes."""
    if "\\" in pattern:
        return _escaped_match(pattern, text)
    return wildcard_match(pattern, text)


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
    return any(value_matches(p, c) for p in flt.values for c in candidates)


def matches(
    filters: Sequence[Filter], value_of: Callable[[str], Any], tags: Mapping[str, str]
) -> bool:
    """Does a resource pass every filter? `value_of(name)` gives its value for a filter name:
    a str, bool, int, None (matches nothing) or an iterable of those (any may match)."""
    return all(_one(f, value_of, tags) for f in filters)


def lookup(table: Mapping[str, Callable[[T], Any]], item: T) -> Callable[[str], Any]:
    """`value_of` for `matches`: filter name -> the item's value, from a table of getters."""

    def value_of(name: str) -> Any:
        return table[name](item)

    return value_of
