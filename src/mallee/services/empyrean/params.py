"""Reading Empyrean's request parameters."""

from __future__ import annotations

from typing import Any

from mallee.services.base import Params
from mallee.services.empyrean import errors


def required(params: Params, key: str) -> Any:
    value = params.get(key)
    if value is None or value == "":
        raise errors.missing(key)
    return value
