"""Request parsers for `json` (X-Amz-Target) and `smithy-rpc-v2-cbor` (/service/S/operation/O)."""

from __future__ import annotations

import datetime as dt
import json
import math
from collections.abc import Callable
from typing import Any

import cbor2
from botocore.model import OperationModel, OperationNotFoundError, ServiceModel, Shape

from mallee.api.errors import ServiceError
from mallee.api.http import HttpRequest
from mallee.api.protocol import ParsedRequest, RequestParser, constraints, scalars
from mallee.api.protocol.shapes import is_document, members
from mallee.api.protocol.validation import (
    Problems,
    check_characters,
    join_path,
    json_error,
    serialization_error,
)

_ABSENT = object()
_SPECIAL_FLOATS = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}
# Structures deeper than any real model; bounds recursion on self-referencing shapes.
MAX_DEPTH = 64


def unknown_operation(status: int = 400) -> ServiceError:
    return ServiceError(
        "UnknownOperationException", "The requested operation is not recognized.", status
    )


class _Converter:
    """Walks a decoded JSON or CBOR document along the input shape."""

    def __init__(self, binary: bool) -> None:
        # CBOR carries blobs as byte strings and timestamps as tag 1; JSON as base64 and numbers.
        self.binary = binary
        self.problems = Problems()

    def value(self, shape: Shape, raw: Any, path: str, depth: int) -> Any:
        if raw is None:
            return _ABSENT
        type_name = shape.type_name
        try:
            if depth > MAX_DEPTH:
                raise ValueError("nested too deeply")
            if type_name == "structure":
                return self.structure(shape, raw, path, depth + 1)
            if type_name == "list":
                return self.list(shape, raw, path, depth + 1)
            if type_name == "map":
                return self.map(shape, raw, path, depth + 1)
            value = _SCALARS[type_name](self, raw, shape)
        except (ValueError, TypeError, KeyError):
            self.problems.bad(path, path.rpartition(".")[2], type_name, raw)
            return _ABSENT
        if isinstance(value, str):
            check_characters(self.problems, shape, path, path.rpartition(".")[2], value)
        return value

    def structure(self, shape: Shape, raw: Any, path: str, depth: int) -> Any:
        if is_document(shape):
            return raw
        if not isinstance(raw, dict):
            raise TypeError("expected an object")
        out: dict[str, Any] = {}
        for member in members(shape):
            item = raw.get(member.wire)
            if item is None and member.wire != member.name:
                item = raw.get(member.name)
            member_path = join_path(path, member.camel)
            value = self.value(member.shape, item, member_path, depth)
            if value is not _ABSENT:
                out[member.name] = value
            elif member.required and not self._has_bad(member_path):
                self.problems.missing(member_path, member.wire, member.type)
        return out

    def _has_bad(self, path: str) -> bool:
        return any(p.path == path for p in self.problems.items)

    def list(self, shape: Shape, raw: Any, path: str, depth: int) -> Any:
        if not isinstance(raw, list):
            raise TypeError("expected an array")
        out = []
        for index, item in enumerate(raw, 1):
            value = self.value(shape.member, item, f"{path}.{index}.member", depth)
            if value is not _ABSENT:
                out.append(value)
        return out

    def map(self, shape: Shape, raw: Any, path: str, depth: int) -> Any:
        if not isinstance(raw, dict):
            raise TypeError("expected an object")
        out: dict[str, Any] = {}
        for key, item in raw.items():
            if not isinstance(key, str):
                raise TypeError("map keys must be strings")
            check_characters(self.problems, shape.key, f"{path}.{key}.key", "key", key)
            value = self.value(shape.value, item, f"{path}.{key}", depth)
            if value is not _ABSENT:
                out[key] = value
        return out

    def blob(self, raw: Any, shape: Shape) -> bytes:
        if self.binary and isinstance(raw, bytes | bytearray):
            return bytes(raw)
        if isinstance(raw, str):
            return scalars.parse_blob(raw)
        raise TypeError("expected a blob")

    def timestamp(self, raw: Any, shape: Shape) -> dt.datetime:
        if isinstance(raw, dt.datetime):
            return scalars.to_datetime(raw)
        if isinstance(raw, int | float) and not isinstance(raw, bool):
            return scalars.from_epoch(raw)
        if isinstance(raw, str):
            return scalars.parse_timestamp(raw)
        raise TypeError("expected a timestamp")


def _string(conv: _Converter, raw: Any, shape: Shape) -> str:
    if not isinstance(raw, str):
        raise TypeError("expected a string")
    return raw


def _integer(conv: _Converter, raw: Any, shape: Shape) -> int:
    if isinstance(raw, bool) or not isinstance(raw, int):
        raise TypeError("expected an integer")
    return scalars.check_int(raw, shape.type_name)


def _float(conv: _Converter, raw: Any, shape: Shape) -> float:
    if isinstance(raw, str):
        return _SPECIAL_FLOATS[raw]
    if isinstance(raw, bool) or not isinstance(raw, int | float):
        raise TypeError("expected a number")
    try:
        return float(raw)
    except OverflowError:
        # An integer literal past a double's range (400 digits): not a value of this member.
        raise ValueError("number out of range for a double") from None


def _boolean(conv: _Converter, raw: Any, shape: Shape) -> bool:
    if not isinstance(raw, bool):
        raise TypeError("expected a boolean")
    return raw


_SCALARS: dict[str, Callable[[_Converter, Any, Shape], Any]] = {
    "string": _string,
    "character": _string,
    "integer": _integer,
    "long": _integer,
    "short": _integer,
    "byte": _integer,
    "float": _float,
    "double": _float,
    "boolean": _boolean,
    "blob": lambda conv, raw, shape: conv.blob(raw, shape),
    "timestamp": lambda conv, raw, shape: conv.timestamp(raw, shape),
}


def _convert(operation: OperationModel, body: Any, binary: bool) -> dict[str, Any]:
    shape = operation.input_shape
    if shape is None:
        return {}
    if not isinstance(body, dict):
        raise serialization_error("The request body must be an object.")
    conv = _Converter(binary)
    result = conv.structure(shape, body, "", 1)
    parsed = result if isinstance(result, dict) else {}
    if not conv.problems:
        constraints.check(shape, parsed, conv.problems)
    if conv.problems:
        raise json_error(conv.problems)
    return parsed


class JsonRequestParser(RequestParser):
    protocol = "json"

    def parse(self, request: HttpRequest, service: ServiceModel) -> ParsedRequest:
        operation = self._operation(request, service)
        body: Any = {}
        if request.body.strip():
            try:
                body = json.loads(request.body)
            except (ValueError, RecursionError) as exc:
                raise serialization_error("The request body is not valid JSON.") from exc
        return ParsedRequest(operation, _convert(operation, body, binary=False))

    def _operation(self, request: HttpRequest, service: ServiceModel) -> OperationModel:
        prefix, _, name = request.headers.get("x-amz-target", "").rpartition(".")
        if not name or prefix != service.metadata.get("targetPrefix"):
            raise unknown_operation()
        try:
            return service.operation_model(name)
        except OperationNotFoundError as exc:
            raise unknown_operation() from exc


def _reject_tag(value: Any, immutable: bool) -> Any:
    raise ValueError("CBOR value sharing is not accepted")


def _epoch_tag(value: Any, immutable: bool) -> dt.datetime:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError("tag 1 must hold a number")
    return scalars.from_epoch(value)


_SEMANTIC = {1: _epoch_tag, 28: _reject_tag, 29: _reject_tag}


def decode_cbor(body: bytes) -> Any:
    try:
        return cbor2.loads(body, semantic_decoders=_SEMANTIC, max_depth=MAX_DEPTH)
    except Exception as exc:
        # cbor2 is a C decoder fed untrusted bytes; whatever it raises is the client's fault.
        raise serialization_error("The request body is not valid CBOR.") from exc


class CborRequestParser(RequestParser):
    protocol = "smithy-rpc-v2-cbor"

    def parse(self, request: HttpRequest, service: ServiceModel) -> ParsedRequest:
        operation = self._operation(request, service)
        body: Any = decode_cbor(request.body) if request.body else {}
        return ParsedRequest(operation, _convert(operation, body, binary=True))

    def _operation(self, request: HttpRequest, service: ServiceModel) -> OperationModel:
        parts = request.path.strip("/").split("/")
        if len(parts) != 4 or parts[0] != "service" or parts[2] != "operation":
            raise unknown_operation(404)
        target = service.metadata.get("targetPrefix")
        if target and parts[1] != target:
            raise unknown_operation(404)
        try:
            return service.operation_model(parts[3])
        except OperationNotFoundError as exc:
            raise unknown_operation(404) from exc
