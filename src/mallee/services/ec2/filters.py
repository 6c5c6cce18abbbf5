"""EC2 Describe* filters: names checked, values matched with `*` and `?` wildcards.

Different filters AND, the values of one filter OR. Wildcards use the policy engine's matcher
(linear, whatever the pattern); EC2's backslash escapes of `*` and `?` are not supported.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from mallee.api.errors import ServiceError
from mallee.policy import wildcard_match

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
    return any(wildcard_match(p, c) for p in flt.values for c in candidates)


def matches(
    filters: Sequence[Filter], value_of: Callable[[str], Any], tags: Mapping[str, str]
) -> bool:
    return all(_one(f, value_of, tags) for f in filters)


def lookup(table: Mapping[str, Callable[[T], Any]], item: T) -> Callable[[str], Any]:
    """`value_of` for `matches`: filter name -> the item's value, from a table of getters."""

    def value_of(name: str) -> Any:
        return table[name](item)

    return value_of
