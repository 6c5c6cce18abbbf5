"""Response serializer for `rest-xml`: status code, headers, blob or XML payload."""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from typing import Any

from botocore.model import OperationModel, ServiceModel, Shape

from mallee.api.errors import ServiceError
from mallee.api.http import HttpResponse
from mallee.api.protocol import ResponseSerializer, scalars
from mallee.api.protocol.shapes import Member, members, service_namespace
from mallee.api.protocol.xml_writer import attributes, write_members
from mallee.api.protocol.xmlutil import escape_attr, escape_text

_XML_DECL = '<?xml version="1.0" encoding="UTF-8"?>\n'
_XML_TYPE = "application/xml"


def host_id(request_id: str) -> str:
    return base64.b64encode(request_id.encode("utf-8")).decode("ascii")


def _header_scalar(shape: Shape, value: Any, fmt: str) -> str:
    type_name = shape.type_name
    if type_name == "timestamp":
        return scalars.timestamp_text(value, fmt or "rfc822")
    if type_name == "boolean":
        return scalars.bool_text(value)
    if type_name in ("float", "double"):
        return scalars.float_text(value)
    if type_name == "blob":
        return scalars.blob_text(value)
    return str(value)


def _quote_list_item(text: str) -> str:
    if '"' in text or "," in text:
        return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return text


def header_value(member: Member, value: Any) -> str:
    shape = member.shape
    if member.type == "list":
        items = (_header_scalar(shape.member, item, member.timestamp_format) for item in value)
        return ",".join(_quote_list_item(item) for item in items)
    if shape.serialization.get("jsonvalue"):
        encoded = json.dumps(value, separators=(",", ":")).encode("utf-8")
        return base64.b64encode(encoded).decode("ascii")
    return _header_scalar(shape, value, member.timestamp_format)


def _root(
    name: str, shape: Shape, value: Mapping[str, Any], namespace: str, body_only: bool
) -> bytes:
    attrs = attributes(shape, value)
    if "xmlns=" not in attrs and namespace:
        attrs = f' xmlns="{escape_attr(namespace)}"' + attrs
    out = [_XML_DECL, f"<{name}{attrs}>"]
    write_members(shape, value, out, body_only=body_only)
    out.append(f"</{name}>")
    return "".join(out).encode("utf-8")


STATUS_KEY = "@status"
# S3 answers these with one element holding a text value, not the modelled structure (and
# botocore reads them that way).
_BARE_ROOTS = {"GetBucketLocation": "LocationConstraint"}


class RestXmlResponseSerializer(ResponseSerializer):
    protocol = "rest-xml"

    def serialize(
        self, operation: OperationModel, result: Mapping[str, Any], request_id: str
    ) -> HttpResponse:
        response = HttpResponse(
            200, {"x-amz-request-id": request_id, "x-amz-id-2": host_id(request_id)}
        )
        # A provider may choose a 2xx status the model cannot express (206 Partial Content).
        response.status = int(result.get(STATUS_KEY, 200))
        shape = operation.output_shape
        if shape is None:
            return response
        self._located(shape, result, response)
        if operation.http.get("method", "").upper() != "HEAD":
            self._payload(operation, shape, result, response)
        return response

    def _located(self, shape: Shape, result: Mapping[str, Any], response: HttpResponse) -> None:
        for member in members(shape):
            value = result.get(member.name)
            if value is None or not member.location:
                continue
            if member.location == "statusCode":
                response.status = int(value)
            elif member.location == "header":
                if member.type == "list" and not value:
                    continue
                response.headers[member.wire] = header_value(member, value)
            elif member.location == "headers":
                for key, item in value.items():
                    response.headers[f"{member.wire}{key}"] = str(item)

    def _payload(
        self,
        operation: OperationModel,
        shape: Shape,
        result: Mapping[str, Any],
        response: HttpResponse,
    ) -> None:
        namespace = service_namespace(operation.service_model)
        payload = shape.serialization.get("payload")
        bare = _BARE_ROOTS.get(operation.name)
        if bare is not None:
            text = escape_text(str(result.get(bare) or ""))
            xmlns = f' xmlns="{escape_attr(namespace)}"' if namespace else ""
            response.body = f"{_XML_DECL}<{bare}{xmlns}>{text}</{bare}>".encode()
            response.headers.setdefault("Content-Type", _XML_TYPE)
            return
        if payload is None:
            if any(not m.location and result.get(m.name) is not None for m in members(shape)):
                name = str(shape.serialization.get("name") or f"{operation.name}Result")
                response.body = _root(name, shape, result, namespace, body_only=True)
                response.headers.setdefault("Content-Type", _XML_TYPE)
            return
        member = next(m for m in members(shape) if m.name == payload)
        value = result.get(payload)
        if value is None:
            return
        if member.type == "blob" and not isinstance(value, bytes | bytearray | str):
            # A streamed payload (an object's data): the server sends it as it is produced.
            response.stream = value
            return
        if member.type in ("blob", "string"):
            response.body = scalars.blob_bytes(value)
            return
        name = str(member.shape.serialization.get("name") or member.shape.name)
        response.body = _root(name, member.shape, value, namespace, body_only=False)
        response.headers.setdefault("Content-Type", _XML_TYPE)

    def serialize_error(
        self,
        error: ServiceError,
        service: ServiceModel,
        operation: OperationModel | None,
        request_id: str,
    ) -> HttpResponse:
        headers = {"x-amz-request-id": request_id, "x-amz-id-2": host_id(request_id)}
        headers.update(error.headers)
        if error.status == 304 or (
            operation is not None and operation.http.get("method", "").upper() == "HEAD"
        ):
            # HEAD and 304 answers carry no body; clients read the status code alone.
            return HttpResponse(error.status, headers, b"")
        fields = [
            f"<Code>{escape_text(error.code)}</Code>",
            f"<Message>{escape_text(error.message)}</Message>",
        ]
        fields.extend(f"<{k}>{escape_text(str(v))}</{k}>" for k, v in error.extra.items())
        fields.append(f"<RequestId>{escape_text(request_id)}</RequestId>")
        fields.append(f"<HostId>{escape_text(host_id(request_id))}</HostId>")
        body = f"{_XML_DECL}<Error>{''.join(fields)}</Error>"
        headers["Content-Type"] = _XML_TYPE
        return HttpResponse(error.status, headers, body.encode("utf-8"))
