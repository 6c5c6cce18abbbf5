"""The smallest plausible request for any operation, read from its botocore input shape.

Required members are filled with values that satisfy the model's constraints (enum, length,
range, pattern), so that a request reaches authorization rather than stopping at validation;
members the caller's `named` table knows (Bucket, InstanceId, UserName, ...) are filled from it,
required or not, so that requests point at real resources of the account under attack.

`named` keys, most specific first: "<Operation>.<Member>", "<Member>:<shape type>" (S3's
Tagging is a structure in PutBucketTagging, a header string in PutObject), "<Member>".
"""

from __future__ import annotations

import datetime as dt
import functools
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from botocore.model import OperationModel, Shape
from hypothesis import HealthCheck, find, settings
from hypothesis import strategies as st
from hypothesis.errors import NoSuchExample, Unsatisfiable

# Deeper than any real request needs; stops recursive shapes (EC2 filters, S3 metadata).
MAX_DEPTH = 8
_CANDIDATES = ("matrix", "matrix-probe-1", "1", "a", "A1", "/", "matrix@example.com")
_MISSING = object()


def build_params(
    operation: OperationModel,
    named: Mapping[str, Any],
    alternatives: Sequence[Sequence[str]] = (),
) -> dict[str, Any]:
    """Parameters for `operation`: `named` values wherever the shape has such a member,
    generated values for every other required member. Of the members in one group of
    `alternatives` (ways to name one thing: GroupId or GroupName) only the first the shape
    has is filled from `named`, unless the model requires more."""
    shape = operation.input_shape
    if shape is None:
        return {}
    return _Filler(operation.name, named, alternatives).structure(shape, 0)


@dataclass(frozen=True)
class _Filler:
    operation: str
    named: Mapping[str, Any]
    alternatives: Sequence[Sequence[str]]

    def lookup(self, name: str, shape: Shape) -> Any:
        for key in (f"{self.operation}.{name}", f"{name}:{shape.type_name}", name):
            if key in self.named and _fits(shape, self.named[key]):
                return self.named[key]
        return _MISSING

    def structure(self, shape: Shape, depth: int) -> dict[str, Any]:
        required = set(shape.required_members)
        members = shape.members
        if shape.metadata.get("union"):
            # Exactly one member of a union may be set.
            first = next(iter(required or members), None)
            return {} if first is None else {first: self.value(members[first], first, depth + 1)}
        out = {
            name: self.value(member, name, depth + 1)
            for name, member in members.items()
            if name in required
        }
        if not out and members and depth > 0:
            # A required structure with nothing required in it: empty, most serializers would
            # leave it out, and the request would miss a required member.
            name, member = next(iter(members.items()))
            out[name] = self.value(member, name, depth + 1)
        for name, member in members.items():
            found = self.lookup(name, member)
            if name in out or found is _MISSING or self.named_otherwise(name, shape, out):
                continue
            out[name] = found
        return out

    def named_otherwise(self, name: str, shape: Shape, out: Mapping[str, Any]) -> bool:
        """Whether the request names this thing by another member of its alternatives: one
        already set, or one listed before `name` that the shape has and `named` knows."""
        group = next((g for g in self.alternatives if name in g), ())
        for other in group:
            if other in out:
                return True
            if other == name:
                return False
            member = shape.members.get(other)
            if member is not None and self.lookup(other, member) is not _MISSING:
                return True
        return False

    def value(self, shape: Shape, name: str, depth: int) -> Any:
        found = self.lookup(name, shape)
        if found is not _MISSING:
            return found
        kind = shape.type_name
        if kind == "structure":
            return self.structure(shape, depth) if depth < MAX_DEPTH else {}
        if kind == "list":
            if depth >= MAX_DEPTH:
                return []
            count = max(1, int(shape.metadata.get("min", 1)))
            return [self.value(shape.member, name, depth + 1) for _ in range(count)]
        if kind == "map":
            return {_string(shape.key): self.value(shape.value, name, depth + 1)}
        return _scalar(shape)


def _fits(shape: Shape, value: Any) -> bool:
    """Whether a named value has the shape's kind (EC2's InstanceType is a string in
    RunInstances, a structure in ModifyInstanceAttribute)."""
    kind = shape.type_name
    if kind in ("structure", "map"):
        return isinstance(value, dict)
    if kind == "list":
        return isinstance(value, list)
    if kind == "string":
        return isinstance(value, str)
    if kind in ("integer", "long"):
        return isinstance(value, int) and not isinstance(value, bool)
    if kind == "blob":
        return isinstance(value, bytes | str)
    return True


def _scalar(shape: Shape) -> Any:
    kind = shape.type_name
    if kind in ("integer", "long"):
        return _number(shape)
    if kind in ("float", "double"):
        return float(_number(shape))
    if kind == "boolean":
        return False
    if kind == "timestamp":
        return dt.datetime.now(dt.UTC)
    if kind == "blob":
        return b"matrix"
    return _string(shape)


def _number(shape: Shape) -> int:
    low = int(shape.metadata.get("min", 1))
    high = shape.metadata.get("max")
    value = max(low, 1)
    return min(value, int(high)) if high is not None else value


def _string(shape: Shape) -> str:
    if shape.enum:
        return str(shape.enum[0])
    low = int(shape.metadata.get("min", 0))
    high = shape.metadata.get("max")
    return _text(shape.metadata.get("pattern") or "", low, None if high is None else int(high))


@functools.cache
def _text(pattern: str, low: int, high: int | None) -> str:
    """A readable string of `low`..`high` characters matching `pattern`, else the simplest
    one hypothesis finds (it shrinks to a minimal example, so the answer does not vary)."""
    compiled = _compiled(pattern)
    for candidate in _CANDIDATES:
        text = candidate.ljust(low, "x")[:high]
        if compiled is None or compiled.fullmatch(text):
            return text
    assert compiled is not None

    def fits(text: str) -> bool:
        return len(text) >= low and (high is None or len(text) <= high)

    quiet = settings(database=None, max_examples=300, suppress_health_check=list(HealthCheck))
    try:
        found: str = find(st.from_regex(compiled, fullmatch=True), fits, settings=quiet)
    except (NoSuchExample, Unsatisfiable):
        return "matrix".ljust(low, "x")
    return found


def _compiled(pattern: str) -> re.Pattern[str] | None:
    if not pattern:
        return None
    try:
        return re.compile(pattern)
    except re.error:
        return None
