"""Input problems found while parsing, and how each protocol family reports them."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from botocore.model import Shape

from mallee.api.errors import ServiceError
from mallee.api.protocol import scalars, xmlchars

_EXPECTED = {
    "integer": "Member must be a number",
    "long": "Member must be a number",
    "float": "Member must be a number",
    "double": "Member must be a number",
    "boolean": "Member must be a boolean",
    "timestamp": "Member must be a valid timestamp",
    "blob": "Member must be base64 encoded",
}


@dataclass(slots=True)
class Problem:
    missing: bool
    # AWS style path ("tags.1.member.key") and the member's own wire name ("Key").
    path: str
    wire: str
    type_name: str
    value: str | None = None
    # Set for a well-typed value that breaks a model constraint (length, range, enum, pattern).
    constraint: str | None = None

    def sentence(self) -> str:
        # A path names map keys, which are caller input too.
        path = xmlchars.visible(self.path)
        if self.missing:
            return f"Value null at '{path}' failed to satisfy constraint: Member must not be null"
        constraint = self.constraint or _EXPECTED.get(
            self.type_name, f"Member must be of type {self.type_name}"
        )
        # Sensitive values (passwords) are not echoed back, as AWS does.
        shown = "Value" if self.value is None else f"Value '{self.value}'"
        return f"{shown} at '{path}' failed to satisfy constraint: {constraint}"

    @property
    def wrong_type(self) -> bool:
        return not self.missing and self.constraint is None


@dataclass(slots=True)
class Problems:
    items: list[Problem] = field(default_factory=list)

    def missing(self, path: str, wire: str, type_name: str) -> None:
        self.items.append(Problem(True, path, wire, type_name))

    def bad(self, path: str, wire: str, type_name: str, value: Any) -> None:
        self.items.append(Problem(False, path, wire, type_name, _show(value)))

    def constraint(self, path: str, wire: str, type_name: str, value: Any, constraint: str) -> None:
        shown = None if value is None else _show(value)
        self.items.append(Problem(False, path, wire, type_name, shown, constraint))

    def __bool__(self) -> bool:
        return bool(self.items)


def _show(value: Any) -> str:
    text = value if isinstance(value, str) else repr(value)
    return xmlchars.visible(text if len(text) <= 256 else text[:256] + "...")


def check_characters(problems: Problems, shape: Shape, path: str, wire: str, value: str) -> None:
    """Add a problem if `value` holds a character XML 1.0 cannot carry.

    The query, ec2 and json parsers check every string as they parse it: a stored value is
    later written into XML answers (DescribeTags, another account's DescribeImages, ...).
    """
    if not xmlchars.carries(value):
        shown = None if shape.metadata.get("sensitive") else value
        problems.constraint(path, wire, shape.type_name, shown, xmlchars.CONSTRAINT)


def join_path(parent: str, child: str) -> str:
    return f"{parent}.{child}" if parent else child


def validation_message(problems: list[Problem]) -> str:
    count = len(problems)
    noun = "error" if count == 1 else "errors"
    detail = "; ".join(problem.sentence() for problem in problems[:10])
    return f"{count} validation {noun} detected: {detail}"


def query_error(problems: Problems) -> ServiceError:
    """IAM/STS/ELB/... style: one ValidationError listing every problem."""
    return ServiceError("ValidationError", validation_message(problems.items), 400)


def ec2_error(problems: Problems) -> ServiceError:
    first = problems.items[0]
    if first.missing:
        return ServiceError(
            "MissingParameter", f"The request must contain the parameter {first.wire}", 400
        )
    reason = first.constraint or _EXPECTED.get(first.type_name, "Unexpected type")
    return ServiceError(
        "InvalidParameterValue",
        f"Value ({first.value}) for parameter {first.wire} is invalid. {reason}.",
        400,
    )


def json_error(problems: Problems) -> ServiceError:
    """json/cbor: wrong types are SerializationException, missing members ValidationException."""
    bad = [p for p in problems.items if p.wrong_type]
    if bad:
        return serialization_error(bad[0].sentence())
    return ServiceError("ValidationException", validation_message(problems.items), 400)


def serialization_error(message: str) -> ServiceError:
    return ServiceError("SerializationException", message, 400)


TEXT_PARSERS: dict[str, Callable[[str], Any]] = {
    "string": lambda text: text,
    "character": lambda text: text,
    "integer": lambda text: scalars.parse_int(text, "integer"),
    "long": lambda text: scalars.parse_int(text, "long"),
    "short": lambda text: scalars.parse_int(text, "short"),
    "byte": lambda text: scalars.parse_int(text, "byte"),
    "float": lambda text: scalars.parse_float(text),
    "double": lambda text: scalars.parse_float(text),
    "boolean": lambda text: scalars.parse_bool(text),
    "timestamp": lambda text: scalars.parse_timestamp(text),
    "blob": lambda text: scalars.parse_blob(text),
}


def text_scalar(type_name: str, text: str) -> Any:
    """A scalar from its text form (query values, XML text, headers). Raises ValueError.

    Timestamps are accepted in any wire format whatever the member's timestampFormat says:
    clients disagree (ISO 8601 vs epoch vs RFC 822) and AWS is equally lenient.
    """
    parser = TEXT_PARSERS.get(type_name)
    if parser is None:
        raise ValueError(f"{type_name} cannot be given as text")
    return parser(text)
