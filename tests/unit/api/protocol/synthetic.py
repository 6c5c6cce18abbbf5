"""A small model per protocol holding every shape type, and Hypothesis values for any shape."""

from __future__ import annotations

import datetime as dt
import functools
from typing import Any

from botocore.model import ServiceModel, Shape
from hypothesis import strategies as st

NAMESPACE = "https://synthetic.mallee.example/doc/2024-01-01/"
SCALARS = {
    "Str": "string",
    "Int": "integer",
    "Lng": "long",
    "Flt": "float",
    "Dbl": "double",
    "Bool": "boolean",
    "Ts": "timestamp",
    "Blb": "blob",
}


def _shapes() -> dict[str, Any]:
    shapes: dict[str, Any] = {f"{name}Type": {"type": kind} for name, kind in SCALARS.items()}
    shapes["EpochTs"] = {"type": "timestamp", "timestampFormat": "unixTimestamp"}
    scalar_members = {name: {"shape": f"{name}Type"} for name in SCALARS}
    shapes["Scalars"] = {"type": "structure", "members": scalar_members}
    shapes["Nested"] = {
        "type": "structure",
        "required": ["Name"],
        "members": {
            "Name": {"shape": "StrType"},
            "Inner": {"shape": "Scalars"},
            "Items": {"shape": "ScalarsList"},
        },
    }
    shapes["StrList"] = {"type": "list", "member": {"shape": "StrType"}}
    shapes["IntList"] = {"type": "list", "member": {"shape": "IntType", "locationName": "item"}}
    shapes["ScalarsList"] = {"type": "list", "member": {"shape": "Scalars"}}
    shapes["NestedList"] = {"type": "list", "member": {"shape": "Nested"}}
    shapes["ListOfLists"] = {"type": "list", "member": {"shape": "StrList"}}
    shapes["FlatList"] = {
        "type": "list",
        "member": {"shape": "StrType", "locationName": "Item"},
        "flattened": True,
    }
    shapes["StrMap"] = {"type": "map", "key": {"shape": "StrType"}, "value": {"shape": "StrType"}}
    shapes["NamedMap"] = {
        "type": "map",
        "key": {"shape": "StrType", "locationName": "Name"},
        "value": {"shape": "DblType", "locationName": "Val"},
    }
    shapes["FlatMap"] = {
        "type": "map",
        "key": {"shape": "StrType"},
        "value": {"shape": "IntType"},
        "flattened": True,
    }
    shapes["NestedMap"] = {"type": "map", "key": {"shape": "StrType"}, "value": {"shape": "Nested"}}
    return shapes


def _body_members() -> dict[str, Any]:
    members: dict[str, Any] = {name: {"shape": f"{name}Type"} for name in SCALARS}
    members.update(
        {
            "Epoch": {"shape": "EpochTs"},
            "Renamed": {"shape": "StrType", "locationName": "renamedWire"},
            "Nested": {"shape": "Nested"},
            "StrList": {"shape": "StrList"},
            "IntList": {"shape": "IntList"},
            "NestedList": {"shape": "NestedList"},
            "ListOfLists": {"shape": "ListOfLists"},
            "FlatList": {"shape": "FlatList"},
            "StrMap": {"shape": "StrMap"},
            "NamedMap": {"shape": "NamedMap"},
            "FlatMap": {"shape": "FlatMap"},
            "NestedMap": {"shape": "NestedMap"},
        }
    )
    return members


def _rest_members() -> dict[str, Any]:
    return {
        "Id": {"shape": "StrType", "location": "uri", "locationName": "Id"},
        "Path": {"shape": "StrType", "location": "uri", "locationName": "Path"},
        "HInt": {"shape": "IntType", "location": "header", "locationName": "x-syn-int"},
        "HTs": {"shape": "TsType", "location": "header", "locationName": "x-syn-date"},
        "HBool": {"shape": "BoolType", "location": "header", "locationName": "x-syn-bool"},
        "HList": {"shape": "StrList", "location": "header", "locationName": "x-syn-list"},
        "Meta": {"shape": "StrMap", "location": "headers", "locationName": "x-syn-meta-"},
        "QLng": {"shape": "LngType", "location": "querystring", "locationName": "q-long"},
        "QTs": {"shape": "TsType", "location": "querystring", "locationName": "q-ts"},
        "QList": {"shape": "StrList", "location": "querystring", "locationName": "q-list"},
    }


@functools.cache
def model(protocol: str) -> ServiceModel:
    shapes = _shapes()
    request: dict[str, Any] = {"type": "structure", "required": ["Id"], "members": _body_members()}
    request["members"]["Id"] = {"shape": "StrType"}
    result: dict[str, Any] = {"type": "structure", "members": _body_members()}
    http = {"method": "POST", "requestUri": "/"}
    if protocol == "rest-xml":
        request["members"].update(_rest_members())
        request["required"] = ["Id", "Path"]
        request["locationName"] = "AllTypesRequest"
        request["xmlNamespace"] = {"uri": NAMESPACE}
        result["members"].update({k: v for k, v in _rest_members().items() if k.startswith("H")})
        result["members"]["Meta"] = _rest_members()["Meta"]
        http = {"method": "POST", "requestUri": "/things/{Id}/{Path+}?all-types"}
    shapes["AllTypesRequest"] = request
    shapes["AllTypesResponse"] = result
    shapes["NothingRequest"] = {"type": "structure", "members": {}}
    operations = {
        "AllTypes": {
            "name": "AllTypes",
            "http": http,
            "input": {"shape": "AllTypesRequest"},
            "output": {"shape": "AllTypesResponse", "resultWrapper": "AllTypesResult"},
        },
        "Nothing": {
            "name": "Nothing",
            "http": {"method": "DELETE", "requestUri": "/nothing"},
            "input": {"shape": "NothingRequest"},
        },
    }
    metadata = {
        "apiVersion": "2024-01-01",
        "endpointPrefix": "synthetic",
        "protocol": protocol,
        "protocols": [protocol],
        "serviceId": "Synthetic",
        "signatureVersion": "v4",
        "targetPrefix": "Synthetic_20240101",
        "jsonVersion": "1.1",
        "xmlNamespace": NAMESPACE,
        "uid": "synthetic-2024-01-01",
    }
    return ServiceModel(
        {"metadata": metadata, "operations": operations, "shapes": shapes},
        service_name="synthetic",
    )


# Text that survives every wire: XML 1.0 characters only (no controls except tab/newline/CR).
TEXT = st.text(
    st.one_of(
        st.characters(codec="utf-8", exclude_categories=("Cs", "Cc", "Cn")),
        st.sampled_from("\t\n\r &<>\"'"),
    ),
    max_size=12,
)
HEADER_TEXT = st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E), max_size=12)
MOMENTS = st.datetimes(
    min_value=dt.datetime(1970, 1, 2), max_value=dt.datetime(2200, 1, 1), timezones=st.just(dt.UTC)
)


class Values:
    """Hypothesis strategies for values of a shape, with the wire's limits as switches."""

    def __init__(
        self,
        *,
        nonempty: bool = False,
        nonempty_maps: bool = False,
        seconds_only: bool = False,
        no_cr: bool = False,
    ) -> None:
        # botocore writes a bare CR into request XML, which every XML parser reads back as LF.
        self.text = TEXT.map(lambda text: text.replace("\r", "")) if no_cr else TEXT
        # ec2 sends nothing for an empty list or map, query nothing for an empty map.
        self.min_size = 1 if nonempty else 0
        self.min_map_size = 1 if nonempty or nonempty_maps else 0
        self.seconds_only = seconds_only

    def for_shape(self, shape: Shape, depth: int = 0) -> st.SearchStrategy[Any]:
        kind = shape.type_name
        # An empty flattened list or map has no element of its own in XML: it cannot round-trip.
        flat = 1 if shape.serialization.get("flattened") else 0
        if kind == "structure":
            return self.structure(shape, depth)
        if kind == "list":
            inner = self.for_shape(shape.member, depth + 1)
            return st.lists(inner, min_size=max(self.min_size, flat), max_size=3)
        if kind == "map":
            inner = self.for_shape(shape.value, depth + 1)
            size = max(self.min_map_size, flat)
            return st.dictionaries(self.text, inner, min_size=size, max_size=3)
        return self.scalar(kind)

    def scalar(self, kind: str) -> st.SearchStrategy[Any]:
        moments = MOMENTS.map(lambda m: m.replace(microsecond=0)) if self.seconds_only else MOMENTS
        table: dict[str, st.SearchStrategy[Any]] = {
            "string": self.text,
            "integer": st.integers(-(2**31), 2**31 - 1),
            "long": st.integers(-(2**63), 2**63 - 1),
            "float": st.floats(width=32, allow_nan=False, allow_infinity=False),
            "double": st.floats(allow_nan=False, allow_infinity=False),
            "boolean": st.booleans(),
            "timestamp": moments,
            "blob": st.binary(max_size=16),
        }
        return table[kind]

    def structure(self, shape: Shape, depth: int) -> st.SearchStrategy[Any]:
        required = set(shape.required_members)
        fixed: dict[str, st.SearchStrategy[Any]] = {}
        optional: dict[str, st.SearchStrategy[Any]] = {}
        for name, member in shape.members.items():
            if member.serialization.get("location"):
                continue
            strategy = self.for_shape(member, depth + 1)
            (fixed if name in required else optional)[name] = strategy
        if not fixed and not optional:
            return st.just({})
        # A query/ec2 structure with no members set is not sent at all: keep one member set.
        if not fixed:
            first = next(iter(optional))
            fixed[first] = optional.pop(first)
        return st.fixed_dictionaries(fixed, optional=optional)
