"""Output XML built as strings along the shape (query, ec2 and rest-xml bodies share the rules).

Each (shape, element name) gets a writer function, built once and cached, with its tags and
member list precomputed: a 1000-instance DescribeInstances is ~50,000 elements, and walking the
botocore model for each of them cost more than the database read. Every text and attribute
value still goes through the escapers, so the output is always well-formed.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from botocore.model import Shape

from mallee.api.protocol import scalars
from mallee.api.protocol.frozen import Frozen
from mallee.api.protocol.shapes import location_name, members
from mallee.api.protocol.xmlutil import escape_attr, escape_text

Writer = Callable[[Any, list[str]], None]


def namespace_attrs(serialization: Mapping[str, Any]) -> str:
    namespace = serialization.get("xmlNamespace")
    if isinstance(namespace, str):
        return f' xmlns="{escape_attr(namespace)}"'
    if isinstance(namespace, Mapping) and namespace.get("uri"):
        prefix = namespace.get("prefix")
        name = f"xmlns:{prefix}" if prefix else "xmlns"
        return f' {name}="{escape_attr(str(namespace["uri"]))}"'
    return ""


def _text(value: Any) -> str:
    return escape_text(value if isinstance(value, str) else str(value))


def _scalar_converter(shape: Shape) -> Callable[[Any], str]:
    kind = shape.type_name
    if kind in ("string", "character"):
        return _text
    if kind in ("integer", "long", "short", "byte"):
        return scalars.int_text
    if kind in ("float", "double"):
        return scalars.float_text
    if kind == "boolean":
        return scalars.bool_text
    if kind == "timestamp":
        fmt = str(shape.serialization.get("timestampFormat", "iso8601")).lower()
        return lambda value: escape_text(scalars.timestamp_text(value, fmt))
    if kind == "blob":
        return scalars.blob_text
    raise TypeError(f"not a scalar shape: {kind}")


def scalar_text(shape: Shape, value: Any) -> str:
    """Escaped text of a scalar value."""
    return _scalar_converter(shape)(value)


def attributes(shape: Shape, value: Mapping[str, Any]) -> str:
    parts = [namespace_attrs(shape.serialization)]
    for member in members(shape):
        if member.xml_attribute and value.get(member.name) is not None:
            text = escape_attr(str(value[member.name]))
            parts.append(f' {member.wire}="{text}"')
    return "".join(parts)


# Keyed by id(shape); the shape is kept so its id cannot be reused while cached (see shapes.py).
_WRITERS: dict[tuple[int, str], tuple[Shape, Writer]] = {}
_MEMBERS: dict[tuple[int, bool], tuple[Shape, Writer]] = {}


def element_writer(shape: Shape, name: str) -> Writer:
    """The function that writes `value` as element `name` of this shape."""
    key = (id(shape), name)
    hit = _WRITERS.get(key)
    if hit is not None and hit[0] is shape:
        return hit[1]
    kind = shape.type_name
    if kind == "structure":
        writer = _structure(shape, name)
    elif kind == "list":
        writer = _list(shape, name)
    elif kind == "map":
        writer = _map(shape, name)
    else:
        writer = _scalar(shape, name)
    _WRITERS[key] = (shape, writer)
    return writer


def members_writer(shape: Shape, body_only: bool = False) -> Writer:
    """The function that writes a structure's child elements (not its own tag)."""
    key = (id(shape), body_only)
    hit = _MEMBERS.get(key)
    if hit is not None and hit[0] is shape:
        return hit[1]
    # Member writers are resolved on first use, not here: botocore gives a recursive shape a
    # fresh member Shape at every level, so building eagerly would never end.
    plan: list[tuple[str, Writer]] = []
    resolved = False

    def write(value: Mapping[str, Any], out: list[str]) -> None:
        nonlocal resolved
        if not resolved:
            plan.extend(
                (m.name, element_writer(m.shape, m.xml_key))
                for m in members(shape)
                if not (m.xml_attribute or (body_only and m.location))
            )
            resolved = True
        get = value.get
        for member_name, child in plan:
            item = get(member_name)
            if item is not None:
                child(item, out)

    _MEMBERS[key] = (shape, write)
    return write


def write_members(
    shape: Shape, value: Mapping[str, Any], out: list[str], body_only: bool = False
) -> None:
    """The child elements of a structure (its attributes are written by the caller)."""
    members_writer(shape, body_only)(value, out)


def write_element(shape: Shape, value: Any, name: str, out: list[str]) -> None:
    element_writer(shape, name)(value, out)


def _structure(shape: Shape, name: str) -> Writer:
    body = members_writer(shape)
    close = f"</{name}>"
    if any(m.xml_attribute for m in members(shape)):

        def write_with_attributes(value: Any, out: list[str]) -> None:
            out.append(f"<{name}{attributes(shape, value)}>")
            body(value, out)
            out.append(close)

        return write_with_attributes
    open_tag = f"<{name}{namespace_attrs(shape.serialization)}>"

    def write(value: Any, out: list[str]) -> None:
        if type(value) is Frozen:
            text = value.rendered.get(write)
            if text is None:
                part = [open_tag]
                body(value, part)
                part.append(close)
                text = value.rendered[write] = "".join(part)
            out.append(text)
            return
        out.append(open_tag)
        body(value, out)
        out.append(close)

    return write


def _list(shape: Shape, name: str) -> Writer:
    item_shape = shape.member
    if shape.serialization.get("flattened"):

        def write_flat(value: Any, out: list[str]) -> None:
            item = element_writer(item_shape, name)
            for entry in value:
                if entry is not None:
                    item(entry, out)

        return write_flat
    item_name = location_name(item_shape, "member")
    open_tag, close = f"<{name}>", f"</{name}>"

    def write(value: Any, out: list[str]) -> None:
        item = element_writer(item_shape, item_name)
        out.append(open_tag)
        for entry in value:
            if entry is not None:
                item(entry, out)
        out.append(close)

    return write


def _map(shape: Shape, name: str) -> Writer:
    key_name = location_name(shape.key, "key")
    value_name = location_name(shape.value, "value")
    flattened = bool(shape.serialization.get("flattened"))
    entry_open, entry_close = (f"<{name}>", f"</{name}>") if flattened else ("<entry>", "</entry>")

    def write(value: Mapping[Any, Any], out: list[str]) -> None:
        key_writer = element_writer(shape.key, key_name)
        value_writer = element_writer(shape.value, value_name)
        if not flattened:
            out.append(f"<{name}>")
        for key, item in value.items():
            out.append(entry_open)
            key_writer(key, out)
            if item is not None:
                value_writer(item, out)
            out.append(entry_close)
        if not flattened:
            out.append(f"</{name}>")

    return write


def _scalar(shape: Shape, name: str) -> Writer:
    convert = _scalar_converter(shape)
    open_tag, close = f"<{name}>", f"</{name}>"

    def write(value: Any, out: list[str]) -> None:
        out.append(open_tag + convert(value) + close)

    return write
