"""Which rest operation a request is for: HTTP method + requestUri template, most specific wins."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from itertools import combinations
from urllib.parse import parse_qsl, unquote

from botocore.model import OperationModel, ServiceModel

from mallee.api.errors import ServiceError
from mallee.api.http import HttpRequest
from mallee.api.protocol.shapes import members

_LABEL = re.compile(r"\{([^}]+)\}")


@dataclass(frozen=True, slots=True)
class Route:
    operation: OperationModel
    pattern: re.Pattern[str]
    # regex group -> label name as written in the template (without '+').
    groups: tuple[tuple[str, str], ...]
    literal_query: tuple[tuple[str, str | None], ...]
    required_query: tuple[str, ...]
    required_headers: tuple[str, ...]
    optional_query: frozenset[str]
    optional_headers: frozenset[str]
    literal_chars: int
    deprecated: bool
    order: int


@dataclass(frozen=True, slots=True)
class Match:
    route: Route
    labels: dict[str, str]
    query: dict[str, list[str]]


def _compile_path(path: str) -> tuple[re.Pattern[str], tuple[tuple[str, str], ...], int]:
    regex = ["^"]
    groups: list[tuple[str, str]] = []
    position = 0
    literal = 0
    for index, label in enumerate(_LABEL.finditer(path)):
        chunk = path[position : label.start()]
        regex.append(re.escape(chunk))
        literal += len(chunk)
        name = label.group(1)
        group = f"g{index}"
        greedy = name.endswith("+")
        regex.append(f"(?P<{group}>.+)" if greedy else f"(?P<{group}>[^/]+)")
        groups.append((group, name.rstrip("+")))
        position = label.end()
    tail = path[position:]
    regex.append(re.escape(tail))
    literal += len(tail)
    if not path.endswith("/"):
        # Bucket-level requests arrive as "/bucket" or "/bucket/".
        regex.append("/?")
    regex.append(r"\Z")
    return re.compile("".join(regex), re.DOTALL), tuple(groups), literal


def _literal_query(query: str) -> tuple[tuple[str, str | None], ...]:
    out: list[tuple[str, str | None]] = []
    for part in query.split("&"):
        if not part:
            continue
        key, eq, value = part.partition("=")
        out.append((key, value if eq else None))
    return tuple(out)


def _route(operation: OperationModel, order: int) -> Route:
    path, _, query = operation.http.get("requestUri", "/").partition("?")
    pattern, groups, literal = _compile_path(path)
    req_q: list[str] = []
    req_h: list[str] = []
    opt_q: set[str] = set()
    opt_h: set[str] = set()
    shape = operation.input_shape
    for member in members(shape) if shape is not None else ():
        if member.location == "querystring" and member.type != "map":
            if member.required:
                req_q.append(member.wire)
            else:
                opt_q.add(member.wire)
        elif member.location == "header":
            if member.required:
                req_h.append(member.wire.lower())
            else:
                opt_h.add(member.wire.lower())
    return Route(
        operation=operation,
        pattern=pattern,
        groups=groups,
        literal_query=_literal_query(query),
        required_query=tuple(req_q),
        required_headers=tuple(req_h),
        optional_query=frozenset(opt_q),
        optional_headers=frozenset(opt_h),
        literal_chars=literal,
        deprecated=bool(operation.deprecated),
        order=order,
    )


@dataclass(frozen=True, slots=True)
class _Table:
    """One method's routes, indexed by the query keys their literals need: a request can
    only match routes whose literal keys it all carries, so only those few are scored."""

    by_literal_keys: dict[frozenset[str], tuple[Route, ...]]
    # Every key some route's literal query names (other query keys never narrow the choice).
    literal_keys: frozenset[str]


def _table(found: list[Route]) -> _Table:
    grouped: dict[frozenset[str], list[Route]] = {}
    for route in found:
        grouped.setdefault(frozenset(k for k, _ in route.literal_query), []).append(route)
    keys = frozenset(k for route in found for k, _ in route.literal_query)
    return _Table({k: tuple(v) for k, v in grouped.items()}, keys)


_ROUTES: dict[int, tuple[ServiceModel, dict[str, _Table]]] = {}


def _tables(service: ServiceModel) -> dict[str, _Table]:
    hit = _ROUTES.get(id(service))
    if hit is not None and hit[0] is service:
        return hit[1]
    by_method: dict[str, list[Route]] = {}
    for order, name in enumerate(service.operation_names):
        operation = service.operation_model(name)
        method = operation.http.get("method", "POST").upper()
        by_method.setdefault(method, []).append(_route(operation, order))
    tables = {method: _table(found) for method, found in by_method.items()}
    _ROUTES[id(service)] = (service, tables)
    return tables


def methods_streaming(
    service: ServiceModel, streams: Callable[[OperationModel], bool]
) -> frozenset[str]:
    """The HTTP methods some operation of `service` for which `streams` holds is sent with."""
    return frozenset(
        method
        for method, table in _tables(service).items()
        if any(streams(r.operation) for group in table.by_literal_keys.values() for r in group)
    )


# Past this many literal keys in one query, scoring every route is cheaper than the subsets
# (and a crafted query cannot make the subsets explode).
_SUBSET_KEYS = 4


def _candidates(table: _Table, query: dict[str, list[str]]) -> Iterator[Route]:
    present = [k for k in query if k in table.literal_keys]
    if len(present) > _SUBSET_KEYS:
        for group in table.by_literal_keys.values():
            yield from group
        return
    for size in range(len(present) + 1):
        for keys in combinations(present, size):
            yield from table.by_literal_keys.get(frozenset(keys), ())


def query_dict(raw: str) -> dict[str, list[str]]:
    query: dict[str, list[str]] = {}
    for key, value in parse_qsl(raw, keep_blank_values=True):
        query.setdefault(key, []).append(value)
    return query


def _literals_ok(route: Route, query: dict[str, list[str]]) -> bool:
    for key, value in route.literal_query:
        found = query.get(key)
        if found is None or (value is not None and value not in found):
            return False
    return True


def _score(route: Route, query: dict[str, list[str]], headers: dict[str, str]) -> tuple[int, ...]:
    satisfied = all(k in query for k in route.required_query) and all(
        h in headers for h in route.required_headers
    )
    required = len(route.required_query) + len(route.required_headers)
    optional = sum(1 for k in query if k in route.optional_query) + sum(
        1 for h in headers if h in route.optional_headers
    )
    return (
        len(route.literal_query),
        int(satisfied),
        route.literal_chars,
        required if satisfied else 0,
        optional,
        int(not route.deprecated),
        -route.order,
    )


def match(request: HttpRequest, service: ServiceModel) -> Match:
    """The most specific operation whose method, path template and query literals match."""
    table = _tables(service).get(request.method.upper())
    query = query_dict(request.query)
    best: tuple[tuple[int, ...], Route, re.Match[str]] | None = None
    for route in _candidates(table, query) if table is not None else ():
        if not _literals_ok(route, query):
            continue
        found = route.pattern.match(request.path or "/")
        if found is None:
            continue
        score = _score(route, query, request.headers)
        if best is None or score > best[0]:
            best = (score, route, found)
    if best is None:
        raise ServiceError(
            "MethodNotAllowed", "The specified method is not allowed against this resource.", 405
        )
    _, route, found = best
    labels = {name: unquote(found.group(group)) for group, name in route.groups}
    return Match(route, labels, query)
