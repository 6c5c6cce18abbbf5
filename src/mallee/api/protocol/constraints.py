"""Model constraints on parsed input: length, range, enum and pattern, reported the AWS way.

Runs after a parser has produced well-typed params, so every value here has its shape's type.
"""

from __future__ import annotations

import functools
from typing import Any

import regex
from botocore.model import Shape

from mallee.api.protocol.shapes import members
from mallee.api.protocol.validation import Problems, join_path

# Model patterns are Java regexes run on caller input: the `regex` module reads \\p{L} and
# friends as Java does, and its timeout stops a pathological pattern from eating the worker.
_PATTERN_TIMEOUT = 0.05


# Java's \w, \d and \s match ASCII only (AWS does not set UNICODE_CHARACTER_CLASS: IAM
# refuses "jösé" as a user name); the regex module's match every script.
_JAVA_ASCII = {"w": "a-zA-Z0-9_", "d": "0-9", "s": " \\t\\n\\x0B\\f\\r"}


def java_source(source: str) -> str:
    r"""`source` with \w, \d, \s (and \W, \D, \S outside classes) spelt as ASCII sets."""
    out: list[str] = []
    in_class = False
    i = 0
    while i < len(source):
        char = source[i]
        if char == "\\" and i + 1 < len(source):
            escaped = source[i + 1]
            ascii_set = _JAVA_ASCII.get(escaped.lower())
            if ascii_set is None or (in_class and escaped.isupper()):
                # A negated class inside a set has no plain spelling; rare enough to leave.
                out.append(source[i : i + 2])
            elif in_class:
                out.append(ascii_set)
            else:
                out.append(f"[{'^' if escaped.isupper() else ''}{ascii_set}]")
            i += 2
            continue
        if char == "[" and not in_class:
            in_class = True
        elif char == "]" and in_class:
            in_class = False
        out.append(char)
        i += 1
    return "".join(out)


@functools.cache
def _pattern(source: str) -> regex.Pattern[str] | None:
    try:
        return regex.compile(java_source(source), regex.DOTALL)
    except regex.error:
        # A pattern this engine cannot read is not enforced rather than enforced wrongly.
        return None


def _matches(compiled: regex.Pattern[str], value: str) -> bool:
    try:
        return compiled.fullmatch(value, timeout=_PATTERN_TIMEOUT) is not None
    except TimeoutError:
        return False


def check(shape: Shape, params: dict[str, Any], problems: Problems) -> None:
    """Add a problem for each value in `params` that breaks its member's constraints."""
    _structure(shape, params, "", problems)


def _value(shape: Shape, value: Any, path: str, problems: Problems) -> None:
    kind = shape.type_name
    if kind == "structure" and isinstance(value, dict):
        _structure(shape, value, path, problems)
    elif kind == "list" and isinstance(value, list):
        _size(shape, value, len(value), path, problems)
        for index, item in enumerate(value, 1):
            _value(shape.member, item, f"{path}.{index}.member", problems)
    elif kind == "map" and isinstance(value, dict):
        _size(shape, value, len(value), path, problems)
        for key, item in value.items():
            _value(shape.key, key, f"{path}.{key}.key", problems)
            _value(shape.value, item, f"{path}.{key}", problems)
    elif kind == "string" and isinstance(value, str):
        _string(shape, value, path, problems)
    elif kind in ("integer", "long", "short", "byte", "float", "double"):
        _range(shape, value, path, problems)
    elif kind == "blob" and isinstance(value, bytes):
        _size(shape, value, len(value), path, problems)


def _structure(shape: Shape, value: dict[str, Any], path: str, problems: Problems) -> None:
    for member in members(shape):
        item = value.get(member.name)
        if item is not None:
            _value(member.shape, item, join_path(path, member.camel), problems)


def _size(shape: Shape, value: Any, size: int, path: str, problems: Problems) -> None:
    low = shape.metadata.get("min")
    high = shape.metadata.get("max")
    if low is not None and size < low:
        _bad(
            shape, value, path, f"Member must have length greater than or equal to {low}", problems
        )
    elif high is not None and size > high:
        _bad(shape, value, path, f"Member must have length less than or equal to {high}", problems)


def _range(shape: Shape, value: Any, path: str, problems: Problems) -> None:
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        return
    low = shape.metadata.get("min")
    high = shape.metadata.get("max")
    if low is not None and value < low:
        _bad(shape, value, path, f"Member must have value greater than or equal to {low}", problems)
    elif high is not None and value > high:
        _bad(shape, value, path, f"Member must have value less than or equal to {high}", problems)


def _string(shape: Shape, value: str, path: str, problems: Problems) -> None:
    before = len(problems.items)
    _size(shape, value, len(value), path, problems)
    if len(problems.items) != before:
        return
    enum = shape.metadata.get("enum")
    if enum and value not in enum:
        allowed = ", ".join(enum)
        _bad(shape, value, path, f"Member must satisfy enum value set: [{allowed}]", problems)
        return
    source = shape.metadata.get("pattern")
    if source:
        compiled = _pattern(source)
        if compiled is not None and not _matches(compiled, value):
            _bad(
                shape,
                value,
                path,
                f"Member must satisfy regular expression pattern: {source}",
                problems,
            )


def _bad(shape: Shape, value: Any, path: str, constraint: str, problems: Problems) -> None:
    shown = None if shape.metadata.get("sensitive") else value
    problems.constraint(path, path.rpartition(".")[2], shape.type_name, shown, constraint)
