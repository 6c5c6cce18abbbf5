"""Per-shape facts the parsers and serializers need on every request, computed once.

botocore builds member Shape objects lazily and caches them on their parent, so a Shape instance
lives as long as its (cached) OperationModel. The plans here are keyed by the instance id and keep
a reference to the instance, so an id can never be reused for another shape while cached.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from botocore.model import ServiceModel, Shape


@dataclass(frozen=True, slots=True)
class Member:
    """One structure member with everything the wire layer asks about it."""

    name: str
    # The name as AWS validation messages write it ('userName').
    camel: str
    shape: Shape
    type: str
    # locationName if the model gives one, else the member name (query, json, xml bodies).
    wire: str
    # ec2 input name: queryName, else capitalised locationName, else the member name.
    ec2_wire: str
    # Name of this member's element in an XML structure (flattened lists use the item name).
    xml_key: str
    location: str
    required: bool
    flattened: bool
    xml_attribute: bool
    timestamp_format: str


def _cap(name: str) -> str:
    return name[:1].upper() + name[1:]


def _xml_key(name: str, shape: Shape, wire: str) -> str:
    if shape.type_name == "list" and shape.serialization.get("flattened"):
        item_name = shape.member.serialization.get("name")
        if item_name:
            return str(item_name)
    return wire


def _build_member(name: str, shape: Shape, required: bool) -> Member:
    ser = shape.serialization
    location_name = ser.get("name")
    wire = location_name or name
    if "queryName" in ser:
        ec2_wire = ser["queryName"]
    elif location_name:
        ec2_wire = _cap(location_name)
    else:
        ec2_wire = name
    return Member(
        name=name,
        camel=lower_camel(name),
        shape=shape,
        type=shape.type_name,
        wire=wire,
        ec2_wire=ec2_wire,
        xml_key=_xml_key(name, shape, wire),
        location=ser.get("location", ""),
        required=required,
        flattened=bool(ser.get("flattened")),
        xml_attribute=bool(ser.get("xmlAttribute")),
        timestamp_format=str(ser.get("timestampFormat", "")).lower(),
    )


_PLANS: dict[int, tuple[Shape, tuple[Member, ...]]] = {}


def members(shape: Shape) -> tuple[Member, ...]:
    """The members of a structure shape, in model order."""
    hit = _PLANS.get(id(shape))
    if hit is not None and hit[0] is shape:
        return hit[1]
    required = set(shape.required_members)
    plan = tuple(
        _build_member(name, member_shape, name in required)
        for name, member_shape in shape.members.items()
    )
    _PLANS[id(shape)] = (shape, plan)
    return plan


def is_document(shape: Shape) -> bool:
    return bool(getattr(shape, "is_document_type", False))


def location_name(shape: Shape, default: str) -> str:
    return str(shape.serialization.get("name", default))


_NAMESPACES: dict[int, tuple[ServiceModel, str]] = {}


def service_namespace(service: ServiceModel) -> str:
    """The service's XML namespace: metadata first, else the one its input shapes declare.

    S3's model carries no metadata namespace but puts it on every XML input payload.
    """
    hit = _NAMESPACES.get(id(service))
    if hit is not None and hit[0] is service:
        return hit[1]
    namespace = _namespace_uri(service.metadata.get("xmlNamespace"))
    if not namespace:
        namespace = _input_namespace(service)
    _NAMESPACES[id(service)] = (service, namespace)
    return namespace


def _input_namespace(service: ServiceModel) -> str:
    for name in service.operation_names:
        shape = service.operation_model(name).input_shape
        if shape is None:
            continue
        candidates = [shape.serialization, *(m.serialization for m in shape.members.values())]
        for serialization in candidates:
            uri = _namespace_uri(serialization.get("xmlNamespace"))
            if uri:
                return uri
    return ""


def _namespace_uri(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, dict):
        return str(value.get("uri", ""))
    return ""


def lower_camel(name: str) -> str:
    """AWS validation messages name members in lowerCamelCase ('userName')."""
    return name[:1].lower() + name[1:]
