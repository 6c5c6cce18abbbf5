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
        # Every timestamp format's text is digits, letters, "-:.,+ ": nothing to escape.
        fmt = str(shape.serialization.get("timestampFormat", "iso8601")).lower()
        if fmt == "iso8601":
            return scalars.iso8601_text
        return lambda value: scalars.timestamp_text(value, fmt)
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
    # The member writer is compiled on first use, not here: botocore gives a recursive shape
    # a fresh member Shape at every level, so building eagerly would never end.
    compiled: list[Writer] = []

    def write(value: Mapping[str, Any], out: list[str]) -> None:
        if not compiled:
            compiled.append(_compile_members(shape, body_only))
        compiled[0](value, out)

    _MEMBERS[key] = (shape, write)
    return write


_CONTAINERS = frozenset({"structure", "list", "map"})


def _compile_members(shape: Shape, body_only: bool) -> Writer:
    """One function writing this structure's members, its scalars' tags inlined.

    Generated source rather than a loop over (member, writer) pairs: a scalar member then costs
    a dict lookup and one string concatenation instead of two Python calls, which is most of a
    1440-datapoint GetMetricStatistics or a large Describe answer. Only literals taken from the
    model (member names, tags, repr-quoted) enter the source.
    """
    lines = ["def write(value, out):", "    get = value.get", "    append = out.append"]
    env: dict[str, Any] = {}
    for i, m in enumerate(members(shape)):
        if m.xml_attribute or (body_only and m.location):
            continue
        lines.append(f"    v = get({m.name!r})")
        lines.append("    if v is not None:")
        if m.shape.type_name in _CONTAINERS:
            env[f"w{i}"] = element_writer(m.shape, m.xml_key)
            lines.append(f"        w{i}(v, out)")
        else:
            env[f"c{i}"] = _scalar_converter(m.shape)
            text = f"c{i}(v)"
            if m.shape.type_name in ("float", "double"):
                # A finite float's text is its repr (what float_text returns) without a call.
                text = f"(repr(v) if type(v) is float and v - v == 0.0 else {text})"
            tag = m.xml_key
            lines.append(f"        append({f'<{tag}>'!r} + {text} + {f'</{tag}>'!r})")
    if len(lines) == 3:
        lines.append("    return")
    exec("\n".join(lines), env)  # the source holds only the model's names, repr-quoted
    writer: Writer = env["write"]
    return writer


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
