"""Output XML built as strings along the shape (query, ec2 and rest-xml bodies share the rules).

String building beats an ElementTree round trip several times over and every text and
attribute value goes through the escapers, so the output is always well-formed.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from botocore.model import Shape

from mallee.api.protocol import scalars
from mallee.api.protocol.shapes import location_name, members
from mallee.api.protocol.xmlutil import escape_attr, escape_text


def namespace_attrs(serialization: Mapping[str, Any]) -> str:
    namespace = serialization.get("xmlNamespace")
    if isinstance(namespace, str):
        return f' xmlns="{escape_attr(namespace)}"'
    if isinstance(namespace, Mapping) and namespace.get("uri"):
        prefix = namespace.get("prefix")
        name = f"xmlns:{prefix}" if prefix else "xmlns"
        return f' {name}="{escape_attr(str(namespace["uri"]))}"'
    return ""


def _string(value: Any, shape: Shape) -> str:
    return escape_text(value if isinstance(value, str) else str(value))


def _timestamp(value: Any, shape: Shape) -> str:
    fmt = str(shape.serialization.get("timestampFormat", "iso8601")).lower()
    return escape_text(scalars.timestamp_text(value, fmt))


_TEXT: dict[str, Callable[[Any, Shape], str]] = {
    "string": _string,
    "character": _string,
    "integer": lambda value, shape: scalars.int_text(value),
    "long": lambda value, shape: scalars.int_text(value),
    "short": lambda value, shape: scalars.int_text(value),
    "byte": lambda value, shape: scalars.int_text(value),
    "float": lambda value, shape: scalars.float_text(value),
    "double": lambda value, shape: scalars.float_text(value),
    "boolean": lambda value, shape: scalars.bool_text(value),
    "timestamp": _timestamp,
    "blob": lambda value, shape: scalars.blob_text(value),
}


def scalar_text(shape: Shape, value: Any) -> str:
    """Escaped text of a scalar value."""
    return _TEXT[shape.type_name](value, shape)


def write_members(
    shape: Shape, value: Mapping[str, Any], out: list[str], body_only: bool = False
) -> None:
    """The child elements of a structure (its attributes are written by the caller)."""
    for member in members(shape):
        if member.xml_attribute or (body_only and member.location):
            continue
        item = value.get(member.name)
        if item is not None:
            write_element(member.shape, item, member.xml_key, out)


def attributes(shape: Shape, value: Mapping[str, Any]) -> str:
    parts = [namespace_attrs(shape.serialization)]
    for member in members(shape):
        if member.xml_attribute and value.get(member.name) is not None:
            text = escape_attr(str(value[member.name]))
            parts.append(f' {member.wire}="{text}"')
    return "".join(parts)


def write_element(shape: Shape, value: Any, name: str, out: list[str]) -> None:
    type_name = shape.type_name
    if type_name == "structure":
        out.append(f"<{name}{attributes(shape, value)}>")
        write_members(shape, value, out)
        out.append(f"</{name}>")
    elif type_name == "list":
        _write_list(shape, value, name, out)
    elif type_name == "map":
        _write_map(shape, value, name, out)
    else:
        out.append(f"<{name}>{scalar_text(shape, value)}</{name}>")


def _write_list(shape: Shape, value: Any, name: str, out: list[str]) -> None:
    item_shape = shape.member
    if shape.serialization.get("flattened"):
        for item in value:
            if item is not None:
                write_element(item_shape, item, name, out)
        return
    item_name = location_name(item_shape, "member")
    out.append(f"<{name}>")
    for item in value:
        if item is not None:
            write_element(item_shape, item, item_name, out)
    out.append(f"</{name}>")


def _write_map(shape: Shape, value: Mapping[Any, Any], name: str, out: list[str]) -> None:
    key_name = location_name(shape.key, "key")
    value_name = location_name(shape.value, "value")
    flattened = bool(shape.serialization.get("flattened"))
    if not flattened:
        out.append(f"<{name}>")
    entry = name if flattened else "entry"
    for key, item in value.items():
        out.append(f"<{entry}>")
        write_element(shape.key, key, key_name, out)
        if item is not None:
            write_element(shape.value, item, value_name, out)
        out.append(f"</{entry}>")
    if not flattened:
        out.append(f"</{name}>")
