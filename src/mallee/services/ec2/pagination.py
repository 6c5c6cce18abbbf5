"""EC2 MaxResults/NextToken over a list already sorted by a unique key.

The token carries the last key returned (see page_tokens), so a page boundary survives resources
appearing or disappearing between calls (the next page starts after that key, wherever it now is).
"""

from __future__ import annotations

import bisect
import itertools
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

from mallee.services import page_tokens
from mallee.services.ec2 import errors

T = TypeVar("T")


def encode_token(key: str) -> str:
    return page_tokens.encode(key)


def decode_token(token: str) -> str:
    key = page_tokens.decode(token)
    if key is None:
        raise errors.bad_next_token(token)
    return key


def _limit(params: Mapping[str, Any], max_default: int | None, bounds: tuple[int, int]) -> int:
    raw = params.get("MaxResults")
    if raw is None:
        return max_default if max_default is not None else -1
    low, high = bounds
    try:
        limit = int(raw)
    except (TypeError, ValueError):
        limit = low - 1
    if not low <= limit <= high:
        raise errors.bad_max_results(raw, low, high)
    return limit


def page(
    items: Sequence[T],
    params: Mapping[str, Any],
    *,
    key: Callable[[T], str],
    max_default: int | None = None,
    max_bounds: tuple[int, int] = (5, 1000),
) -> tuple[list[T], str | None]:
    """One page of `items` (keys unique; sorted by `key`, or sorted here) after NextToken.

    MaxResults must lie within `max_bounds`. Without it the page holds `max_default` items, or
    everything left when that is None (what most EC2 Describe calls do). Returns the page and
    the token for the next one (None on the last page).
    """
    token = params.get("NextToken")
    limit = _limit(params, max_default, max_bounds)
    if not token and limit < 0:
        return list(items), None
    keys = [key(item) for item in items]
    if any(a > b for a, b in itertools.pairwise(keys)):
        # A database collation may order differently from Python; tokens need one order.
        order = sorted(range(len(items)), key=keys.__getitem__)
        items, keys = [items[i] for i in order], [keys[i] for i in order]
    start = bisect.bisect_right(keys, decode_token(str(token))) if token else 0
    if limit < 0 or start + limit >= len(items):
        return list(items[start:]), None
    chosen = list(items[start : start + limit])
    return chosen, encode_token(keys[start + limit - 1])
