"""Response serializers for the `query` and `ec2` protocols (XML bodies, request id in-body)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from botocore.model import OperationModel, ServiceModel

from mallee.api.errors import ServiceError
from mallee.api.http import HttpResponse
from mallee.api.protocol import ResponseSerializer
from mallee.api.protocol.shapes import service_namespace
from mallee.api.protocol.xml_writer import write_members
from mallee.api.protocol.xmlutil import escape_attr, escape_text

_XML_DECL = '<?xml version="1.0" encoding="UTF-8"?>\n'


def _xmlns(service: ServiceModel) -> str:
    namespace = service_namespace(service)
    return f' xmlns="{escape_attr(namespace)}"' if namespace else ""


def _error_fields(error: ServiceError) -> str:
    parts = [
        f"<Code>{escape_text(error.code)}</Code>",
        f"<Message>{escape_text(error.message)}</Message>",
    ]
    for key, value in error.extra.items():
        parts.append(f"<{key}>{escape_text(str(value))}</{key}>")
    return "".join(parts)


def _headers(content_type: str, request_id: str, extra: Mapping[str, str]) -> dict[str, str]:
    headers = {"Content-Type": content_type, "x-amzn-RequestId": request_id}
    headers.update(extra)
    return headers


class QueryResponseSerializer(ResponseSerializer):
    protocol = "query"
    content_type = "text/xml"

    def serialize(
        self, operation: OperationModel, result: Mapping[str, Any], request_id: str
    ) -> HttpResponse:
        name = operation.name
        out = [f"<{name}Response{_xmlns(operation.service_model)}>"]
        self._result(operation, result, out)
        self._metadata(request_id, out)
        out.append(f"</{name}Response>")
        body = "".join(out).encode("utf-8")
        return HttpResponse(200, _headers(self.content_type, request_id, {}), body)

    def _result(self, operation: OperationModel, result: Mapping[str, Any], out: list[str]) -> None:
        shape = operation.output_shape
        if shape is None:
            return
        wrapper = shape.serialization.get("resultWrapper")
        if wrapper:
            out.append(f"<{wrapper}>")
        write_members(shape, result, out)
        if wrapper:
            out.append(f"</{wrapper}>")

    def _metadata(self, request_id: str, out: list[str]) -> None:
        out.append(
            f"<ResponseMetadata><RequestId>{escape_text(request_id)}</RequestId></ResponseMetadata>"
        )

    def serialize_error(
        self,
        error: ServiceError,
        service: ServiceModel,
        operation: OperationModel | None,
        request_id: str,
    ) -> HttpResponse:
        fault = "Sender" if error.sender_fault else "Receiver"
        body = (
            f"<ErrorResponse{_xmlns(service)}><Error><Type>{fault}</Type>"
            f"{_error_fields(error)}</Error>"
            f"<RequestId>{escape_text(request_id)}</RequestId></ErrorResponse>"
        )
        headers = _headers(self.content_type, request_id, error.headers)
        return HttpResponse(error.status, headers, body.encode("utf-8"))


class Ec2ResponseSerializer(QueryResponseSerializer):
    """EC2: <OpResponse><requestId/>members</OpResponse>; errors under <Response><Errors>."""

    protocol = "ec2"
    content_type = "text/xml;charset=UTF-8"

    def serialize(
        self, operation: OperationModel, result: Mapping[str, Any], request_id: str
    ) -> HttpResponse:
        name = operation.name
        out = [
            _XML_DECL,
            f"<{name}Response{_xmlns(operation.service_model)}>",
            f"<requestId>{escape_text(request_id)}</requestId>",
        ]
        if operation.output_shape is None:
            # EC2 answers every operation the model gives no output with <return>true</return>
            # (RebootInstances, ReleaseAddress, CreateTags, ...): Libcloud and euca2ools read it.
            out.append("<return>true</return>")
        else:
            self._result(operation, result, out)
        out.append(f"</{name}Response>")
        body = "".join(out).encode("utf-8")
        return HttpResponse(200, _headers(self.content_type, request_id, {}), body)

    def serialize_error(
        self,
        error: ServiceError,
        service: ServiceModel,
        operation: OperationModel | None,
        request_id: str,
    ) -> HttpResponse:
        body = (
            f"{_XML_DECL}<Response><Errors><Error>{_error_fields(error)}</Error></Errors>"
            f"<RequestID>{escape_text(request_id)}</RequestID></Response>"
        )
        headers = _headers(self.content_type, request_id, error.headers)
        return HttpResponse(error.status, headers, body.encode("utf-8"))
