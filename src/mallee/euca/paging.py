"""Every page of a describe call, as euca2ools shows every result."""

from __future__ import annotations

from typing import Any


def all_items(client: Any, operation: str, key: str, **params: Any) -> list[Any]:
    if not client.can_paginate(operation):
        return list(getattr(client, operation)(**params).get(key) or [])
    items: list[Any] = []
    for page in client.get_paginator(operation).paginate(**params):
        items += page.get(key) or []
    return items
