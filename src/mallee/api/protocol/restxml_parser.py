"""Request parser for `rest-xml` (S3 style): URI labels, query, headers and an XML/blob payload."""

from __future__ import annotations

import base64
import json
from typing import Any
from xml.etree.ElementTree import Element

from botocore.model import ServiceModel, Shape

from mallee.api.errors import ServiceError
from mallee.api.http import HttpRequest
from mallee.api.protocol import ParsedRequest, RequestParser
from mallee.api.protocol.rest_routes import Match, match, methods_streaming
from mallee.api.protocol.shapes import Member, location_name, members
from mallee.api.protocol.validation import Problem, Problems, text_scalar
from mallee.api.protocol.xmlutil import XmlRejected, local_name, parse_xml

_ABSENT = object()
_MALFORMED = (
    "The XML you provided was not well-formed or did not validate against our published schema"
)


def malformed_xml() -> ServiceError:
    return ServiceError("MalformedXML", _MALFORMED, 400)


def _argument_error(problem: Problem) -> ServiceError:
    if problem.missing:
        return ServiceError(
            "InvalidRequest", f"Missing required parameter for this request: {problem.wire}", 400
        )
    return ServiceError(
        "InvalidArgument",
        f"Invalid value for {problem.wire}: {problem.value}",
        400,
        extra={"ArgumentName": problem.wire, "ArgumentValue": problem.value or ""},
    )


def split_header_list(value: str) -> list[str]:
    """RFC 9110 list: comma separated, items may be double-quoted with backslash escapes."""
    items: list[str] = []
    current: list[str] = []
    quoted = escaped = False
    for char in value:
        if escaped:
            current.append(char)
            escaped = False
        elif quoted and char == "\\":
            escaped = True
        elif char == '"':
            quoted = not quoted
        elif char == "," and not quoted:
            items.append("".join(current).strip())
            current = []
        else:
            current.append(char)
    items.append("".join(current).strip())
    return items


class _Located:
    """Members bound to the URI, query string and headers.

    Their characters are not checked as the query and json parsers check theirs: S3 object keys
    (and so prefixes and markers) may hold any character, as in S3, which asks clients to list
    them with EncodingType=url; headers cannot carry control characters at all, and an XML body
    that holds one is not well-formed. All but U+0000, which no store can hold (PostgreSQL text,
    file names) and S3 stores (Ceph, MinIO) refuse as well.
    """

    def __init__(self, request: HttpRequest, found: Match) -> None:
        self.request = request
        self.found = found
        self.problems = Problems()

    def scalar(self, member: Member, shape: Shape, text: str) -> Any:
        try:
            if "\x00" in text:
                raise ValueError("U+0000")
            return text_scalar(shape.type_name, text)
        except ValueError:
            self.problems.bad(member.wire, member.wire, shape.type_name, text)
            return _ABSENT

    def uri(self, member: Member) -> Any:
        text = self.found.labels.get(member.wire)
        return _ABSENT if text is None else self.scalar(member, member.shape, text)

    def querystring(self, member: Member, claimed: set[str]) -> Any:
        query = self.found.query
        if member.type == "map":
            return self._query_map(member, claimed)
        values = query.get(member.wire)
        if values is None:
            return _ABSENT
        if member.type == "list":
            items = [self.scalar(member, member.shape.member, v) for v in values]
            return [item for item in items if item is not _ABSENT]
        return self.scalar(member, member.shape, values[0])

    def _query_map(self, member: Member, claimed: set[str]) -> Any:
        literals = {key for key, _ in self.found.route.literal_query}
        as_list = member.shape.value.type_name == "list"
        out = {
            key: values if as_list else values[0]
            for key, values in self.found.query.items()
            if key not in claimed and key not in literals
        }
        return out or _ABSENT

    def header(self, member: Member) -> Any:
        text = self.request.headers.get(member.wire.lower())
        if text is None:
            return _ABSENT
        shape = member.shape
        if member.type == "list":
            items = [self.scalar(member, shape.member, v) for v in split_header_list(text)]
            return [item for item in items if item is not _ABSENT]
        if shape.serialization.get("jsonvalue"):
            try:
                return json.loads(base64.b64decode(text))
            except ValueError:
                self.problems.bad(member.wire, member.wire, "jsonvalue", text)
                return _ABSENT
        return self.scalar(member, shape, text)

    def header_map(self, member: Member) -> Any:
        prefix = member.wire.lower()
        out = {
            name[len(prefix) :]: value
            for name, value in self.request.headers.items()
            if name.startswith(prefix)
        }
        return out or _ABSENT


class _XmlReader:
    """Walks an XML element tree along a shape. Any problem makes the document MalformedXML."""

    def __init__(self) -> None:
        self.problems = Problems()

    def structure(self, shape: Shape, element: Element, path: str) -> dict[str, Any]:
        children: dict[str, list[Element]] = {}
        for child in element:
            children.setdefault(local_name(child.tag), []).append(child)
        out: dict[str, Any] = {}
        for member in members(shape):
            if member.location:
                continue
            if member.xml_attribute:
                value = self._attribute(element, member)
            else:
                # botocore names flattened list items by the list member when it writes
                # requests but by the item locationName when it reads: accept both.
                nodes = children.get(member.xml_key) or children.get(member.wire)
                value = _ABSENT if not nodes else self.value(member.shape, nodes, member.wire)
            if value is not _ABSENT:
                out[member.name] = value
            elif member.required:
                self.problems.missing(f"{path}/{member.xml_key}", member.xml_key, member.type)
        return out

    def _attribute(self, element: Element, member: Member) -> Any:
        wanted = member.wire.rpartition(":")[2]
        for key, value in element.attrib.items():
            if local_name(key).rpartition(":")[2] == wanted:
                return value
        return _ABSENT

    def value(self, shape: Shape, nodes: list[Element], name: str) -> Any:
        type_name = shape.type_name
        if type_name == "structure":
            return self.structure(shape, nodes[0], name)
        if type_name == "list":
            items = nodes if shape.serialization.get("flattened") else list(nodes[0])
            return [self.value(shape.member, [item], name) for item in items]
        if type_name == "map":
            return self._map(shape, nodes, name)
        text = nodes[0].text or ""
        try:
            return text_scalar(type_name, text)
        except ValueError:
            self.problems.bad(name, name, type_name, text)
            return None

    def _map(self, shape: Shape, nodes: list[Element], name: str) -> dict[Any, Any]:
        entries = nodes if shape.serialization.get("flattened") else list(nodes[0])
        key_name = location_name(shape.key, "key")
        value_name = location_name(shape.value, "value")
        out: dict[Any, Any] = {}
        for entry in entries:
            parts = {local_name(child.tag): child for child in entry}
            if key_name not in parts or value_name not in parts:
                self.problems.missing(name, name, "map")
                continue
            key = self.value(shape.key, [parts[key_name]], name)
            out[key] = self.value(shape.value, [parts[value_name]], name)
        return out


def _read_xml(shape: Shape, body: bytes, root_name: str | None = None) -> dict[str, Any]:
    """The document as `shape`; MalformedXML if its root element is not `root_name` (when
    given), as S3 refuses a body of the wrong document type rather than reading into it."""
    try:
        root = parse_xml(body)
    except XmlRejected as exc:
        raise malformed_xml() from exc
    if root_name is not None and local_name(root.tag) != root_name:
        raise malformed_xml()
    reader = _XmlReader()
    result = reader.structure(shape, root, local_name(root.tag))
    if reader.problems:
        raise malformed_xml()
    return result


def streams_payload(shape: Shape | None) -> bool:
    """The input's payload is a blob that may be read as it arrives (PutObject, UploadPart)."""
    if shape is None or "payload" not in shape.serialization:
        return False
    payload = shape.serialization["payload"]
    member = next((m for m in members(shape) if m.name == payload), None)
    return member is not None and member.type == "blob"


_STREAMING_METHODS: dict[int, tuple[ServiceModel, frozenset[str]]] = {}


def may_stream(service: ServiceModel, method: str) -> bool:
    """Whether some operation sent with this HTTP method streams its payload: when none does
    (every GET, HEAD, DELETE), the body is read whole without finding the operation first."""
    hit = _STREAMING_METHODS.get(id(service))
    if hit is None or hit[0] is not service:
        found = methods_streaming(service, lambda op: streams_payload(op.input_shape))
        hit = _STREAMING_METHODS[id(service)] = (service, found)
    return method.upper() in hit[1]


class RestXmlRequestParser(RequestParser):
    protocol = "rest-xml"

    def parse(self, request: HttpRequest, service: ServiceModel) -> ParsedRequest:
        found = match(request, service)
        operation = found.route.operation
        shape = operation.input_shape
        if shape is None:
            return ParsedRequest(operation, {})
        located = _Located(request, found)
        params = self._located_members(shape, located)
        if located.problems:
            raise _argument_error(located.problems.items[0])
        if request.stream is not None and streams_payload(shape):
            # An upload: the provider reads the (verified) body as it stores it.
            params[shape.serialization["payload"]] = request.stream
        else:
            params.update(self._body(shape, request.body))
        return ParsedRequest(operation, params)

    def _located_members(self, shape: Shape, located: _Located) -> dict[str, Any]:
        claimed = {m.wire for m in members(shape) if m.location == "querystring"}
        out: dict[str, Any] = {}
        for member in members(shape):
            location = member.location
            if location == "uri":
                value = located.uri(member)
            elif location == "querystring":
                value = located.querystring(member, claimed)
            elif location == "header":
                value = located.header(member)
            elif location == "headers":
                value = located.header_map(member)
            else:
                continue
            if value is not _ABSENT:
                out[member.name] = value
            elif member.required:
                located.problems.missing(member.wire, member.wire, member.type)
        return out

    def _body(self, shape: Shape, body: bytes) -> dict[str, Any]:
        payload = shape.serialization.get("payload")
        if payload is None:
            if any(not m.location for m in members(shape)) and body.strip():
                return _read_xml(shape, body)
            self._require_body(shape, body, None)
            return {}
        member = next(m for m in members(shape) if m.name == payload)
        if member.type == "blob":
            return {payload: body} if body else self._require_body(shape, body, member)
        if member.type == "string":
            return (
                {payload: self._text_payload(body)}
                if body
                else self._require_body(shape, body, member)
            )
        if not body.strip():
            return self._require_body(shape, body, member)
        return {payload: _read_xml(member.shape, body, member.wire)}

    def _text_payload(self, body: bytes) -> str:
        try:
            return body.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ServiceError(
                "InvalidArgument", "The request body is not valid UTF-8.", 400
            ) from exc

    def _require_body(self, shape: Shape, body: bytes, payload: Member | None) -> dict[str, Any]:
        """An empty body: fine unless the payload (or a body member) is required."""
        if payload is not None and payload.required:
            raise malformed_xml()
        if payload is None and any(m.required and not m.location for m in members(shape)):
            raise malformed_xml()
        return {}
