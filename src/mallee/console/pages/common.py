"""Small helpers the page modules share: paging through lists, names from tags."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any


def paged(client: Any, operation: str, key: str, **params: Any) -> Iterator[dict[str, Any]]:
    """Every item of a listing, following its NextToken (or other) pagination."""
    if client.can_paginate(operation):
        for page in client.get_paginator(operation).paginate(**params):
            yield from page.get(key, [])
    else:
        yield from getattr(client, operation)(**params).get(key, [])


def tag(resource: dict[str, Any], name: str) -> str:
    for item in resource.get("Tags") or []:
        if item.get("Key") == name:
            return str(item.get("Value", ""))
    return ""


def instances(ec2: Any, **params: Any) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for reservation in paged(ec2, "describe_instances", "Reservations", **params):
        out.extend(reservation.get("Instances", []))
    return out
