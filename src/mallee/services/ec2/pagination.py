"""EC2 MaxResults/NextToken over a list already sorted by a unique key."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

from mallee.api.errors import ServiceError

T = TypeVar("T")


def _bad_token() -> ServiceError:
    return ServiceError("InvalidParameterValue", "The NextToken value is not valid", 400)


def page(
    items: Sequence[T],
    params: Mapping[str, Any],
    *,
    key: Callable[[T], str],
    max_bounds: tuple[int, int] = (5, 1000),
) -> tuple[list[T], str | None]:
    """One page after NextToken (the last key already returned, opaque to the caller).

    Without MaxResults everything after the token comes back, as EC2 does.
    """
    start = 0
    token = params.get("NextToken")
    if token:
        try:
            after = base64.b64decode(str(token), altchars=b"-_", validate=True).decode()
        except (binascii.Error, UnicodeDecodeError, ValueError) as err:
            raise _bad_token() from err
        start = next((i for i, item in enumerate(items) if key(item) > after), len(items))
    limit = params.get("MaxResults")
    if limit is None:
        return list(items[start:]), None
    low, high = max_bounds
    if not low <= int(limit) <= high:
        raise ServiceError(
            "InvalidParameterValue",
            f"Value ( {limit} ) for parameter maxResults is invalid. "
            f"Expecting a value between {low} and {high}.",
            400,
        )
    chosen = list(items[start : start + int(limit)])
    if start + int(limit) >= len(items):
        return chosen, None
    return chosen, base64.urlsafe_b64encode(key(chosen[-1]).encode()).decode()
