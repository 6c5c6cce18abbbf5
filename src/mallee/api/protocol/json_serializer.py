"""Response serializers for `json` and `smithy-rpc-v2-cbor`."""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping
from typing import Any

import cbor2
from botocore.model import OperationModel, ServiceModel, Shape

from mallee.api.errors import ServiceError
from mallee.api.http import HttpResponse
from mallee.api.protocol import ResponseSerializer, scalars
from mallee.api.protocol.shapes import is_document, members


def _json_float(value: Any, shape: Shape) -> Any:
    number = float(value)
    if math.isnan(number) or math.isinf(number):
        return scalars.float_text(number)
    return number


def _json_timestamp(value: Any, shape: Shape) -> Any:
    fmt = str(shape.serialization.get("timestampFormat", "unixtimestamp")).lower()
    return scalars.format_timestamp(value, fmt)


def _cbor_timestamp(value: Any, shape: Shape) -> Any:
    return cbor2.CBORTag(1, scalars.epoch(scalars.to_datetime(value)))


_COMMON: dict[str, Callable[[Any, Shape], Any]] = {
    "string": lambda value, shape: value if isinstance(value, str) else str(value),
    "character": lambda value, shape: str(value),
    "integer": lambda value, shape: int(value),
    "long": lambda value, shape: int(value),
    "short": lambda value, shape: int(value),
    "byte": lambda value, shape: int(value),
    "boolean": lambda value, shape: bool(value),
}
_JSON_SCALARS = {
    **_COMMON,
    "float": _json_float,
    "double": _json_float,
    "timestamp": _json_timestamp,
    "blob": lambda value, shape: scalars.blob_text(value),
}
_CBOR_SCALARS = {
    **_COMMON,
    "float": lambda value, shape: float(value),
    "double": lambda value, shape: float(value),
    "timestamp": _cbor_timestamp,
    "blob": lambda value, shape: scalars.blob_bytes(value),
}


class _Encoder:
    """Result dict -> plain JSON/CBOR values, keyed by wire name (JSON) or member name (CBOR)."""

    def __init__(self, scalar_table: dict[str, Callable[[Any, Shape], Any]], by_wire: bool):
        self.scalars = scalar_table
        self.by_wire = by_wire

    def value(self, shape: Shape, value: Any) -> Any:
        type_name = shape.type_name
        if type_name == "structure":
            return self.structure(shape, value)
        if type_name == "list":
            member = shape.member
            return [None if item is None else self.value(member, item) for item in value]
        if type_name == "map":
            value_shape = shape.value
            return {
                str(key): self.value(value_shape, item)
                for key, item in value.items()
                if item is not None
            }
        return self.scalars[type_name](value, shape)

    def structure(self, shape: Shape, value: Mapping[str, Any]) -> Any:
        if is_document(shape):
            return value
        out: dict[str, Any] = {}
        for member in members(shape):
            item = value.get(member.name)
            if item is not None:
                key = member.wire if self.by_wire else member.name
                out[key] = self.value(member.shape, item)
        return out


_JSON = _Encoder(_JSON_SCALARS, by_wire=True)
_CBOR = _Encoder(_CBOR_SCALARS, by_wire=False)


def _error_headers(error: ServiceError, service: ServiceModel, request_id: str) -> dict[str, str]:
    headers = {"x-amzn-RequestId": request_id}
    if "awsQueryCompatible" in service.metadata:
        # botocore maps json/cbor errors of former query services back to the query code.
        fault = "Sender" if error.sender_fault else "Receiver"
        headers["x-amzn-query-error"] = f"{error.code};{fault}"
    headers.update(error.headers)
    return headers


def _error_document(error: ServiceError) -> dict[str, Any]:
    document: dict[str, Any] = {"__type": error.code, "message": error.message}
    for key, value in error.extra.items():
        document.setdefault(key, value)
    return document


class JsonResponseSerializer(ResponseSerializer):
    protocol = "json"

    def _content_type(self, service: ServiceModel) -> str:
        return f"application/x-amz-json-{service.metadata.get('jsonVersion', '1.0')}"

    def serialize(
        self, operation: OperationModel, result: Mapping[str, Any], request_id: str
    ) -> HttpResponse:
        shape = operation.output_shape
        document = {} if shape is None else _JSON.structure(shape, result)
        body = json.dumps(document, separators=(",", ":")).encode("utf-8")
        headers = {
            "Content-Type": self._content_type(operation.service_model),
            "x-amzn-RequestId": request_id,
        }
        return HttpResponse(200, headers, body)

    def serialize_error(
        self,
        error: ServiceError,
        service: ServiceModel,
        operation: OperationModel | None,
        request_id: str,
    ) -> HttpResponse:
        headers = {"Content-Type": self._content_type(service)}
        headers.update(_error_headers(error, service, request_id))
        body = json.dumps(_error_document(error), separators=(",", ":"), default=str)
        return HttpResponse(error.status, headers, body.encode("utf-8"))


_CBOR_HEADERS = {"Content-Type": "application/cbor", "smithy-protocol": "rpc-v2-cbor"}


class CborResponseSerializer(ResponseSerializer):
    protocol = "smithy-rpc-v2-cbor"

    def serialize(
        self, operation: OperationModel, result: Mapping[str, Any], request_id: str
    ) -> HttpResponse:
        shape = operation.output_shape
        headers = {**_CBOR_HEADERS, "x-amzn-RequestId": request_id}
        if shape is None:
            return HttpResponse(200, headers, b"")
        body = cbor2.dumps(_CBOR.structure(shape, result))
        return HttpResponse(200, headers, body)

    def serialize_error(
        self,
        error: ServiceError,
        service: ServiceModel,
        operation: OperationModel | None,
        request_id: str,
    ) -> HttpResponse:
        headers = {**_CBOR_HEADERS, **_error_headers(error, service, request_id)}
        document = {key: str(value) for key, value in _error_document(error).items()}
        return HttpResponse(error.status, headers, cbor2.dumps(document))
