"""The cloud properties' operations: euca-describe-properties and euca-modify-property."""

from __future__ import annotations

from mallee.api.context import RequestContext
from mallee.registry import properties
from mallee.services.base import Operations, Params, Result, Runtime
from mallee.services.empyrean import errors
from mallee.services.empyrean.params import required


def describe_properties(rt: Runtime, ctx: RequestContext, params: Params) -> Result:
    queries = [str(q) for q in params.get("Property") or []]
    return {
        "Properties": [
            {
                "Name": view.name,
                "Value": view.value,
                "Description": view.definition.description,
                "DefaultValue": view.definition.default,
            }
            for view in properties.describe(rt.store, queries)
        ]
    }


def modify_property_value(rt: Runtime, ctx: RequestContext, params: Params) -> Result:
    name = str(required(params, "Name"))
    value, reset = params.get("Value"), bool(params.get("Reset"))
    if reset and value is not None:
        raise errors.value_and_reset()
    if reset:
        old, new = properties.reset(rt.store, name)
    elif value is None:
        raise errors.missing("Value")
    else:
        old, new = properties.set_value(rt.store, name, str(value))
    return {"Name": name, "Value": new, "OldValue": old}


OPERATIONS: Operations = {
    "DescribeProperties": describe_properties,
    "ModifyPropertyValue": modify_property_value,
}
